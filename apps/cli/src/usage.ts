/**
 * Exit codes of `tidemark` (docs/operations.md "The CLI"): 0 done, 1 failed, 2 usage error (an unknown
 * command or option, a missing argument, a malformed option value).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** A mistake in the command line: reported with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** `node:util` parseArgs rejects unknown options and missing values with these codes. */
export function isUsageError(e: unknown): boolean {
  if (e instanceof UsageError) return true;
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

/** The version in package.json (the repository root is above dist/apps/cli/src and apps/cli/src alike). */
export function version(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
    if (path.dirname(dir) === dir) throw new Error('package.json not found');
  }
}
