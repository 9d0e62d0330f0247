/**
 * `tidemark eval recs` as a user runs it, on the real samples: next-purchase (the default task), next-item on
 * REES46 and basket completion on UCI Online Retail through --json, asserting ratios between the recommenders
 * of one run (the goals of docs/recommendations.md), never absolute timed numbers.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { SAMPLES } from '@tidemark/simulator';

jest.setTimeout(120_000);
const run = promisify(execFile);
const BIN = path.resolve(__dirname, '..', 'bin', 'tidemark.js');
const SAMPLE = SAMPLES.rees46; // data/samples/ in the repository

it('prints HR@10 and MRR for the service and the popularity baseline; the service is at least twice the baseline', async () => {
  const { stdout } = await run(process.execPath, [BIN, 'eval', 'recs', '--file', SAMPLE]);
  expect(stdout).toMatch(/17429 events \(0 bad rows skipped\), 204 purchases scored after a 30-minute warm-up/);
  const figure = (name: string) => {
    const m = new RegExp(`${name}.*HR@10 +([\\d.]+) % \\(\\d+/204\\)  MRR ([\\d.]+)`).exec(stdout);
    expect(m).not.toBeNull();
    return { hr: Number(m![1]), mrr: Number(m![2]) };
  };
  const service = figure('service:');
  const baseline = figure('baseline:');
  expect(baseline.hr).toBeGreaterThan(0);
  expect(service.hr).toBeGreaterThanOrEqual(2 * baseline.hr);
  expect(service.mrr).toBeGreaterThan(baseline.mrr);
});

interface Table {
  task: string;
  k: number;
  rows: { name: string; seenExcluded: boolean; hr: number; mrr: number; coverage: number }[];
}

async function table(task: string, file: string): Promise<Table & { row(name: string, seenExcluded?: boolean): Table['rows'][number] }> {
  const { stdout } = await run(process.execPath, [BIN, 'eval', 'recs', '--task', task, '--file', file, '--json']);
  const t = JSON.parse(stdout) as Table;
  expect(t).toMatchObject({ task, k: 10 });
  expect(t.rows.map((r) => `${r.name}|${r.seenExcluded}`).sort()).toEqual(['service', 'popularity', 'category-popularity', 'cooccurrence'].flatMap((n) => [`${n}|true`, `${n}|false`]).sort());
  for (const r of t.rows) for (const x of [r.hr, r.mrr, r.coverage]) expect(x >= 0 && x <= 1).toBe(true);
  return { ...t, row: (name, seenExcluded = true) => t.rows.find((r) => r.name === name && r.seenExcluded === seenExcluded)! };
}

it('next-item on REES46, seen items excluded: the service finds new products ≥ 3 × popularity and ≥ 1.2 × plain co-occurrence', async () => {
  const t = await table('next-item', SAMPLE);
  const [service, pop, cooc] = [t.row('service'), t.row('popularity'), t.row('cooccurrence')];
  expect(pop.hr).toBeGreaterThan(0);
  expect(service.hr).toBeGreaterThanOrEqual(3 * pop.hr);
  expect(service.hr).toBeGreaterThanOrEqual(1.2 * cooc.hr);
  expect(service.mrr).toBeGreaterThan(cooc.mrr);
  expect(service.coverage).toBeGreaterThan(cooc.coverage);
  // seen items included: the returns to earlier products count too; the service still leads
  expect(t.row('service', false).hr).toBeGreaterThanOrEqual(t.row('cooccurrence', false).hr);
});

it('basket completion on UCI Online Retail: HR@10 ≥ 2 × popularity', async () => {
  const t = await table('basket', SAMPLES.onlineRetail);
  expect(t.row('popularity').hr).toBeGreaterThan(0);
  expect(t.row('service').hr).toBeGreaterThanOrEqual(2 * t.row('popularity').hr);
});

it('explains its usage and refuses a missing file', async () => {
  await expect(run(process.execPath, [BIN, 'eval', 'recs'])).rejects.toMatchObject({ code: 2, stdout: expect.stringContaining('Usage: tidemark eval recs --task T --file') });
  for (const bad of [['--task', 'next-week', '--file', SAMPLE], ['--file', SAMPLE, '--k', '0'], ['--file', SAMPLE, '--frobnicate']]) {
    await expect(run(process.execPath, [BIN, 'eval', 'recs', ...bad])).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/^tidemark eval: /) });
  }
  expect((await run(process.execPath, [BIN, 'eval', 'recs', '--help'])).stdout).toContain('--task T');
  // --help names the repository's sample: relative from inside the repository, absolute (and existing) from elsewhere
  const inside = await run(process.execPath, [BIN, 'eval', '--help'], { cwd: path.resolve(__dirname, '..') });
  expect(inside.stdout).toContain(' data/samples/rees46-2019-oct-head/events.csv (REES46)\n');
  expect(inside.stdout).toContain(' data/samples/uci-online-retail-head/online-retail.csv (UCI, basket)\n');
  const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-eval-'));
  const outside = await run(process.execPath, [BIN, 'eval', '--help'], { cwd: elsewhere });
  fs.rmSync(elsewhere, { recursive: true });
  expect(outside.stdout).toContain(` ${SAMPLES.rees46} (REES46)\n`);
  expect(fs.existsSync(SAMPLES.rees46)).toBe(true);
  await expect(run(process.execPath, [BIN, 'eval', 'recs', '--file', '/nonexistent.csv'])).rejects.toMatchObject({ stderr: expect.stringContaining('no such file: /nonexistent.csv') });
});
