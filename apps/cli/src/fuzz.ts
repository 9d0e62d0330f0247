/**
 * `tidemark fuzz`: hostile inputs (libs/simulator/src/fuzz.ts) against a running system, for N seconds. Every
 * answer must be a 2xx or 4xx (NATS: a status below 500), every request answered in time, and every service
 * ready afterwards; anything else is reported as broken (exit 1). See README "Limits".
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { FuzzInput, HostileInputs } from '@tidemark/simulator';
import { UsageError } from './usage';

export const FUZZ_USAGE = `Usage: tidemark fuzz --seconds N [options]
  Sends hostile input (malformed bodies, headers, query strings, TCP byte streams, NATS requests, alert rules
  and silences, adversarial ids) mixed with valid events to a running system, and prints what was tried per
  endpoint, the answers by status class, and what broke (a 5xx, a timeout, a service not ready afterwards).
  It writes events, and creates alert rules and silences (removed again at the end): not for production.
  --seconds N           how long to send (required)
  --seed S              random seed (default 1)
  --url URL             ingestion base URL (default http://127.0.0.1:$INGESTION_PORT)
  --aggregation-url URL default http://127.0.0.1:$AGGREGATION_PORT
  --recommendation-url URL  default http://127.0.0.1:$RECOMMENDATION_PORT
  --alerting-url URL    default http://127.0.0.1:$ALERTING_PORT
  --tcp HOST:PORT       TCP ingest (default 127.0.0.1:$INGESTION_TCP_PORT)
  --nats URL            NATS for the request-reply APIs (default $NATS_URL)
API keys: TIDEMARK_API_KEY (or the first ingest key of API_KEYS) is sent with every request.
Exit codes: 0 nothing broke, 1 something broke, 2 usage error.`;

export interface FuzzTargets {
  ingestion: string;
  aggregation: string;
  recommendation: string;
  alerting: string;
  tcp: { host: string; port: number };
  nats: string;
  /** Extra NATS connection options (credentials, TLS). */
  natsOptions?: Record<string, unknown>;
  apiKey?: string;
}

export interface EndpointTally {
  tried: number;
  '2xx': number;
  '4xx': number;
  '5xx': number;
  timeouts: number;
  errors: number;
}

export interface FuzzReport {
  seed: number;
  inputs: number;
  perEndpoint: Record<string, EndpointTally>;
  /** What broke, one line each (the first few of a kind). */
  broken: string[];
  /** Ids of valid events some answer accepted (stored once, as a duplicate or not). */
  accepted: Set<string>;
  /** The endpoint that first accepted each of them (for reports of a loss). */
  acceptedVia: Map<string, string>;
  refusedVia: Map<string, string>;
  /** Ids of valid events only ever refused (a 4xx, or their record rejected): never stored. */
  refused: Set<string>;
  /** Ids of valid events with an unknown outcome (timeouts, lost connections). */
  unknown: Set<string>;
  /** Services that were not ready afterwards. */
  notReady: string[];
}

const TIMEOUT_MS = 15_000;

export interface RunFuzzOptions {
  seed: number;
  seconds: number;
  /** Prefix of valid events' ids (default: one per run). */
  runId?: string;
  /** Parallel senders (default 4). */
  concurrency?: number;
}

