/**
 * Real `nats-server -js` and `redis-server` processes for integration tests: free loopback ports, data in a
 * fresh temporary folder, waited for until they answer, and always killed afterwards.
 *
 * Cleanup, belt and braces:
 *  - tests call `dispose()` (or `disposeAllServers()`) in `afterAll`;
 *  - a process `exit` handler SIGKILLs what is left (works outside jest; jest sandboxes `process`);
 *  - a tiny detached watchdog process holds a pipe to this process and SIGKILLs every server it was told
 *    about (and removes their folders) as soon as the pipe closes, i.e. when this process dies for any reason,
 *    `kill -9` included.
 * The machine's own NATS (4222) and Redis (6379) are never touched: ports always come from `freePort()`.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { LocalNatsCluster, LocalNatsNode, startLocalNatsCluster } from '../../apps/cli/src/local-nats-cluster';
import { type LocalRedisCluster, type StartLocalRedisClusterOptions, startLocalRedisCluster } from '../../apps/cli/src/local-redis-cluster';
import { freePort } from './free-port';

export interface ServerHandle {
  readonly name: 'nats-server' | 'redis-server';
  readonly host: string;
  readonly port: number;
  /** `nats://127.0.0.1:<port>` or `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** The data folder (kept across stop/kill/restart, removed by dispose). */
  readonly dir: string;
  /** Process id while running. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Graceful stop (SIGTERM, SIGKILL after 10 s). Data is kept. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash. Data is kept (whatever was flushed). */
  kill(): Promise<void>;
  /** Starts it again after stop()/kill(), on the same port with the same data folder; waits until it answers. No-op if running. */
  start(): Promise<void>;
  /** Stops it if running, then starts it again on the same port with the same data folder and waits until it answers. */
  restart(): Promise<void>;
  /** Stops it and removes its data folder. Idempotent. */
  dispose(): Promise<void>;
}

export interface NatsServerHandle extends ServerHandle {
  readonly name: 'nats-server';
  /** Monitoring port (`-m`) when asked for, else undefined. */
  readonly monitorPort: number | undefined;
  readonly monitorUrl: string | undefined;
}

export interface RedisServerHandle extends ServerHandle {
  readonly name: 'redis-server';
  readonly persistence: boolean;
}

export interface StartNatsOptions {
  /** Also open the HTTP monitoring port (`-m`). */
  monitor?: boolean;
  /** A server config file (`-c`); the port, address and store folder flags still win over it. */
  configFile?: string;
  /** Environment of the server process (a config may read `$VARIABLES`). */
  env?: Record<string, string>;
  /** User and password the readiness probe connects with (when the config requires authentication). */
  probeAuth?: { user: string; pass: string };
  /** Extra command-line arguments. */
  args?: string[];
  /** How long to wait for it to answer (default 15 000 ms). */
  startTimeoutMs?: number;
}

export interface StartRedisOptions {
  /** `appendonly yes`, `appendfsync always` (for restart tests). Default false: `--save ""`, no AOF. */
  persistence?: boolean;
  /** An ACL file (`--aclfile`); give `probeAuth` too when it disables the default user. */
  aclFile?: string;
  /** User and password the readiness probe authenticates with (`AUTH user password`). */
  probeAuth?: { user: string; password: string };
  args?: string[];
  startTimeoutMs?: number;
}

const HOST = '127.0.0.1';
/** What the exit handler kills and disposeAllServers disposes: servers, Redis Clusters and service processes (killWithTests). */
interface Live {
  killSync(): void;
  dispose(): Promise<void>;
}
const live = new Set<Live>();

// ---------------------------------------------------------------------------------------------------------------
// Watchdog: dies with nothing, kills everything when we die.

