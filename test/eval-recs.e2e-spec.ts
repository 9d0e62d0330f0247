/** `tidemark eval recs` as a user runs it, on the real REES46 sample: both figures printed, the goal met. */
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

it('explains its usage and refuses a missing file', async () => {
  await expect(run(process.execPath, [BIN, 'eval', 'recs'])).rejects.toMatchObject({ code: 2, stdout: expect.stringContaining('Usage: tidemark eval recs --file') });
  // --help names the repository's sample: relative from inside the repository, absolute (and existing) from elsewhere
  const inside = await run(process.execPath, [BIN, 'eval', '--help'], { cwd: path.resolve(__dirname, '..') });
  expect(inside.stdout).toContain(' data/samples/rees46-2019-oct-head/events.csv\n');
  const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-eval-'));
  const outside = await run(process.execPath, [BIN, 'eval', '--help'], { cwd: elsewhere });
  fs.rmSync(elsewhere, { recursive: true });
  expect(outside.stdout).toContain(` ${SAMPLES.rees46}\n`);
  expect(fs.existsSync(SAMPLES.rees46)).toBe(true);
  await expect(run(process.execPath, [BIN, 'eval', 'recs', '--file', '/nonexistent.csv'])).rejects.toMatchObject({ stderr: expect.stringContaining('no such file: /nonexistent.csv') });
});
