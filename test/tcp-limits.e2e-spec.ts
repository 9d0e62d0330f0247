/**
 * TCP NDJSON ingest against hostile or careless clients (docs/settings.md "Limits"): half-close, a client that never
 * reads its replies, idle connections, connection caps in total and per peer address.
 */
import * as net from 'node:net';
import { streams } from '@tidemark/contracts';
import { eventually } from './support/eventually';
import { streamEventCount } from './support/jetstream-read';
import { IngestionStack, startIngestionStack } from './support/service-process';

jest.setTimeout(90_000);

const NOW = Date.now();
let seq = 0;
const ev = () => ({ id: `tcp-${process.pid}-${++seq}`, type: 'page_view', ts: NOW - 1000, userId: 'u1', sessionId: `s-${seq % 5}` });

let stack: IngestionStack;

beforeAll(async () => {
  stack = await startIngestionStack({
    INGESTION_TCP_MAX_CONNECTIONS: '4',
    INGESTION_TCP_MAX_CONNECTIONS_PER_PEER: '2',
    INGESTION_TCP_IDLE_TIMEOUT_MS: '1500',
    INGESTION_TCP_MAX_REPLY_BUFFER_BYTES: String(64 * 1024),
  });
});

afterAll(async () => {
  await stack?.stop();
});

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${stack.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name + '{') || line.startsWith(name + ' ')) sum += Number(line.split(' ').pop());
  return sum;
}

function connect(localAddress?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: stack.tcpPort, allowHalfOpen: true, ...(localAddress ? { localAddress } : {}) }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Everything the server sends until it ends its side of the connection. */
function readAll(s: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    s.on('data', (d) => (text += d));
    s.on('end', () => resolve(text));
    s.on('close', () => resolve(text));
  });
}

describe('half-close', () => {
  it('a client that sends its lines then shuts down its sending side gets every reply line, then the end', async () => {
    for (let round = 0; round < 3; round++) {
      const events = Array.from({ length: 31 }, ev);
      const s = await connect();
      const all = readAll(s);
      s.end(events.map((e) => JSON.stringify(e)).join('\n') + '\n'); // FIN after the data: shutdown(SHUT_WR)
      const lines = (await all).split('\n').filter(Boolean).map((l) => JSON.parse(l));
      expect(lines).toEqual(events.map((_, i) => ({ line: i + 1, status: 'accepted' })));
    }
  });

  it('answers a last line with no newline before the end', async () => {
    const s = await connect();
    const all = readAll(s);
    s.end(JSON.stringify(ev()));
    expect((await all).trim()).toBe('{"line":1,"status":"accepted"}');
  });
});

describe('a client that never reads its replies', () => {
  it('is no longer read once its unsent replies pass the cap, and is closed by the idle timeout', async () => {
    const before = await metric('tidemark_ingest_events_total');
    const s = await connect();
    s.pause(); // never read
    let closed = false;
    s.on('close', () => (closed = true));
    s.on('error', () => undefined);
    // 4 MiB of "{}" lines: each gets a rejection line ~20× its size (about 90 MiB of replies in all).
    const chunk = Buffer.from('{}\n'.repeat(64 * 1024));
    const lines = 64 * 1024 * 64;
    for (let i = 0; i < 64; i++) s.write(chunk);
    await eventually(() => expect(closed).toBe(true), { timeoutMs: 60_000 });
    expect(await metric('tidemark_tcp_backpressure_total')).toBeGreaterThanOrEqual(1);
    expect(await metric('tidemark_tcp_idle_closed_total')).toBeGreaterThanOrEqual(1);
    // It read at most what the kernel buffers hold in replies, far from all of it.
    const read = (await metric('tidemark_ingest_events_total')) - before;
    expect(read).toBeLessThan(lines / 2);
    // And it still serves others.
    const t = await connect();
    const all = readAll(t);
    t.end(JSON.stringify(ev()) + '\n');
    expect((await all).trim()).toBe('{"line":1,"status":"accepted"}');
  });
});

describe('idle timeout', () => {
  it('closes a connection that sends nothing', async () => {
    const s = await connect();
    const all = readAll(s);
    expect(await all).toBe('');
  });
});

describe('connection caps', () => {
  it('refuses a third connection from one address and a fifth in total, with an error line, and admits again after a close', async () => {
    const a1 = await connect('127.0.0.1');
    const a2 = await connect('127.0.0.1');
    const a3 = await connect('127.0.0.1');
    expect(JSON.parse(await readAll(a3))).toEqual({ error: 'too many connections from 127.0.0.1 (limit 2); try again later' });
    const b1 = await connect('127.0.0.2');
    const c1 = await connect('127.0.0.3');
    const d1 = await connect('127.0.0.4');
    expect(JSON.parse(await readAll(d1))).toEqual({ error: 'too many connections (limit 4); try again later' });
    // The admitted ones still work.
    const reply = readAll(b1);
    b1.end(JSON.stringify(ev()) + '\n');
    expect((await reply).trim()).toBe('{"line":1,"status":"accepted"}');
    // b1 closed: a new peer is admitted.
    await eventually(async () => {
      const e1 = await connect('127.0.0.5');
      const r = readAll(e1);
      e1.end(JSON.stringify(ev()) + '\n');
      expect((await r).trim()).toBe('{"line":1,"status":"accepted"}');
    });
    for (const s of [a1, a2, c1]) s.destroy();
    expect(await streamEventCount(stack.nc, streams.raw.name)).toBeGreaterThan(0);
  });
});