const WATCHDOG = `
const fs = require('fs');
const pids = new Set(), dirs = new Set();
let buf = '';
function cleanup() {
  for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch {} }
  for (const d of dirs) { try { fs.rmSync(d, { recursive: true, force: true }); } catch {} }
  process.exit(0);
}
process.stdin.on('data', (chunk) => {
  buf += chunk;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i); buf = buf.slice(i + 1);
    const op = line.slice(0, 4), arg = line.slice(5);
    if (op === '+pid') pids.add(Number(arg));
    else if (op === '-pid') pids.delete(Number(arg));
    else if (op === '+dir') dirs.add(arg);
    else if (op === '-dir') dirs.delete(arg);
  }
});
process.stdin.on('end', cleanup);
process.stdin.on('error', cleanup);
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
`;

let watchdog: ChildProcess | undefined;

function tellWatchdog(line: string): void {
  try {
    if (!watchdog || watchdog.exitCode !== null) {
      watchdog = spawn(process.execPath, ['-e', WATCHDOG], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
      watchdog.on('error', () => undefined);
      watchdog.stdin?.on('error', () => undefined);
      watchdog.unref();
      (watchdog.stdin as unknown as net.Socket | null)?.unref?.();
    }
    watchdog.stdin?.write(line + '\n');
  } catch {
    // The exit handler and dispose() still clean up.
  }
}

let exitHandlerInstalled = false;
function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  // Synchronous on purpose: 'exit' handlers cannot await.
  process.once('exit', () => {
    for (const s of live) s.killSync();
  });
}

/**
 * Another child process of the tests (a service): known to the watchdog, SIGKILLed by the exit handler if it
 * still runs when the test process ends, and by disposeAllServers — as the servers are.
 */
export function killWithTests(child: ChildProcess): void {
  const pid = child.pid;
  if (pid === undefined) return;
  installExitHandler();
  tellWatchdog(`+pid ${pid}`);
  const entry: Live = {
    killSync: () => {
      try {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      } catch {
        // already gone
      }
    },
    dispose: async () => {
      const exited = waitForExit(child);
      entry.killSync();
      await exited;
    },
  };
  live.add(entry);
  child.once('exit', () => {
    live.delete(entry);
    tellWatchdog(`-pid ${pid}`);
  });
}

// ---------------------------------------------------------------------------------------------------------------

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

abstract class ManagedServer implements ServerHandle {
  abstract readonly name: 'nats-server' | 'redis-server';
  abstract readonly url: string;
  readonly host = HOST;
  protected child: ChildProcess | undefined;
  private disposed = false;

  constructor(
    public port: number,
    readonly dir: string,
    protected readonly startTimeoutMs: number,
  ) {}

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  get logFile(): string {
    return path.join(this.dir, `${this.name}.log`);
  }

  protected abstract binary(): string;
  protected abstract args(): string[];
  /** Resolves true once the server answers like a ready server. */
  protected abstract probe(): Promise<boolean>;

  /** Starts and waits until ready; on a first start, retries on another port if this one was taken meanwhile. */
  async start(): Promise<void> {
    if (!this.running) await this.boot(false);
  }

  async boot(mayChangePort: boolean): Promise<void> {
    if (this.disposed) throw new Error(`${this.name} on port ${this.port} was disposed`);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.startOnce();
        return;
      } catch (error) {
        const log = tail(this.logFile);
        if (mayChangePort && attempt < 3 && /address already in use/i.test(log)) {
          this.port = await freePort(HOST);
          continue;
        }
        throw error;
      }
    }
  }

  /** Extra environment of the server process. */
  protected env(): Record<string, string> {
    return {};
  }

  private async startOnce(): Promise<void> {
    const out = fs.openSync(this.logFile, 'a');
    const child = spawn(this.binary(), this.args(), { stdio: ['ignore', out, out], env: { ...process.env, ...this.env() } });
    fs.closeSync(out);
    child.on('error', () => undefined);
    child.unref();
    this.child = child;
    if (child.pid) tellWatchdog(`+pid ${child.pid}`);
    installExitHandler();
    live.add(this);
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      if (!this.running) {
        live.delete(this);
        throw new Error(`${this.name} (port ${this.port}, dir ${this.dir}) exited during start:\n${tail(this.logFile)}`);
      }
      if (await this.probe().catch(() => false)) return;
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`${this.name} did not answer on ${this.url} within ${this.startTimeoutMs} ms:\n${tail(this.logFile)}`);
      }
      await pause(25);
    }
  }

  private async signalAndWait(signal: NodeJS.Signals, graceMs: number): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (this.running) {
      const exited = waitForExit(child);
      child.kill(signal);
      if (graceMs > 0) {
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      } else {
        await exited;
      }
    }
    if (child.pid) tellWatchdog(`-pid ${child.pid}`);
    live.delete(this);
  }

  stop(): Promise<void> {
    return this.signalAndWait('SIGTERM', 10_000);
  }

  kill(): Promise<void> {
    return this.signalAndWait('SIGKILL', 0);
  }

  killSync(): void {
    try {
      if (this.running) this.child?.kill('SIGKILL');
    } catch {
      // already gone
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.boot(false);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    await this.stop();
    this.disposed = true;
    if (!process.env.TIDEMARK_KEEP_TEST_DATA) fs.rmSync(this.dir, { recursive: true, force: true });
    tellWatchdog(`-dir ${this.dir}`);
  }
}

