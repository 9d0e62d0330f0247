/** `tidemark replay` as a user runs it: the real REES46 sample and a file with bad rows, into real ingestion. */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { NatsConnection } from '@nats-io/nats-core';
import { streams } from '@tidemark/contracts';
import { SAMPLES } from '@tidemark/simulator';
import { streamEventCount } from './support/jetstream-read';
import { IngestionStack, startIngestionStack } from './support/service-process';

jest.setTimeout(120_000);
const run = promisify(execFile);
const BIN = path.resolve(__dirname, '..', 'bin', 'tidemark.js');
const SAMPLE = SAMPLES.rees46; // data/samples/ in the repository

let stack: IngestionStack;
let nc: NatsConnection;
let url: string;

beforeAll(async () => {
  stack = await startIngestionStack();
  ({ nc, url } = stack);
});

afterAll(async () => {
  await stack?.stop();
});

describe('tidemark replay', () => {
  it('replays the real REES46 sample: every row once, exact duplicate rows counted as duplicates', async () => {
    const { stdout, stderr } = await run(process.execPath, [BIN, 'replay', SAMPLE, '--speed', 'max', '--url', url]);
    expect(stdout).toMatch(/replay: 17434 rows, 17434 events sent, 17429 accepted, 5 duplicates, 0 rejected by ingestion, 0 bad rows skipped/);
    expect(stderr).toBe(''); // no progress bar in a pipe (test/cli.e2e-spec.ts checks it on a terminal), no bad rows
    expect(await streamEventCount(nc, streams.raw.name)).toBe(17429);
  });

  it('reports bad rows with their line numbers and loses none of the good ones', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-replay-'));
    const file = path.join(dir, 'events.ndjson');
    const good = (i: number) => JSON.stringify({ id: `r-${i}`, type: 'page_view', ts: '2026-11-24T10:00:00Z', userId: 'u', sessionId: 's' });
    fs.writeFileSync(file, [good(1), '{broken', good(2), JSON.stringify({ id: 'r-bad', type: 'page_view' }), '', good(3)].join('\n') + '\n');
    const before = await streamEventCount(nc, streams.raw.name);
    const { stdout, stderr } = await run(process.execPath, [BIN, 'replay', file, '--url', url, '--quiet']);
    expect(stderr).toMatch(/line 2: not JSON/);
    expect(stderr).toMatch(/line 4: ts is required/);
    expect(stdout).toMatch(/5 rows, 4 events sent, 3 accepted, 0 duplicates, 1 rejected by ingestion, 1 bad rows skipped/);
    expect(await streamEventCount(nc, streams.raw.name)).toBe(before + 3);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
