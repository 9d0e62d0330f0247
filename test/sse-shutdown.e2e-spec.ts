/**
 * A stopping pod is not held up by its live streams (docs/operations.md): with an SSE stream open on the
 * alerting service and on the dashboard, SIGTERM ends the stream and the process exits within seconds, not
 * at the supervisor's SIGKILL.
 */
import { ServerHandle, startNats, startRedis } from './support/servers';
import { Stack, startStack } from './support/stack';

jest.setTimeout(60_000);

let nats: ServerHandle;
let redis: ServerHandle;
let stack: Stack;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  stack = await startStack({ NATS_URL: nats.url, REDIS_URL: redis.url, PARTITIONS: '2', DASHBOARD_REFRESH_MS: '200' }, ['alerting', 'dashboard']);
});

afterAll(async () => {
  await stack?.stop();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

/** Opens a stream and resolves once its first bytes came; `ended` resolves when the server ends it. */
async function open(url: string): Promise<{ ended: Promise<'ended'> }> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const reader = res.body!.getReader();
  expect((await reader.read()).done).toBe(false);
  const ended = (async () => {
    for (;;) {
      const r = await reader.read().catch(() => ({ done: true }));
      if (r.done) return 'ended' as const;
    }
  })();
  return { ended };
}

const within = <T>(ms: number, p: Promise<T>) => Promise.race([p, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref())]);

it.each([
  ['alerting', '/v1/alerts/stream'],
  ['dashboard', '/v1/stream'],
] as const)('%s: SIGTERM ends an open SSE stream and the process exits within 5 s', async (name, path) => {
  const service = stack.byName[name]!;
  const streams = await Promise.all([open(`${stack.url[name]}${path}`), open(`${stack.url[name]}${path}`)]);
  const started = Date.now();
  const exited = service.stop(); // SIGTERM, resolves at exit
  expect(await within(5000, Promise.all(streams.map((s) => s.ended)))).toEqual(['ended', 'ended']);
  expect(await within(5000, exited.then(() => 'exited'))).toBe('exited');
  expect(Date.now() - started).toBeLessThan(5000);
  expect(service.exited()).toBe(true);
});