class NatsServer extends ManagedServer implements NatsServerHandle {
  readonly name = 'nats-server' as const;

  constructor(
    port: number,
    dir: string,
    startTimeoutMs: number,
    readonly monitorPort: number | undefined,
    private readonly extraArgs: string[],
    private readonly options: StartNatsOptions = {},
  ) {
    super(port, dir, startTimeoutMs);
  }

  get url(): string {
    return `nats://${HOST}:${this.port}`;
  }

  protected override env(): Record<string, string> {
    return this.options.env ?? {};
  }

  get monitorUrl(): string | undefined {
    return this.monitorPort === undefined ? undefined : `http://${HOST}:${this.monitorPort}`;
  }

  protected binary(): string {
    return process.env.NATS_SERVER_BIN ?? 'nats-server';
  }

  protected args(): string[] {
    const args = ['-js', '-sd', path.join(this.dir, 'jetstream'), '-a', HOST, '-p', String(this.port)];
    if (this.options.configFile) args.unshift('-c', this.options.configFile);
    if (this.monitorPort !== undefined) args.push('-m', String(this.monitorPort));
    return [...args, ...this.extraArgs];
  }

  /** Ready = a client can connect and JetStream answers `$JS.API.INFO` (streams recovered). */
  protected async probe(): Promise<boolean> {
    const nc = await connect({ servers: this.url, reconnect: false, timeout: 1000, noAsyncTraces: true, ...this.options.probeAuth });
    try {
      const reply = await nc.request('$JS.API.INFO', undefined, { timeout: 1000 });
      const body = JSON.parse(Buffer.from(reply.data).toString('utf8')) as { error?: unknown };
      return !body.error;
    } finally {
      await nc.close().catch(() => undefined);
    }
  }
}

class RedisServer extends ManagedServer implements RedisServerHandle {
  readonly name = 'redis-server' as const;

  constructor(
    port: number,
    dir: string,
    startTimeoutMs: number,
    readonly persistence: boolean,
    private readonly extraArgs: string[],
    private readonly options: StartRedisOptions = {},
  ) {
    super(port, dir, startTimeoutMs);
  }

  get url(): string {
    return `redis://${HOST}:${this.port}`;
  }

  protected binary(): string {
    return process.env.REDIS_SERVER_BIN ?? 'redis-server';
  }

  protected args(): string[] {
    const args = ['--port', String(this.port), '--bind', HOST, '--dir', this.dir, '--daemonize', 'no', '--protected-mode', 'no', '--save', ''];
    args.push(...(this.persistence ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
    if (this.options.aclFile) args.push('--aclfile', this.options.aclFile);
    return [...args, ...this.extraArgs];
  }

  /** Ready = PING answers +PONG (not -LOADING while the append-only file is replayed). */
  protected probe(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = net.connect({ host: HOST, port: this.port });
      let data = '';
      const done = (ok: boolean) => {
        socket.destroy();
        resolve(ok);
      };
      socket.setTimeout(1000, () => done(false));
      socket.once('error', () => done(false));
      const auth = this.options.probeAuth;
      const quote = (s: string) => JSON.stringify(s);
      socket.once('connect', () => socket.write(auth ? `AUTH ${quote(auth.user)} ${quote(auth.password)}\r\nPING\r\n` : 'PING\r\n'));
      socket.on('data', (chunk) => {
        data += chunk.toString('utf8');
        if (!auth && data.includes('\r\n')) done(data.startsWith('+PONG'));
        if (auth && (data.split('\r\n').length > 2 || data.startsWith('-'))) done(data.startsWith('+OK\r\n+PONG'));
      });
    });
  }
}

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tellWatchdog(`+dir ${dir}`);
  return dir;
}

