/**
 * A stopping pod is not held up by its live streams nor by slow clients (docs/operations.md "Shutdown, readiness
 * first"): with an SSE stream open on the alerting service and on the dashboard, SIGTERM ends the stream and the
 * process exits within seconds, not at the supervisor's SIGKILL; a request still arriving gets the grace
 * (HTTP_CLOSE_GRACE_MS) to finish, then every connection still open is cut, however long the HTTP timeouts.
 */
import * as net from 'node:net';
import { once } from 'node:events';
import { HTTP_CLOSE_GRACE_MS } from '@tidemark/runtime';
import { ShopSimulator } from '@tidemark/simulator';
import { ServerHandle, startNats, startRedis } from './support/servers';
import { Stack, startStack } from './support/stack';

jest.setTimeout(60_000);

let nats: ServerHandle;
let redis: ServerHandle;
let stack: Stack;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  // HTTP timeouts far beyond the test's wait: only the grace can cut the slow requests in time
  stack = await startStack({ NATS_URL: nats.url, REDIS_URL: redis.url, PARTITIONS: '2', DASHBOARD_REFRESH_MS: '200', HTTP_REQUEST_TIMEOUT_MS: '120000', HTTP_CONNECTION_TIMEOUT_MS: '120000' }, ['alerting', 'dashboard', 'ingestion']);
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

/** A raw HTTP/1.1 connection to a service: what it received so far, and a promise of its close. */
async function connection(base: string): Promise<{ socket: net.Socket; received: () => string; closed: Promise<'closed'> }> {
  const { hostname, port } = new URL(base);
  const socket = net.connect(Number(port), hostname);
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<'closed'>((resolve) => socket.once('close', () => resolve('closed')));
  await once(socket, 'connect');
  return { socket, received: () => text, closed };
}

it('ingestion: SIGTERM gives a request in flight the grace to finish, then cuts a body that never ends and a response not read; exits within the grace + 2 s', async () => {
  const service = stack.byName.ingestion!;
  const body = JSON.stringify(new ShopSimulator({ seed: 5 }).tick(Date.UTC(2026, 10, 3, 9)).slice(0, 3));
  expect(body.length).toBeGreaterThan(100);
  const head = (length: number) => `POST /v1/events HTTP/1.1\r\nhost: tidemark\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n`;
  // finishes its body 1 s into the stop: answered
  const finishing = await connection(stack.url.ingestion);
  finishing.socket.write(head(body.length) + body.slice(0, 50));
  // never finishes its body (the server would wait HTTP_REQUEST_TIMEOUT_MS for it)
  const trickling = await connection(stack.url.ingestion);
  trickling.socket.write(head(body.length) + body.slice(0, 50));
  // asks for the API docs' 1.4 MB script and reads none of it
  const stalled = await connection(stack.url.ingestion);
  stalled.socket.pause();
  stalled.socket.write('GET /docs/swagger-ui-bundle.js HTTP/1.1\r\nhost: tidemark\r\n\r\n');
  await new Promise((r) => setTimeout(r, 300)); // the server has all three

  const started = Date.now();
  const exited = service.stop(); // SIGTERM, resolves at exit
  await new Promise((r) => setTimeout(r, 1000));
  finishing.socket.write(body.slice(50));
  expect(await within(HTTP_CLOSE_GRACE_MS + 2000, trickling.closed)).toBe('closed');
  expect(await within(2000, exited.then(() => 'exited'))).toBe('exited');
  const took = Date.now() - started;
  expect(took).toBeGreaterThanOrEqual(HTTP_CLOSE_GRACE_MS - 200); // the grace was given
  expect(took).toBeLessThan(HTTP_CLOSE_GRACE_MS + 2000);
  expect(finishing.received()).toMatch(/^HTTP\/1\.1 202 /);
  expect(trickling.received()).toBe('');
  // a paused socket reports its close only once read
  stalled.socket.resume();
  expect(await within(2000, stalled.closed)).toBe('closed');
  expect(service.exited()).toBe(true);
});
