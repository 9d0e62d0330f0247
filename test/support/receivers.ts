/** ALERTING_RECEIVERS_FILE for tests: a receiver on this machine (loopback, so `allowPrivate: true`). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export function receiversFile(receivers: Record<string, { url: string; secret?: string; headers?: Record<string, string>; allowPrivate?: boolean }>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-receivers-'));
  const file = path.join(dir, 'receivers.json');
  fs.writeFileSync(file, JSON.stringify(receivers));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return file;
}

/** One receiver named `local` at http://127.0.0.1:<port>/hook. */
export function localReceiversFile(port: number): string {
  return receiversFile({ local: { url: `http://127.0.0.1:${port}/hook`, allowPrivate: true } });
}