/** Starts `nats-server -js -sd <tmp> -a 127.0.0.1 -p <free port>` and waits until JetStream answers. */
export async function startNats(options: StartNatsOptions = {}): Promise<NatsServerHandle> {
  const port = await freePort(HOST);
  const monitorPort = options.monitor ? await freePort(HOST) : undefined;
  const server = new NatsServer(port, tempDir('tidemark-nats-'), options.startTimeoutMs ?? 15_000, monitorPort, options.args ?? [], options);
  await server.boot(true).catch(async (e) => {
    await server.dispose();
    throw e;
  });
  return server;
}

/** Starts `redis-server` on a free loopback port with data in a fresh temp folder and waits until PING answers. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServerHandle> {
  const port = await freePort(HOST);
  const server = new RedisServer(port, tempDir('tidemark-redis-'), options.startTimeoutMs ?? 15_000, !!options.persistence, options.args ?? [], options);
  await server.boot(true).catch(async (e) => {
    await server.dispose();
    throw e;
  });
  return server;
}

export interface Servers {
  nats: NatsServerHandle;
  redis: RedisServerHandle;
  /** Disposes both. */
  dispose(): Promise<void>;
}

/** Both servers, started in parallel. */
export async function startServers(options: { nats?: StartNatsOptions; redis?: StartRedisOptions } = {}): Promise<Servers> {
  const [nats, redis] = await Promise.allSettled([startNats(options.nats), startRedis(options.redis)]);
  if (nats.status === 'rejected' || redis.status === 'rejected') {
    if (nats.status === 'fulfilled') await nats.value.dispose();
    if (redis.status === 'fulfilled') await redis.value.dispose();
    throw nats.status === 'rejected' ? nats.reason : (redis as PromiseRejectedResult).reason;
  }
  return {
    nats: nats.value,
    redis: redis.value,
    dispose: async () => {
      await Promise.all([nats.value.dispose(), redis.value.dispose()]);
    },
  };
}

export interface RedisClusterHandle extends LocalRedisCluster {
  /** The parent folder of the nodes' folders (removed by dispose). */
  readonly dir: string;
  /** Stops every node and removes the folders. Idempotent. */
  dispose(): Promise<void>;
}

/**
 * A local Redis Cluster (apps/cli local-redis-cluster.ts: 3 masters, a replica each, cluster-node-timeout
 * 2000 ms by default) under the same conventions as the servers above: free loopback ports, a fresh temp
 * folder, every node process known to the watchdog, killed at exit, `dispose()` in `afterAll`.
 */