export async function runFuzz(targets: FuzzTargets, options: RunFuzzOptions): Promise<FuzzReport> {
  const gen = new HostileInputs({ seed: options.seed, runId: options.runId ?? `fz${options.seed}-${Date.now().toString(36)}` });
  const report: FuzzReport = { seed: options.seed, inputs: 0, perEndpoint: {}, broken: [], accepted: new Set(), acceptedVia: new Map(), refusedVia: new Map(), refused: new Set(), unknown: new Set(), notReady: [] };
  const refusedOnce = new Set<string>();
  const created = { rules: new Set<string>(), silences: new Set<string>() };
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers: targets.nats.split(','), noAsyncTraces: true, timeout: 5000, ...targets.natsOptions });
  } catch (e) {
    report.broken.push(`NATS at ${targets.nats}: cannot connect (${(e as Error).message}); NATS inputs skipped`);
  }
  const tally = (endpoint: string) => (report.perEndpoint[endpoint] ??= { tried: 0, '2xx': 0, '4xx': 0, '5xx': 0, timeouts: 0, errors: 0 });
  const brokenKinds = new Map<string, number>();
  const broke = (kind: string, text: string) => {
    const n = (brokenKinds.get(kind) ?? 0) + 1;
    brokenKinds.set(kind, n);
    if (n <= 5) report.broken.push(text.slice(0, 400));
  };
  const deadline = Date.now() + options.seconds * 1000;

  const sendOne = async (input: FuzzInput) => {
    const t = tally(input.endpoint);
    t.tried++;
    const outcome = await send(input, targets, nc).catch((e: Error) => ({ kind: 'error' as const, detail: e.message }));
    const ids = input.valid.map((v) => v.id);
    for (const id of input.unsure ?? []) report.unknown.add(id);
    if (outcome.kind === 'status') {
      const s = outcome.status;
      if (s >= 500) {
        t['5xx']++;
        broke(`${input.endpoint} ${s}`, `${input.endpoint}: ${s} ${outcome.detail ?? ''} for ${describe(input)}`);
      } else if (s >= 400) t['4xx']++;
      else t['2xx']++;
      for (const id of outcome.accepted ?? []) {
        report.accepted.add(id);
        if (!report.acceptedVia.has(id)) report.acceptedVia.set(id, `${input.endpoint} ${s}`);
      }
      if (s >= 400 && s < 500) ids.forEach((id) => refusedOnce.add(id) && !report.refusedVia.has(id) && report.refusedVia.set(id, `${input.endpoint} ${s}`));
      else if (!outcome.accepted) ids.forEach((id) => report.unknown.add(id));
      else ids.filter((id) => !outcome.accepted!.has(id)).forEach((id) => refusedOnce.add(id) && !report.refusedVia.has(id) && report.refusedVia.set(id, `${input.endpoint} ${s}, record rejected`));
      if (outcome.createdRule) created.rules.add(outcome.createdRule);
      if (outcome.createdSilence) created.silences.add(outcome.createdSilence);
    } else {
      ids.forEach((id) => report.unknown.add(id));
      if (outcome.kind === 'timeout') t.timeouts++;
      else t.errors++;
      broke(`${input.endpoint} ${outcome.kind}`, `${input.endpoint}: ${outcome.kind} (${outcome.detail}) for ${describe(input)}`);
    }
  };

  const worker = async () => {
    while (Date.now() < deadline) {
      const input = gen.next(Date.now());
      if (input.target === 'nats' && !nc) continue;
      report.inputs++;
      await sendOne(input);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));

  // Leave no fuzz rules or silences behind.
  for (const id of created.rules) await httpRequest(`${targets.alerting}/v1/alert-rules/${encodeURIComponent(id)}`, 'DELETE', auth(targets)).catch(() => undefined);
  for (const id of created.silences) await httpRequest(`${targets.alerting}/v1/silences/${encodeURIComponent(id)}`, 'DELETE', auth(targets)).catch(() => undefined);
  await nc?.close().catch(() => undefined);

  for (const [name, base] of Object.entries({ ingestion: targets.ingestion, aggregation: targets.aggregation, recommendation: targets.recommendation, alerting: targets.alerting })) {
    const r = await httpRequest(`${base}/health/ready`, 'GET', {}).catch(() => undefined);
    if (r?.status !== 200) {
      report.notReady.push(name);
      report.broken.push(`${name} not ready afterwards (${r ? r.status : 'no answer'} at ${base}/health/ready)`);
    }
  }
  for (const id of refusedOnce) if (!report.accepted.has(id) && !report.unknown.has(id)) report.refused.add(id);
  for (const id of report.accepted) report.unknown.delete(id);
  for (const [kind, n] of brokenKinds) if (n > 5) report.broken.push(`… and ${n - 5} more of "${kind}"`);
  return report;
}

