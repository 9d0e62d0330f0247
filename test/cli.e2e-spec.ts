/**
 * `tidemark` as a script sees it (docs/operations.md "The CLI"): --version, --help on every command exits 0,
 * usage errors exit 2, failures exit 1, and replay's progress bar only on a terminal.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';

jest.setTimeout(60_000);

const ROOT = path.resolve(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'tidemark.js');

function tidemark(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A stand-in ingestion that accepts every batch. */
async function fakeIngestion(): Promise<{ url: string; close(): void }> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const n = body.split('\n').filter((l) => l.trim() !== '').length;
      res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: n, duplicates: 0, rejected: [] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => server.close() };
}

let dir: string;
let events: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-cli-'));
  events = path.join(dir, 'events.ndjson');
  const ts = Date.UTC(2026, 0, 1);
  fs.writeFileSync(events, Array.from({ length: 50 }, (_, i) => JSON.stringify({ id: `e${i}`, type: 'page_view', ts: ts + i, userId: 'u', sessionId: 's' })).join('\n') + '\n');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('--version prints the version in package.json', async () => {
  const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V', 'version']) {
    const r = await tidemark([flag]);
    expect({ flag, code: r.code, out: r.stdout.trim() }).toEqual({ flag, code: 0, out: version });
  }
});

it.each([
  [['--help'], /Usage: tidemark <command>/],
  [['help'], /Usage: tidemark <command>/],
  [['up', '--help'], /Usage: tidemark up/],
  [['service', '--help'], /Usage: tidemark service <name>/],
  [['simulate', '--help'], /Usage: tidemark simulate/],
  [['replay', '--help'], /Usage: tidemark replay/],
  [['bench', '--help'], /Usage: tidemark bench/],
  [['eval', '--help'], /Usage: tidemark eval/],
])('tidemark %j exits 0 with its usage', async (args, usage) => {
  const r = await tidemark(args);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  expect(r.stdout).toMatch(usage);
});

it.each([
  [['frobnicate'], /unknown command "frobnicate"/],
  [['up', '--bogus'], /--bogus/],
  [['service'], /name one of/],
  [['service', 'nope'], /name one of/],
  [['service', 'ingestion', 'extra'], /one service name/],
  [['simulate', '--sessions', 'many'], /--sessions must be a number/],
  [['simulate', '--nope'], /--nope/],
  [['replay'], /Usage: tidemark replay/],
  [['replay', 'x.ndjson', '--batch', '0'], /--batch must be/],
  [['replay', 'x.ndjson', '--speed', 'fast'], /speed/],
  [['replay', 'x.ndjson', '--format', 'xml'], /--format must be/],
  [['bench'], /Usage: tidemark bench/],
  [['bench', 'everything'], /name one of/],
  // letters of no part: without the check nothing would start either (no benchmark runs in this test)
  [['bench', 'pipeline', '--parts', 'xyz'], /--parts takes letters of abcdefgrs, not "xyz"/],
])('tidemark %j is a usage error: exit 2', async (args, message) => {
  const r = await tidemark(args);
  expect(r.code).toBe(2);
  expect(r.stdout + r.stderr).toMatch(message);
});

/** Every benchmark's options (what its parser accepts), and whether it honours BENCH_NODE_ARGS (starts services). */
const BENCH_OPTIONS: Record<string, { options: string[]; nodeArgs: boolean }> = {
  ingest: { options: ['--events', '--batch', '--concurrency'], nodeArgs: true },
  pipeline: { options: ['--events', '--parts', '--rate', '--request-ms', '--seconds', '--full-events', '--runs', '--warmup', '--open'], nodeArgs: true },
  core: { options: ['--events', '--batch', '--seed', '--repeats'], nodeArgs: false },
  'recs-core': { options: ['--events', '--batch', '--seed', '--repeats'], nodeArgs: false },
  recs: { options: ['--samples', '--load', '--lookups', '--concurrency'], nodeArgs: true },
  alerting: { options: ['--results', '--samples'], nodeArgs: true },
  scale: { options: ['--events', '--warmup', '--partitions', '--runs', '--keep'], nodeArgs: false },
};

