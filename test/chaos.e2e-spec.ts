/**
 * The cluster end to end (docs/scale-out.md "Chaos"): `tidemark chaos` runs the whole pipeline on 3 real
 * nats-servers (R3 streams) and a real 6-node Redis Cluster, two instances of every service taking partitions
 * by group leases, under steady traffic, while it kills -9 service instances, nats-servers and Redis masters
 * and restarts them, or freezes one (SIGSTOP) past its lease and resumes it — a paused service instance wakes
 * as a zombie whose writes the fencing tokens refuse (partitions move between the instances, streams elect
 * new leaders, replicas are promoted);
 * then every window of the reference metrics must equal the brute-force reference. `tidemark chaos --seconds
 * 600` is the long run (docs/benchmarks.md "Chaos").
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

jest.setTimeout(420_000);

const BIN = path.resolve(__dirname, '..', 'bin', 'tidemark.js');

it('kills and pauses service instances, nats-servers and Redis masters under load: nothing lost, nothing doubled, every window exact', async () => {
  let output = '';
  const child = spawn(process.execPath, [BIN, 'chaos', '--seconds', '75', '--rate', '200', '--fault-every', '4', '--seed', '1', '--faults', 'service,nats,redis,pause'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'warn' } });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  const figure = (name: string) => Number(new RegExp(`^\\s+${name}\\s+(\\d+)`, 'm').exec(output)?.[1] ?? NaN);
  const faults = /faults\s+(\d+) \(service (\d+), nats (\d+), redis (\d+), pause (\d+)\)/.exec(output);
  try {
    expect(code).toBe(0);
    expect(output).toContain('exact — nothing lost, nothing doubled');
    expect(figure('lost')).toBe(0);
    expect(figure('doubled')).toBe(0);
    expect(figure('events sent')).toBeGreaterThan(5000);
    expect(figure('events counted')).toBe(figure('events sent'));
    expect(Number(/windows compared\s+(\d+), differing from the reference: 0/.exec(output)?.[1])).toBeGreaterThan(500);
    // faults of every kind
    expect(faults).not.toBeNull();
    const [total, service, nats, redis, pause] = faults!.slice(1).map(Number);
    expect(total).toBeGreaterThanOrEqual(6);
    expect({ service: service > 0, nats: nats > 0, redis: redis > 0, pause: pause > 0 }).toEqual({ service: true, nats: true, redis: true, pause: true });
  } catch (e) {
    console.log(output);
    throw e;
  }
});
