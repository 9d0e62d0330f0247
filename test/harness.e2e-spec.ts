/** Proves the test harness: real nats-server and redis-server on free ports, restart keeping data, cleanup. */
import * as fs from 'node:fs';
import Redis from 'ioredis';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { eventually, waitForQuiescence } from './support/eventually';
import { freePort } from './support/free-port';
import { NatsServerHandle, RedisServerHandle, startNats, startNatsCluster, startRedis, startServers } from './support/servers';

jest.setTimeout(30_000);

describe('test harness', () => {
  let nats: NatsServerHandle;
  let redis: RedisServerHandle;

  beforeAll(async () => {
    [nats, redis] = await Promise.all([startNats({ monitor: true }), startRedis({ persistence: true })]);
  });

  afterAll(async () => {
    await Promise.all([nats?.dispose(), redis?.dispose()]);
  });

  it('uses free loopback ports and fresh folders, never the machine defaults', async () => {
    expect(nats.url).toBe(`nats://127.0.0.1:${nats.port}`);
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect([4222, 6379]).not.toContain(nats.port);
    expect([4222, 6379]).not.toContain(redis.port);
    expect(nats.dir).not.toBe(redis.dir);
    expect(fs.existsSync(nats.dir)).toBe(true);
    expect(nats.running && redis.running).toBe(true);
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const varz = (await (await fetch(`${nats.monitorUrl}/varz`)).json()) as { jetstream: { config: { store_dir: string } } };
    expect(varz.jetstream.config.store_dir).toContain(nats.dir);
  });

  it('publishes to JetStream, keeps it across a NATS restart, and a consumer drains it', async () => {
    let nc = await connect({ servers: nats.url, noAsyncTraces: true });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'HARNESS', subjects: ['harness.>'] });
    const ack = await jetstream(nc).publish('harness.a', Buffer.from('hello'));
    expect(ack.seq).toBe(1);
    await nc.close();

    await nats.restart();
    expect(nats.running).toBe(true);

    nc = await connect({ servers: nats.url, noAsyncTraces: true });
    const jsm2 = await jetstreamManager(nc);
    expect((await jsm2.streams.info('HARNESS')).state.messages).toBe(1);
    const m = await jsm2.streams.getMessage('HARNESS', { seq: 1 });
    expect(Buffer.from(m!.data).toString()).toBe('hello');

    await jsm2.consumers.add('HARNESS', { durable_name: 'h', ack_policy: 'explicit' as never });
    const consumer = await jetstream(nc).consumers.get('HARNESS', 'h');
    const got = await consumer.next({ expires: 5000 });
    expect(got?.seq).toBe(1);
    got!.ack();
    const info = await waitForQuiescence(nc, 'HARNESS', 'h');
    expect(info.ack_floor.stream_seq).toBe(1);
    await nc.close();
  });

  it('SET/GET on Redis, and with persistence the data survives kill -9 and restart', async () => {
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    await client.set('k', 'v');
    expect(await client.get('k')).toBe('v');
    client.disconnect();

    await redis.kill();
    expect(redis.running).toBe(false);
    await redis.start();

    const again = new Redis(redis.url, { lazyConnect: true });
    await again.connect();
    expect(await again.get('k')).toBe('v');
    again.disconnect();
  });

  it('stop() makes the server unreachable; dispose() removes its folder', async () => {
    const both = await startServers();
    const { nats: n, redis: r } = both;
    await n.stop();
    await expect(connect({ servers: n.url, reconnect: false, timeout: 500 })).rejects.toThrow();
    await both.dispose();
    expect(fs.existsSync(n.dir)).toBe(false);
    expect(fs.existsSync(r.dir)).toBe(false);
  });

  it('startNatsCluster: 3 routed nats-servers on free loopback ports, R3 streams, kill -9 and start again, dispose removes everything', async () => {
    const cluster = await startNatsCluster();
    try {
      const ports = cluster.nodes.flatMap((n) => [n.port, n.clusterPort, n.monitorPort]);
      expect(new Set(ports).size).toBe(9);
      expect(ports).not.toContain(4222);
      expect(cluster.urls).toBe(cluster.nodes.map((n) => `nats://127.0.0.1:${n.port}`).join(','));
      for (const n of cluster.nodes) {
        const varz = (await (await fetch(`${n.monitorUrl}/varz`)).json()) as { server_name: string; cluster: { name: string; addr: string }; jetstream: { config: { store_dir: string } } };
        expect(varz.server_name).toBe(n.name);
        expect(varz.cluster).toMatchObject({ name: 'tidemark', addr: '127.0.0.1' });
        expect(varz.jetstream.config.store_dir).toContain(cluster.dir);
      }
      const nc = await connect({ servers: cluster.urls.split(','), noAsyncTraces: true });
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: 'H3', subjects: ['h3.>'], num_replicas: 3 });
      await jetstream(nc).publish('h3.a', 'one');
      const leader = (await cluster.streamLeader('H3'))!;
      const pid = leader.pid;
      await leader.kill();
      expect(leader.running).toBe(false);
      // Two of three keep a quorum: a new leader, writes go on.
      await eventually(async () => expect((await cluster.streamLeader('H3'))?.name).not.toBe(leader.name), { timeoutMs: 20_000 });
      await eventually(() => jetstream(nc).publish('h3.a', 'two'), { timeoutMs: 20_000 });
      await leader.start();
      expect(leader.pid).not.toBe(pid);
      await eventually(async () => expect((await jsm.streams.info('H3')).state.messages).toBe(2));
      await nc.close();
    } finally {
      await cluster.dispose();
    }
    expect(fs.existsSync(cluster.dir)).toBe(false);
    for (const n of cluster.nodes) await expect(connect({ servers: n.url, reconnect: false, timeout: 500 })).rejects.toThrow();
  });

  it('eventually retries until the assertion passes and rethrows the last error', async () => {
    let n = 0;
    await expect(eventually(() => ++n, { timeoutMs: 1000 })).resolves.toBe(1);
    let tries = 0;
    const value = await eventually(
      () => {
        tries++;
        expect(tries).toBeGreaterThanOrEqual(3);
        return 'done';
      },
      { intervalMs: 1 },
    );
    expect(value).toBe('done');
    await expect(
      eventually(
        () => {
          throw new Error('never');
        },
        { timeoutMs: 100, intervalMs: 10 },
      ),
    ).rejects.toThrow(/still failing after 100 ms.*never/);
  });
});
