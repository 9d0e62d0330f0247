/**
 * `tidemark simulate`: realistic shop traffic into ingestion (HTTP NDJSON), in real time, deterministic with
 * --seed. Incidents: --payment-outage, --traffic-drop, --fraud, --duplicates, --disorder, --late.
 */
import { parseArgs } from 'node:util';
import { Incidents, ShopSimulator } from '@tidemark/simulator';
import { UsageError } from './usage';

export const SIMULATE_USAGE = `Usage: tidemark simulate [options]
  --url URL             ingestion base URL (default http://127.0.0.1:$INGESTION_PORT)
  --sessions N          new sessions per second (default 20)
  --duration S          stop after S seconds (default: run until stopped)
  --seed N              random seed (default 1)
  --payment-outage      60 % of payments fail
  --traffic-drop        sessions arrive at 20 % of the rate
  --fraud USER          USER places an order every tick
  --duplicates P        share of events sent twice (e.g. 0.1)
  --disorder P          share of events moved back up to 3 s
  --late P              share of events moved back 2 minutes
  --quiet               no progress line`;

export async function simulate(args: string[], defaultUrl: string, apiKey?: string): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string', default: defaultUrl },
      sessions: { type: 'string', default: '20' },
      duration: { type: 'string' },
      seed: { type: 'string', default: '1' },
      'payment-outage': { type: 'boolean', default: false },
      'traffic-drop': { type: 'boolean', default: false },
      fraud: { type: 'string' },
      duplicates: { type: 'string', default: '0' },
      disorder: { type: 'string', default: '0' },
      late: { type: 'string', default: '0' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(SIMULATE_USAGE);
    return 0;
  }
  const num = (name: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number from ${min} to ${max}, not "${v}"`);
    return n;
  };
  const sim = new ShopSimulator({ seed: num('seed', values.seed, 0, 2 ** 32), sessionsPerSecond: num('sessions', values.sessions, 0, 100_000) });
  const incidents: Incidents = {
    duplicateRate: num('duplicates', values.duplicates, 0, 1),
    disorderRate: num('disorder', values.disorder, 0, 1),
    lateRate: num('late', values.late, 0, 1),
  };
  if (values['payment-outage']) incidents.paymentFailureRate = 0.6;
  if (values['traffic-drop']) incidents.trafficFactor = 0.2;
  if (values.fraud) incidents.fraudUserId = values.fraud;
  sim.incidents = incidents;
  const durationMs = values.duration === undefined ? Infinity : num('duration', values.duration, 0, 1e9) * 1000;
  const url = `${values.url!.replace(/\/$/, '')}/v1/events`;

  let stop = false;
  process.once('SIGINT', () => (stop = true));
  process.once('SIGTERM', () => (stop = true));
  const started = Date.now();
  const totals = { sent: 0, accepted: 0, duplicates: 0, rejected: 0, failed: 0 };
  let lastPrint = 0;
  while (!stop && Date.now() - started < durationMs) {
    const tickStart = Date.now();
    const events = sim.tick(tickStart);
    if (events.length > 0) {
      try {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) }, body: events.map((e) => JSON.stringify(e)).join('\n') });
        const r = (await res.json()) as { accepted?: number; duplicates?: number; rejected?: unknown[] };
        totals.sent += events.length;
        if (res.status === 202 || res.status === 400) {
          totals.accepted += r.accepted ?? 0;
          totals.duplicates += r.duplicates ?? 0;
          totals.rejected += r.rejected?.length ?? 0;
        } else totals.failed += events.length;
      } catch {
        totals.failed += events.length; // ingestion not up yet, or restarting: keep going
      }
    }
    if (!values.quiet && Date.now() - lastPrint >= 1000) {
      lastPrint = Date.now();
      const secs = (Date.now() - started) / 1000;
      process.stdout.write(
        `simulate: ${secs.toFixed(0)} s, ${(totals.sent / Math.max(secs, 1)).toFixed(0)} events/s, sent ${totals.sent}, accepted ${totals.accepted}, duplicates ${totals.duplicates}, rejected ${totals.rejected}, failed ${totals.failed}\n`,
      );
    }
    const wait = 100 - (Date.now() - tickStart);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  return 0;
}
