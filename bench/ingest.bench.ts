/**
 * `tidemark bench ingest`: events/s into ingestion over HTTP (NDJSON batches) and TCP, beside the raw
 * JetStream publish ceiling measured in the same run on the same private nats-server: core publish into
 * the stream with a reply inbox and `Nats-Msg-Id`, acks counted by hand (as measured in docs/platform.md, "Throughput of the building blocks").
 * Goal: ingestion >= 0.8 x the ceiling.
 */
import * as net from 'node:net';
import { connectNats } from '@tidemark/jetstream';
import { ceiling, payloads } from './jetstream/publish.bench';
import { fmt, freePort, rate, sampleEvent, startBenchServers, startService, stopChild } from './support';
import { BENCH_NODE_ARGS, benchCli } from './usage';

/** Events sent over HTTP, untimed, before the figures. */
const WARMUP = 20_000;

const CLI = benchCli({
  what: 'ingest',
  options: {
    events: { type: 'string', default: '200000', value: 'N', help: 'events timed over HTTP, then over TCP, and published for the ceiling' },
    batch: { type: 'string', default: '1000', value: 'N', help: 'events per HTTP request, NDJSON' },
    concurrency: { type: 'string', default: '4', value: 'N', help: 'HTTP requests in flight' },
  },
  env: [BENCH_NODE_ARGS],
  about: `Ingestion's events/s over HTTP NDJSON (after ${fmt(WARMUP)} events to warm up) and over TCP (one connection,
pipelined), beside the raw JetStream publish ceiling (core publish + reply inbox + Nats-Msg-Id) measured in the
same run; goal: ratio >= 0.80. Starts its own nats-server and redis-server on free ports (nothing else is touched).`,
});

/** The raw JetStream publish ceiling, measured by bench/jetstream on the same server. */
async function publishCeiling(natsUrl: string, count: number, runId: string): Promise<number> {
  const conn = await connectNats({ servers: natsUrl, name: 'bench-ceiling' });
  try {
    return Math.round(await ceiling(conn, payloads(count, runId), runId));
  } finally {
    await conn.drain();
  }
}

async function viaHttp(url: string, count: number, batch: number, concurrency: number, runId: string): Promise<number> {
  const now = Date.now();
  const bodies: string[] = [];
  for (let i = 0; i < count; i += batch) {
    const lines: string[] = [];
    for (let j = i; j < Math.min(count, i + batch); j++) lines.push(JSON.stringify(sampleEvent(j, now, runId)));
    bodies.push(lines.join('\n'));
  }
  let next = 0;
  let accepted = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++];
        const res = await fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
        const r = (await res.json()) as { accepted: number };
        if (res.status !== 202) throw new Error(`HTTP ${res.status}: ${JSON.stringify(r)}`);
        accepted += r.accepted;
      }
    }),
  );
  const ms = performance.now() - t0;
  if (accepted !== count) throw new Error(`HTTP: ${accepted} accepted of ${count}`);
  return rate(count, ms);
}

async function viaTcp(port: number, count: number, runId: string): Promise<number> {
  const now = Date.now();
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  let replies = 0;
  let accepted = 0;
  let tail = '';
  const done = new Promise<void>((resolve) => {
    socket.on('data', (d: Buffer) => {
      const text = tail + d.toString();
      const lines = text.split('\n');
      tail = lines.pop() ?? '';
      for (const l of lines) {
        replies++;
        if (l.includes('"accepted"')) accepted++;
      }
      if (replies >= count) resolve();
    });
  });
  const t0 = performance.now();
  const chunk = 500;
  for (let i = 0; i < count; i += chunk) {
    let s = '';
    for (let j = i; j < Math.min(count, i + chunk); j++) s += JSON.stringify(sampleEvent(j, now, runId)) + '\n';
    if (!socket.write(s)) await new Promise((r) => socket.once('drain', r));
  }
  await done;
  const ms = performance.now() - t0;
  socket.end();
  if (accepted !== count) throw new Error(`TCP: ${accepted} accepted of ${count}`);
  return rate(count, ms);
}

export async function main(args: string[]): Promise<number> {
  const values = CLI.parse(args);
  if (!values) return 0; // --help
  const count = Number(values.events);
  const servers = await startBenchServers();
  const httpPort = await freePort();
  const tcpPort = await freePort();
  const ingestion = await startService(
    'ingestion',
    { NATS_URL: servers.natsUrl, REDIS_URL: servers.redisUrl, INGESTION_PORT: String(httpPort), INGESTION_TCP_PORT: String(tcpPort) },
    `http://127.0.0.1:${httpPort}/health/ready`,
  );
  try {
    const run = Date.now().toString(36);
    // warm-up
    await viaHttp(`http://127.0.0.1:${httpPort}`, WARMUP, Number(values.batch), Number(values.concurrency), `${run}-warm`);
    const ceil = await publishCeiling(servers.natsUrl, count, `${run}c`);
    const http = await viaHttp(`http://127.0.0.1:${httpPort}`, count, Number(values.batch), Number(values.concurrency), `${run}-h`);
    const tcp = await viaTcp(tcpPort, count, `${run}-t`);
    console.log(`tidemark bench ingest: ${fmt(count)} events of ~250 bytes, nats-server and ingestion on this machine`);
    console.log(`  JetStream publish ceiling (core publish + reply inbox + Nats-Msg-Id): ${fmt(ceil)} events/s`);
    console.log(`  ingestion HTTP NDJSON (batches of ${values.batch}, ${values.concurrency} in flight):  ${fmt(http)} events/s  ratio ${(http / ceil).toFixed(2)}`);
    console.log(`  ingestion TCP NDJSON (one connection, pipelined):            ${fmt(tcp)} events/s  ratio ${(tcp / ceil).toFixed(2)}`);
    console.log(`  goal: ratio >= 0.80`);
  } finally {
    await stopChild(ingestion);
    await servers.stop();
  }
  return 0;
}