it('tidemark bench names the benchmarks this test covers', async () => {
  const r = await tidemark(['bench', '--help']);
  expect(r.stdout).toContain(Object.keys(BENCH_OPTIONS).join(', '));
});

it.each(Object.entries(BENCH_OPTIONS))('tidemark bench %s --help (and -h) exits 0 with a usage naming every option', async (name, { options, nodeArgs }) => {
  for (const flag of ['--help', '-h']) {
    const r = await tidemark(['bench', name, flag]);
    expect({ flag, code: r.code, stderr: r.stderr }).toEqual({ flag, code: 0, stderr: '' });
    expect(r.stdout).toMatch(new RegExp(`^Usage: tidemark bench ${name} `));
    // each option at the start of a line, said what it does; one that takes a value, with its default
    for (const option of options) {
      const line = r.stdout.split('\n').find((l) => l.startsWith(`  ${option} `));
      expect({ option, line }).toEqual({ option, line: expect.stringMatching(/^ {2}--[a-z-]+(?: [A-Z]+ +\S.*\(default [^ )]+\)| {2,}\S.*)$/) });
    }
    if (nodeArgs) expect(r.stdout).toMatch(/^  BENCH_NODE_ARGS +\S/m);
    else expect(r.stdout).not.toContain('BENCH_NODE_ARGS');
  }
});

it('tidemark bench pipeline --help says what each of --parts\'s letters measures', async () => {
  const r = await tidemark(['bench', 'pipeline', '--help']);
  expect(r.stdout).toMatch(/--parts LETTERS .*\(default abcde\)/);
  for (const letter of 'abcdefgr') expect(r.stdout).toMatch(new RegExp(`^ +${letter}  \\S`, 'm'));
});

it.each(Object.keys(BENCH_OPTIONS))('tidemark bench %s with an unknown option is a usage error pointing to its --help', async (name) => {
  const r = await tidemark(['bench', name, '--bogus']);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/Unknown option '--bogus'/);
  expect(r.stderr).toContain(`(see tidemark bench ${name} --help)`);
});

it('a failure exits 1: a missing file, an invalid setting', async () => {
  const missing = await tidemark(['replay', path.join(dir, 'nope.ndjson')]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/no such file/);
  const badSetting = await tidemark(['replay', events], { INGESTION_PORT: 'eighty' });
  expect(badSetting.code).toBe(1);
  expect(badSetting.stderr).toMatch(/invalid INGESTION_PORT/);
});

it('replay draws no progress bar in a pipe, and one on a terminal', async () => {
  const ingestion = await fakeIngestion();
  try {
    const piped = await tidemark(['replay', events, '--url', ingestion.url, '--batch', '10']);
    expect(piped.code).toBe(0);
    expect(piped.stdout).toMatch(/replay: 50 rows, 50 events sent, 50 accepted/);
    expect(piped.stderr).toBe('');

    // script(1) (util-linux, on every Debian) runs it on a pseudo-terminal.
    const shell = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const command = [process.execPath, BIN, 'replay', events, '--url', ingestion.url, '--batch', '10'].map(shell).join(' ');
    const onTerminal = (cmd: string) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.once('error', (e) => resolve({ code: -1, out: String(e) }));
        child.once('exit', (code) => resolve({ code, out }));
      });
    const tty = await onTerminal(command);
    expect(tty.code).toBe(0);
    expect(tty.out).toMatch(/\r\[[^\]]*\] .*50 events/); // the bar, redrawn with a carriage return
    expect(tty.out).toMatch(/replay: 50 rows/);
    // --quiet: no bar on a terminal either
    const quiet = await onTerminal(`${command} --quiet`);
    expect(quiet.code).toBe(0);
    expect(quiet.out).toMatch(/replay: 50 rows/);
    expect(quiet.out).not.toMatch(/\r\[/);
  } finally {
    ingestion.close();
  }
});
