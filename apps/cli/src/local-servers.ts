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

/**
 * Ports below the kernel's ephemeral range (first port `ephemeralLow`, Linux's default 32768), for servers that
 * are killed and started again on the same port: an outgoing connection can take any free port of the
 * ephemeral range while such a server is down, and its restart then fails with "address already in use".
 * Split so they never meet (pure):
 *   restartable   [L − 6000, L)             nats-servers of a local cluster, chaos's service instances
 *   Redis nodes   [10000, min(L − 16000, 20000))   their cluster bus ports (+10000) 10000 higher
 * Undefined when the ephemeral range starts too low to leave that room (then: any free port, as before).
 */
export function restartablePortRanges(ephemeralLow: number | undefined): { restartable: { from: number; to: number }; redisNodes: { from: number; to: number } } | undefined {
  if (ephemeralLow === undefined || !Number.isInteger(ephemeralLow) || ephemeralLow < 28_000 || ephemeralLow > 65_536) return undefined;
  return { restartable: { from: ephemeralLow - 6000, to: ephemeralLow }, redisNodes: { from: 10_000, to: Math.min(ephemeralLow - 16_000, 20_000) } };
}

/** The first port of this machine's ephemeral range (undefined where /proc does not say). */
export function ephemeralLow(): number | undefined {
  try {
    const n = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** True when nothing listens on `port` of `host` right now. */
export function listenable(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Ports never used (the machine's NATS and Redis, and Redis's cluster bus port). */
export const RESERVED_PORTS: ReadonlySet<number> = new Set([4222, 6222, 8222, 6379, 16379]);

/** A free port for a server that will be restarted on it (see restartablePortRanges), not in `taken`; added to `taken`. */
export async function restartablePort(taken: Set<number> = new Set(), host = '127.0.0.1'): Promise<number> {
  const range = restartablePortRanges(ephemeralLow())?.restartable;
  if (!range) {
    let p = await freePort(host);
    while (taken.has(p)) p = await freePort(host);
    taken.add(p);
    return p;
  }
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = range.from + Math.floor(Math.random() * (range.to - range.from));
    if (taken.has(port) || RESERVED_PORTS.has(port)) continue;
    if (await listenable(port, host)) {
      taken.add(port);
      return port;
    }
  }
  throw new Error(`no free port in ${range.from}-${range.to - 1} on ${host}`);
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