/** The table `tidemark fuzz` prints. */
export function formatReport(report: FuzzReport): string {
  const rows = Object.entries(report.perEndpoint).sort(([a], [b]) => a.localeCompare(b));
  const head = ['endpoint', 'tried', '2xx', '4xx', '5xx', 'timeouts', 'errors'];
  const body = rows.map(([e, t]) => [e, t.tried, t['2xx'], t['4xx'], t['5xx'], t.timeouts, t.errors].map(String));
  const total = rows.reduce((s, [, t]) => s + t.tried, 0);
  body.push(['total', String(total), ...(['2xx', '4xx', '5xx', 'timeouts', 'errors'] as const).map((k) => String(rows.reduce((s, [, t]) => s + t[k], 0)))]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const out = [`tidemark fuzz: seed ${report.seed}, ${report.inputs} inputs, ${report.accepted.size} valid events accepted`, line(head), ...body.map(line)];
  out.push(report.broken.length === 0 ? 'broken: nothing' : `broken:\n${report.broken.map((b) => `  - ${b}`).join('\n')}`);
  return out.join('\n');
}

// ---- sending -------------------------------------------------------------------------------------------------

type Outcome =
  | { kind: 'status'; status: number; detail?: string; accepted?: Set<string>; createdRule?: string; createdSilence?: string }
  | { kind: 'timeout' | 'error'; detail: string };

const auth = (t: FuzzTargets): Record<string, string> => (t.apiKey ? { authorization: `Bearer ${t.apiKey}` } : {});

function headerBytes(input: FuzzInput): number {
  return Object.entries(input.headers ?? {}).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
}

function describe(input: FuzzInput): string {
  const payload = input.body ?? input.data ?? (input.chunks ? Buffer.concat(input.chunks) : undefined);
  const text = payload ? Buffer.from(payload).toString('utf8') : '';
  const h = headerBytes(input);
  return `${input.method ?? ''} ${input.path ?? input.subject ?? ''}${h > 0 ? ` (headers ${h} bytes)` : ''} ${JSON.stringify(text.slice(0, 160))}${text.length > 160 ? `… (${text.length} chars)` : ''}`.trim();
}

/**
 * One request on a connection of its own (no keep-alive pool: a connection the server closed after refusing the
 * previous request could otherwise be picked for the next one). A response that arrived counts even when the
 * server closed the connection while the body was still being written (an early 413 or 431).
 */
function httpRequest(url: string, method: string, headers: Record<string, string>, body?: Uint8Array): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let status: number | undefined;
    const chunks: Buffer[] = [];
    const done = (e?: Error) => {
      clearTimeout(timer);
      if (status !== undefined) resolve({ status, text: Buffer.concat(chunks).toString('utf8') });
      else reject(e ?? new Error('no response'));
    };
    const send = body && method !== 'GET' && method !== 'HEAD' ? body : undefined;
    const req = (url.startsWith('https:') ? https : http).request(url, { method, headers: { ...headers, ...(send ? { 'content-length': String(send.length) } : {}) }, agent: false }, (res) => {
      status = res.statusCode;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done());
      res.on('error', (e) => done(e));
    });
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${TIMEOUT_MS} ms`), { name: 'TimeoutError' })), TIMEOUT_MS);
    req.on('error', (e) => done(e));
    req.end(send);
  });
}

/** Ids accepted by an ingest reply `{accepted, duplicates, rejected: [{index}]}`: every valid one not rejected. */
function acceptedOf(input: FuzzInput, body: unknown): Set<string> {
  const rejected = new Set(((body as { rejected?: { index?: number }[] } | undefined)?.rejected ?? []).map((r) => r.index));
  return new Set(input.valid.filter((v) => !rejected.has(v.at)).map((v) => v.id));
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function send(input: FuzzInput, t: FuzzTargets, nc: NatsConnection | undefined): Promise<Outcome> {
  try {
    if (input.target === 'tcp') return await sendTcp(input, t);
    if (input.target === 'nats') return await sendNats(input, t, nc!);
    const base = t[input.target as 'ingestion' | 'aggregation' | 'recommendation' | 'alerting'];
    const { status, text } = await httpRequest(`${base}${input.path}`, input.method!, { ...input.headers, ...auth(t) }, input.body);
    const body = parse(text);
    const out: Outcome = { kind: 'status', status, detail: status >= 500 ? text.slice(0, 200) : undefined };
    if (status === 202 && input.target === 'ingestion') out.accepted = acceptedOf(input, body);
    if (status === 201 && input.path?.startsWith('/v1/alert-rules')) out.createdRule = (body as { id?: string } | undefined)?.id;
    if (status === 201 && input.path?.startsWith('/v1/silences')) out.createdSilence = (body as { id?: string } | undefined)?.id;
    return out;
  } catch (e) {
    const err = e as Error & { code?: string };
    // Headers over Node's limit (16 KiB) are answered 431 and the connection closed at once; while the request is
    // still being written the client may see only the reset: a refusal, not a failure.
    if (headerBytes(input) > 16 * 1024 && /ECONNRESET|EPIPE/.test(`${err.code} ${err.message}`)) return { kind: 'status', status: 431 };
    if (err.name === 'TimeoutError') return { kind: 'timeout', detail: err.message };
    return { kind: 'error', detail: `${err.code ?? ''} ${err.message}`.trim() };
  }
}

async function sendNats(input: FuzzInput, t: FuzzTargets, nc: NatsConnection): Promise<Outcome> {
  // NATS itself refuses a payload over the server's max_payload (the client does not send it): a 413 of sorts.
  const max = nc.info?.max_payload ?? Infinity;
  if ((input.data?.length ?? 0) > max) return { kind: 'status', status: 413 };
  const h = natsHeaders();
  for (const [k, v] of Object.entries(input.headers ?? {})) h.set(k, v);
  if (t.apiKey) h.set('Authorization', `Bearer ${t.apiKey}`);
  const reply = await nc.request(input.subject!, input.data, { timeout: TIMEOUT_MS, headers: h });
  const text = Buffer.from(reply.data).toString('utf8');
  const body = parse(text) as { status?: number; error?: string; body?: unknown } | undefined;
  if (body === undefined || typeof body !== 'object' || body === null) return { kind: 'status', status: 500, detail: `reply is not a JSON object: ${text.slice(0, 200)}` };
  // tidemark.alerts.list answers {alerts} or {error, errors} without a status.
  const status = typeof body.status === 'number' ? body.status : body.error === undefined ? 200 : /internal/i.test(body.error) ? 500 : 400;
  const out: Outcome = { kind: 'status', status, detail: status >= 500 ? text.slice(0, 200) : undefined };
  if (status === 202 && input.subject === 'tidemark.ingest') out.accepted = acceptedOf(input, body.body);
  if (status === 201 && input.subject === 'tidemark.alerts.rules') out.createdRule = (body.body as { id?: string } | undefined)?.id;
  return out;
}

function sendTcp(input: FuzzInput, t: FuzzTargets): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: t.tcp.host, port: t.tcp.port, allowHalfOpen: true });
    const offset = t.apiKey ? 1 : 0; // the AUTH line comes first
    let text = '';
    let settled = false;
    const finish = (o: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout', detail: `no end of replies within ${TIMEOUT_MS} ms` }), TIMEOUT_MS);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', (e) => finish({ kind: 'error', detail: e.message }));
    socket.on('end', () => {
      const replies = text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => parse(l) as { line?: number; status?: string; error?: string } | undefined);
      const byLine = new Map(replies.map((r) => [r?.line, r?.status]));
      const unavailable = replies.find((r) => r?.status === 'unavailable' || r === undefined);
      if (unavailable !== undefined || replies.some((r) => r === undefined)) return finish({ kind: 'status', status: 503, detail: `reply ${JSON.stringify(unavailable)} in ${text.slice(0, 200)}` });
      const refusedAll = replies.length === 1 && replies[0]?.error !== undefined && replies[0]?.line === undefined;
      const accepted = new Set(input.valid.filter((v) => ['accepted', 'duplicate'].includes(byLine.get(v.at + offset) ?? '')).map((v) => v.id));
      finish({ kind: 'status', status: refusedAll ? 400 : 200, accepted });
    });
    socket.on('connect', async () => {
      if (t.apiKey) socket.write(`AUTH ${t.apiKey}\n`);
      for (const c of input.chunks ?? []) {
        if (socket.destroyed) return;
        if (!socket.write(c)) await new Promise((r) => socket.once('drain', r));
      }
      socket.end();
    });
  });
}

// ---- the command ---------------------------------------------------------------------------------------------

export interface FuzzDefaults extends FuzzTargets {}

export async function fuzzCommand(args: string[], defaults: FuzzDefaults): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      seconds: { type: 'string' },
      seed: { type: 'string', default: '1' },
      url: { type: 'string', default: defaults.ingestion },
      'aggregation-url': { type: 'string', default: defaults.aggregation },
      'recommendation-url': { type: 'string', default: defaults.recommendation },
      'alerting-url': { type: 'string', default: defaults.alerting },
      tcp: { type: 'string', default: `${defaults.tcp.host}:${defaults.tcp.port}` },
      nats: { type: 'string', default: defaults.nats },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(FUZZ_USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected "${positionals.join(' ')}"`);
  if (values.seconds === undefined) throw new UsageError('--seconds N is required');
  const seconds = Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 86_400) throw new UsageError(`--seconds must be a number above 0 and at most 86400, not "${values.seconds}"`);
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32) throw new UsageError(`--seed must be an integer from 0 to 2^32, not "${values.seed}"`);
  const tcp = /^(.+):(\d{1,5})$/.exec(values.tcp!);
  if (!tcp) throw new UsageError(`--tcp must be HOST:PORT, not "${values.tcp}"`);
  const strip = (u: string) => u.replace(/\/$/, '');
  const targets: FuzzTargets = {
    ...defaults,
    ingestion: strip(values.url!),
    aggregation: strip(values['aggregation-url']!),
    recommendation: strip(values['recommendation-url']!),
    alerting: strip(values['alerting-url']!),
    tcp: { host: tcp[1], port: Number(tcp[2]) },
    nats: values.nats!,
  };
  console.log(`tidemark fuzz: ${seconds} s, seed ${seed}, against ${targets.ingestion}, tcp ${values.tcp}, ${targets.nats}`);
  const report = await runFuzz(targets, { seed, seconds });
  console.log(formatReport(report));
  return report.broken.length === 0 ? 0 : 1;
}
