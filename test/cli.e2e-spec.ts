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
])('tidemark %j is a usage error: exit 2', async (args, message) => {
  const r = await tidemark(args);
  expect(r.code).toBe(2);
  expect(r.stdout + r.stderr).toMatch(message);
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
