/**
 * Two aggregation instances splitting the partitions (OWNED_PARTITIONS 0-1 and 2-3) give the same results as
 * the brute-force reference — the same as one instance, which test/pipeline.e2e-spec.ts checks. One of the two
 * fires windows at a time (a lease in Redis); the partitions' watermarks meet in Redis.
 */
import type { TidemarkEvent, WindowResultDto } from '@tidemark/contracts';
import { ShopSimulator } from '@tidemark/simulator';
import { eventually } from './support/eventually';
import { freePort } from './support/free-port';
import { computeReference, expectResultsMatch, expectSessionsAndJoinsMatch, heartbeats } from './support/reference';
import { ServerHandle, startNats, startRedis } from './support/servers';
import { ServiceProcess, serviceProcess } from './support/service-process';

jest.setTimeout(180_000);

const PARTITIONS = 4;
const BOUND = 5_000;
const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);

let nats: ServerHandle;
let redis: ServerHandle;
let services: ServiceProcess[] = [];
let httpUrl: string;
let aggUrls: string[];

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  const common = {
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    PARTITIONS: String(PARTITIONS),
    MAX_OUT_OF_ORDERNESS_MS: String(BOUND),
    IDLE_TIMEOUT_MS: '3600000',
    WATERMARK_IDLE_ADVANCE: 'off',
    FIRE_INTERVAL_MS: '50',
  };
  const [http, tcp, dedupPort, a1, a2] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  httpUrl = `http://127.0.0.1:${http}`;
  aggUrls = [`http://127.0.0.1:${a1}`, `http://127.0.0.1:${a2}`];
  services = [
    serviceProcess('ingestion', { ...common, INGESTION_PORT: String(http), INGESTION_TCP_PORT: String(tcp) }, `${httpUrl}/health/ready`),
    serviceProcess('dedup', { ...common, DEDUP_PORT: String(dedupPort) }, `http://127.0.0.1:${dedupPort}/health/ready`),
    serviceProcess('aggregation', { ...common, AGGREGATION_PORT: String(a1), OWNED_PARTITIONS: '0-1' }, `${aggUrls[0]}/health/ready`),
    serviceProcess('aggregation', { ...common, AGGREGATION_PORT: String(a2), OWNED_PARTITIONS: '2-3' }, `${aggUrls[1]}/health/ready`),
  ];
  await Promise.all(services.map((s) => s.start()));
});

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()));
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

async function send(events: TidemarkEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 500) {
    const res = await fetch(`${httpUrl}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: events.slice(i, i + 500).map((e) => JSON.stringify(e)).join('\n'),
    });
    expect(res.status).toBe(202);
  }
}

it('two instances splitting the partitions count exactly like the reference, and answer the same queries', async () => {
  const sim = new ShopSimulator({ seed: 23, sessionsPerSecond: 3, products: 40, users: 200 });
  sim.incidents = { disorderRate: 0.2, disorderMs: 3000 };
  const events: TidemarkEvent[] = [];
  for (let t = T0; t < T0 + 8 * 60_000; t += 100) events.push(...sim.tick(t));
  await send(events);
  const h = T0 + 2 * 3_600_000;
  const hb = heartbeats(h, 'x', PARTITIONS);
  await send(hb);
  for (const url of aggUrls) {
    await eventually(async () => expect(((await (await fetch(`${url}/v1/watermark`)).json()) as { watermark: number }).watermark).toBe(h - BOUND), {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
  }
  const reference = computeReference([...events, ...hb], () => true);
  const fetchFrom = (url: string) => async (metric: string) => (await (await fetch(`${url}/v1/metrics/${metric}?limit=10000`)).json()) as WindowResultDto[];
  // Both instances read the same Redis: either answers every query.
  await expectResultsMatch(fetchFrom(aggUrls[0]), reference, h - BOUND);
  await expectResultsMatch(fetchFrom(aggUrls[1]), reference, h - BOUND);
  await expectSessionsAndJoinsMatch(fetchFrom(aggUrls[1]), [...events, ...hb], h - BOUND);
});
