/**
 * Runs a Tidemark service as a real child process (`bin/tidemark.js service <name>`, from the compiled
 * dist/), waits until it is ready, and can kill -9 and restart it.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { GiveUp, eventually } from './eventually';
import { freePort } from './free-port';
import { natsClient } from './jetstream-read';
import { ServerHandle, killWithTests, startNats } from './servers';
import { serviceArgv } from '../../apps/cli/src/services';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'tidemark.js');

export interface ServiceProcess {
  name: string;
  env: Record<string, string>;
  output(): string;
  start(): Promise<void>;
  /** SIGKILL, no goodbye. */
  kill(): Promise<void>;
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<void>;
  exitCode(): number | null;
  /** True once the process has ended (by itself or a signal). */
  exited(): boolean;
}

export function serviceProcess(name: string, env: Record<string, string>, readyUrl: string): ServiceProcess {
  let child: ChildProcess | undefined;
  let out = '';
  const waitExit = (c: ChildProcess) =>
    new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve())));
  const sp: ServiceProcess = {
    name,
    env,
    output: () => out,
    exitCode: () => child?.exitCode ?? null,
    exited: () => child !== undefined && (child.exitCode !== null || child.signalCode !== null),
    async start() {
      const c = spawn(process.execPath, serviceArgv(BIN, name), {
        env: { ...process.env, LOG_LEVEL: 'warn', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = c;
      c.stdout!.on('data', (d) => (out += d));
      c.stderr!.on('data', (d) => (out += d));
      killWithTests(c);
      await eventually(
        async () => {
          if (c.exitCode !== null || c.signalCode !== null) throw new GiveUp(`${name} exited with ${c.exitCode ?? c.signalCode}:\n${out}`);
          const r = await fetch(readyUrl);
          if (r.status !== 200) throw new Error(`${name} not ready: ${r.status} ${await r.text()}`);
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
    },
    async kill() {
      if (!child) return;
      child.kill('SIGKILL');
      await waitExit(child);
    },
    async stop() {
      if (!child) return;
      child.kill('SIGTERM');
      await waitExit(child);
    },
  };
  return sp;
}

export interface IngestionStack {
  nats: ServerHandle;
  ingestion: ServiceProcess;
  nc: NatsConnection;
  /** `http://127.0.0.1:<port>` */
  url: string;
  tcpPort: number;
  stop(): Promise<void>;
}

/** A real nats-server and the ingestion service on free ports, plus a NATS client to read the streams. */
export async function startIngestionStack(env: Record<string, string> = {}): Promise<IngestionStack> {
  const nats = await startNats();
  const [httpPort, tcpPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${httpPort}`;
  const ingestion = serviceProcess('ingestion', { NATS_URL: nats.url, INGESTION_PORT: String(httpPort), INGESTION_TCP_PORT: String(tcpPort), ...env }, `${url}/health/ready`);
  await ingestion.start();
  const nc = await natsClient(nats.url);
  return {
    nats,
    ingestion,
    nc,
    url,
    tcpPort,
    stop: async () => {
      await nc.close();
      await ingestion.stop();
      await nats.dispose();
    },
  };
}