export async function startRedisCluster(options: Omit<StartLocalRedisClusterOptions, 'dataDir' | 'onSpawn' | 'onExit'> = {}): Promise<RedisClusterHandle> {
  const dir = tempDir('tidemark-redis-cluster-');
  installExitHandler();
  let cluster: LocalRedisCluster | undefined;
  let disposed = false;
  const pids = new Set<number>();
  const entry: Live = {
    killSync: () => {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
    dispose: async () => {
      if (disposed) return;
      disposed = true;
      await cluster?.stop();
      live.delete(entry);
      if (!process.env.TIDEMARK_KEEP_TEST_DATA) fs.rmSync(dir, { recursive: true, force: true });
      tellWatchdog(`-dir ${dir}`);
    },
  };
  live.add(entry);
  try {
    cluster = await startLocalRedisCluster({
      ...options,
      dataDir: dir,
      onSpawn: (pid) => {
        pids.add(pid);
        tellWatchdog(`+pid ${pid}`);
      },
      onExit: (pid) => {
        pids.delete(pid);
        tellWatchdog(`-pid ${pid}`);
      },
    });
  } catch (e) {
    entry.killSync();
    await entry.dispose();
    throw e;
  }
  const started = cluster;
  return {
    dir,
    get nodes() {
      return started.nodes;
    },
    seeds: started.seeds,
    masterOf: (key) => started.masterOf(key),
    waitHealthy: (timeoutMs) => started.waitHealthy(timeoutMs),
    stop: () => started.stop(),
    dispose: entry.dispose,
  };
}


export interface NatsClusterHandle {
  /** `n1` … `n<size>`: `{ name, url, port, clusterPort, monitorPort, monitorUrl, dir, logFile, pid, running, kill() (SIGKILL), stop(), start() (same ports and data) }`. */
  readonly nodes: LocalNatsNode[];
  /** Every node's URL, comma-separated: a NATS_URL. */
  readonly urls: string;
  /** The data folder (one store folder and log per node; removed by dispose). */
  readonly dir: string;
  /** The node that leads a stream's Raft group now (stream info `cluster.leader`), by asking through any node. */
  streamLeader(stream: string): Promise<LocalNatsNode | undefined>;
  /** Stops every node and removes the data folder. Idempotent. */
  dispose(): Promise<void>;
}

/**
 * A real NATS JetStream cluster (apps/cli/src/local-nats-cluster.ts): `size` (default 3) nats-servers on free
 * loopback ports, routes between them, each with its own store under one temp folder; resolves once the meta
 * leader is elected and JetStream answers through every node. Same cleanup as `startNats`: every node's
 * process id goes to the watchdog (also after a node's `start()` again), the folder too.
 */
export async function startNatsCluster(options: { size?: number; startTimeoutMs?: number } = {}): Promise<NatsClusterHandle> {
  const dir = tempDir('tidemark-nats-cluster-');
  installExitHandler();
  let cluster: LocalNatsCluster;
  try {
    cluster = await startLocalNatsCluster({
      size: options.size ?? 3,
      dataDir: dir,
      binary: process.env.NATS_SERVER_BIN,
      startTimeoutMs: options.startTimeoutMs ?? 30_000,
      onProcess: (event, pid) => tellWatchdog(`${event === 'start' ? '+' : '-'}pid ${pid}`),
    });
  } catch (error) {
    if (!process.env.TIDEMARK_KEEP_TEST_DATA) fs.rmSync(dir, { recursive: true, force: true });
    tellWatchdog(`-dir ${dir}`);
    throw error;
  }
  let disposed = false;
  const handle: NatsClusterHandle & Live = {
    nodes: cluster.nodes,
    urls: cluster.urls,
    dir,
    async streamLeader(stream) {
      for (const node of cluster.nodes.filter((n) => n.running)) {
        const nc = await connect({ servers: node.url, reconnect: false, timeout: 2000, noAsyncTraces: true }).catch(() => undefined);
        if (!nc) continue;
        try {
          const reply = await nc.request(`$JS.API.STREAM.INFO.${stream}`, undefined, { timeout: 2000 });
          const info = JSON.parse(Buffer.from(reply.data).toString('utf8')) as { cluster?: { leader?: string } };
          const leader = info.cluster?.leader;
          if (leader) return cluster.nodes.find((n) => n.name === leader);
        } catch {
          // ask the next node
        } finally {
          await nc.close().catch(() => undefined);
        }
      }
      return undefined;
    },
    killSync() {
      for (const n of cluster.nodes) {
        try {
          if (n.pid) process.kill(n.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await cluster.stop();
      live.delete(handle);
      if (!process.env.TIDEMARK_KEEP_TEST_DATA) fs.rmSync(dir, { recursive: true, force: true });
      tellWatchdog(`-dir ${dir}`);
    },
  };
  live.add(handle);
  return handle;
}

/** Stops and removes every server this process started that is still running. */
export async function disposeAllServers(): Promise<void> {
  await Promise.all([...live].map((s) => s.dispose()));
}
