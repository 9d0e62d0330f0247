/**
 * `tidemark replay <file>`: a log of real events into ingestion (HTTP NDJSON), paced by event time at
 * `--speed` (e.g. 60x, max), with a progress bar. Formats: NDJSON of Tidemark events, and the REES46 CSV.
 * Bad rows are reported with their line numbers and skipped; a batch ingestion cannot store now (503,
 * connection refused) is retried until it is stored, so nothing else is lost.
 */
import * as fs from 'node:fs';
import * as readline from 'node:readline';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse';
import { SAMPLES, displayPath, mapRees46, parseSpeed, dueAt, progressBar } from '@tidemark/simulator';
import { UsageError } from './usage';

export const REPLAY_USAGE = `Usage: tidemark replay <file> [options]
  <file>         NDJSON of Tidemark events or a REES46 CSV; a real REES46 sample is in the repository:
                 ${displayPath(SAMPLES.rees46)}
  --format F     ndjson | rees46 (default: rees46 for .csv, else ndjson)
  --speed S      1x, 60x, ... or max (default max)
  --batch N      events per request (default 500)
  --url URL      ingestion base URL (default http://127.0.0.1:$INGESTION_PORT)
  --quiet        no progress bar (there is none when stderr is not a terminal: pipes, CI logs)`;

interface Row {
  line: number;
  /** Bytes of the file read so far (for progress). */
  bytes: number;
  value?: Record<string, unknown>;
  error?: string;
}

async function* ndjsonRows(file: string): AsyncGenerator<Row> {
  const stream = fs.createReadStream(file);
  const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line++;
    if (text.trim() === '') continue;
    try {
      yield { line, bytes: stream.bytesRead, value: JSON.parse(text) };
    } catch (e) {
      yield { line, bytes: stream.bytesRead, error: `not JSON: ${(e as Error).message}` };
    }
  }
}

async function* rees46Rows(file: string): AsyncGenerator<Row> {
  const stream = fs.createReadStream(file);
  const parser = stream.pipe(parse({ from_line: 2, relax_column_count: true, relax_quotes: true, info: true, skip_empty_lines: true }));
  for await (const rec of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    const mapped = mapRees46(rec.record);
    const line = rec.info.lines;
    yield mapped.ok ? { line, bytes: stream.bytesRead, value: mapped.event as unknown as Record<string, unknown> } : { line, bytes: stream.bytesRead, error: mapped.error };
  }
}

export async function replay(args: string[], defaultUrl: string, apiKey?: string): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      speed: { type: 'string', default: 'max' },
      batch: { type: 'string', default: '500' },
      url: { type: 'string', default: defaultUrl },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const file = positionals[0];
  if (values.help || !file) {
    console.log(REPLAY_USAGE);
    return values.help ? 0 : 2;
  }
  const format = values.format ?? (file.endsWith('.csv') ? 'rees46' : 'ndjson');
  if (format !== 'ndjson' && format !== 'rees46') throw new UsageError(`--format must be ndjson or rees46, not "${format}"`);
  let speed: number;
  try {
    speed = parseSpeed(values.speed!);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const batchSize = Number(values.batch);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError(`--batch must be a whole number >= 1`);
  // The bar redraws one line with \r: only on a terminal, never in pipes or CI logs.
  const bar = !values.quiet && process.stderr.isTTY === true;
  if (!fs.existsSync(file)) throw new Error(`no such file: ${file}`);
  const url = `${values.url!.replace(/\/$/, '')}/v1/events`;
  const total = fs.statSync(file).size;

  const totals = { rows: 0, sent: 0, accepted: 0, duplicates: 0, rejected: 0, bad: 0 };
  const started = Date.now();
  let firstTs: number | undefined;
  let batch: Row[] = [];
  let lastBytes = 0;
  let lastDraw = 0;
  const draw = (force = false) => {
    if (!bar || (!force && Date.now() - lastDraw < 200)) return;
    lastDraw = Date.now();
    const secs = Math.max(0.001, (Date.now() - started) / 1000);
    process.stderr.write(`\r${progressBar(lastBytes, total)} ${totals.sent} events, ${Math.round(totals.sent / secs)}/s, ${totals.bad + totals.rejected} bad`);
  };
  const report = (line: number, error: string) => {
    process.stderr.write(`${bar ? '\r\x1b[K' : ''}line ${line}: ${error}\n`);
  };

  const flush = async () => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    const body = rows.map((r) => JSON.stringify(r.value)).join('\n');
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) }, body });
        const reply = (await res.json()) as { accepted?: number; duplicates?: number; rejected?: { index: number; error: string }[]; error?: string };
        if (res.status === 202 || res.status === 400) {
          totals.sent += rows.length;
          totals.accepted += reply.accepted ?? 0;
          totals.duplicates += reply.duplicates ?? 0;
          for (const r of reply.rejected ?? []) {
            totals.rejected++;
            report(rows[r.index].line, r.error);
          }
          return;
        }
        if (res.status !== 503) throw new Error(`ingestion answered ${res.status}: ${reply.error ?? ''}`);
      } catch (e) {
        if (!(e instanceof TypeError) && !(e as Error).message.startsWith('fetch failed')) throw e;
      }
      // 503 or not reachable: the batch was not stored; wait and send it again (repeats come back as duplicates).
      await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)));
    }
  };

  const rows = format === 'rees46' ? rees46Rows(file) : ndjsonRows(file);
  for await (const row of rows) {
    totals.rows++;
    lastBytes = row.bytes;
    if (row.error) {
      totals.bad++;
      report(row.line, row.error);
      continue;
    }
    const ts = typeof row.value!.ts === 'number' ? row.value!.ts : Date.parse(String(row.value!.ts));
    if (Number.isFinite(ts) && speed !== Infinity) {
      firstTs ??= ts;
      const wait = dueAt(ts, firstTs, started, speed) - Date.now();
      if (wait > 0) {
        await flush();
        await new Promise((r) => setTimeout(r, wait));
      }
    }
    batch.push(row);
    if (batch.length >= batchSize) await flush();
    draw();
  }
  await flush();
  lastBytes = total;
  draw(true);
  if (bar) process.stderr.write('\n');
  console.log(
    `replay: ${totals.rows} rows, ${totals.sent} events sent, ${totals.accepted} accepted, ${totals.duplicates} duplicates, ${totals.rejected} rejected by ingestion, ${totals.bad} bad rows skipped, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return 0;
}
