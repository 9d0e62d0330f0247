/**
 * `tidemark up` starts a local nats-server (JetStream) and redis-server when nothing answers at NATS_URL /
 * REDIS_URL and the binaries are on the PATH, with their data under `.tidemark/`, and stops them on exit.
 * The helpers (findBinary, freePort, startProcess, waitUntil) are shared with local-nats-cluster.ts.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { redactUrl } from '@tidemark/config';

export function canConnect(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface LocalServer {
  name: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** A port the OS says is free on `host` (bind port 0, read it, close). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function hostPort(url: string, defaultPort: number): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: u.port ? Number(u.port) : defaultPort };
}

/** Polls `check` every 100 ms until true; fails when `child` exits first or at the deadline. */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited with ${child.exitCode ?? child.signalCode}`);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not answer within ${timeoutMs} ms`);
}

/** Spawns a server with its output appended to `logFile`; `stop()` is SIGTERM, then SIGKILL after 5 s. */
export function startProcess(name: string, bin: string, args: string[], logFile: string): LocalServer {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  return {
    name,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

export interface EnsureResult {
  started: LocalServer[];
  messages: string[];
}

/**
 * Starts what is missing. Throws when a server is needed but cannot be started. `natsUrl` may list several
 * servers (any of them answering is enough; else one is started at the first); undefined = leave NATS (or
 * Redis) alone (`tidemark up --cluster` starts its own clusters: local-nats-cluster.ts, local-redis-cluster.ts).
 */
export async function ensureLocalServers(natsUrl: string | undefined, redisUrl: string | undefined, dataDir: string, options: { natsMonitorPort?: number } = {}): Promise<EnsureResult> {
  const started: LocalServer[] = [];
  const messages: string[] = [];
  fs.mkdirSync(dataDir, { recursive: true });

  const natsServers = natsUrl === undefined ? [] : natsUrl.split(',').map((u) => u.trim());
  const answering = [];
  for (const u of natsServers) if (await canConnect(hostPort(u, 4222).host, hostPort(u, 4222).port)) answering.push(u);
  if (natsUrl === undefined) {
    // NATS is started elsewhere.
  } else if (answering.length > 0) {
    messages.push(`NATS answers at ${answering.map(redactUrl).join(',')}: using it`);
  } else {
    const nats = hostPort(natsServers[0], 4222);
    const bin = findBinary('nats-server');
    if (!bin) throw new Error(`nothing answers at NATS_URL=${natsServers.map(redactUrl).join(',')} and nats-server is not installed (apt-get install nats-server)`);
    const dir = path.join(dataDir, 'nats');
    fs.mkdirSync(dir, { recursive: true });
    const monitor = options.natsMonitorPort ? ['-m', String(options.natsMonitorPort)] : [];
    const s = startProcess('nats-server', bin, ['-js', '-a', nats.host, '-p', String(nats.port), '-sd', dir, ...monitor], path.join(dataDir, 'nats.log'));
    started.push(s);
    await waitUntil(() => canConnect(nats.host, nats.port), 15000, 'nats-server', s.process);
    messages.push(`started nats-server -js on ${nats.host}:${nats.port} (data in ${dir})`);
  }

  if (redisUrl === undefined) return { started, messages }; // Redis is started elsewhere (up --cluster)
  const redis = hostPort(redisUrl, 6379);
  if (await canConnect(redis.host, redis.port)) {
    messages.push(`Redis answers at ${redactUrl(redisUrl)}: using it`);
  } else {
    const bin = findBinary('redis-server');
    if (!bin) throw new Error(`nothing answers at REDIS_URL=${redactUrl(redisUrl)} and redis-server is not installed (apt-get install redis-server)`);
    const dir = path.join(dataDir, 'redis');
    fs.mkdirSync(dir, { recursive: true });
    const args = ['--port', String(redis.port), '--bind', redis.host, '--dir', dir, '--appendonly', 'yes', '--save', '', '--daemonize', 'no'];
    const s = startProcess('redis-server', bin, args, path.join(dataDir, 'redis.log'));
    started.push(s);
    await waitUntil(() => canConnect(redis.host, redis.port), 15000, 'redis-server', s.process);
    messages.push(`started redis-server on ${redis.host}:${redis.port} (append-only file in ${dir})`);
  }
  return { started, messages };
}
