/**
 * Runs each service as its own child process (`tidemark service <name>`), prefixes its output with its
 * name, and restarts it with backoff when it dies; stops them all on shutdown.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as readline from 'node:readline';

export interface SupervisedSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

export class Supervisor {
  private readonly children = new Map<string, ChildProcess>();
  private stopping = false;

  constructor(
    private readonly log: (line: string) => void = (l) => process.stdout.write(l + '\n'),
    /** Each line a service writes, before it is prefixed (log-format.ts). */
    private readonly format: (line: string) => string = (l) => l,
  ) {}

  start(spec: SupervisedSpec, attempt = 0): void {
    if (this.stopping) return;
    const child = spawn(spec.command, spec.args, { env: spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.set(spec.name, child);
    const pad = spec.name.padEnd(14);
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream! }).on('line', (line) => this.log(`${pad}| ${this.format(line).replace(/\n/g, `\n${pad}| `)}`));
    }
    const startedAt = Date.now();
    child.once('exit', (code, signal) => {
      this.children.delete(spec.name);
      if (this.stopping) return;
      // A service that ran for a while starts over with a short delay; one that keeps dying backs off.
      const next = Date.now() - startedAt > 30_000 ? 0 : attempt + 1;
      const delay = Math.min(30_000, 500 * 2 ** next);
      this.log(`${pad}| exited (${signal ?? code}); restarting in ${delay} ms`);
      setTimeout(() => this.start(spec, next), delay).unref();
    });
  }

  async stopAll(timeoutMs = 10_000): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  }
}
