/**
 * A local Redis Cluster of real redis-server processes (tests, demos of REDIS_MODE=cluster; docs/scale-out.md
 * "Redis Cluster"): `masters × (1 + replicasPerMaster)` nodes on free loopback ports (each port and its
 * cluster bus port + 10000 free), each with its own folder under `dataDir`, `--cluster-enabled yes` and a
 * short `--cluster-node-timeout` so a replica takes over a killed master within seconds; `redis-cli --cluster
 * create` assigns the slots; ready once every node reports `cluster_state:ok` with all 16384 slots ok.
 * Node handles kill (SIGKILL), stop and start again on the same port with the same folder (nodes.conf kept:
 * the node rejoins, a failed-over master as a replica).
 */
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Redis from 'ioredis';
import { keySlot } from '@tidemark/state';
import { type LocalServer, canConnect, ephemeralLow, findBinary, listenable, RESERVED_PORTS, restartablePortRanges, startProcess, waitUntil } from './local-servers';

const HOST = '127.0.0.1';

export interface RedisClusterNode {
  /** 0-based, in creation order: the first `masters` nodes start as masters. */
  readonly index: number;
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  readonly dir: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  /** The role the node reports now (INFO replication). */
  role(): Promise<'master' | 'replica'>;
  /** SIGKILL, as a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same folder (no-op if running); waits until it answers PING. */
  start(): Promise<void>;
  /** SIGTERM (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

export interface LocalRedisCluster {
  readonly nodes: readonly RedisClusterNode[];
  /** REDIS_URL for REDIS_MODE=cluster: every node, comma-separated. */
  readonly seeds: string;
  /** The node serving `key`'s slot as master now (asked of a running node: CLUSTER SLOTS). */
  masterOf(key: string): Promise<RedisClusterNode>;
  /** Waits until every running node reports cluster_state:ok, all slots ok, and each slot has a running master. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every node (folders kept). */
  stop(): Promise<void>;
}

export interface StartLocalRedisClusterOptions {
  masters?: number;
  replicasPerMaster?: number;
  /** Parent folder; each node gets `<dataDir>/node-<i>`. */
  dataDir: string;
  /** `appendonly yes` + `appendfsync always` (default: no persistence, `--save ""`). */
  persistence?: boolean;
  /** `--cluster-node-timeout` (default 2000 ms): how long until a silent master is failed over. */
  nodeTimeoutMs?: number;
  /** Told about every server process started and ended (the test harness' watchdog). */
  onSpawn?: (pid: number) => void;
  onExit?: (pid: number) => void;
}

/**
 * Where node ports are drawn from, given the first port of the kernel's ephemeral range (pure): below it, bus
 * port (+10000) included, and apart from the ports of restartable servers (local-servers.ts
 * restartablePortRanges), so that no outgoing connection can hold a node's port or bus port when the node
 * starts, or starts again after a kill (a clash seen as "bind: Address already in use" on the bus port). The
 * whole range 20000–54999 when the ephemeral range leaves too little room below it.
 */
export function clusterPortRange(ephemeral: number | undefined): { from: number; to: number } {
  return restartablePortRanges(ephemeral)?.redisNodes ?? { from: 20_000, to: 55_000 };
}

/** A free port whose cluster bus port (+10000) is free too, not one taken already. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  const { from, to } = clusterPortRange(ephemeralLow());
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = from + Math.floor(Math.random() * (to - from));
    if (taken.has(port) || taken.has(port + 10_000) || RESERVED_PORTS.has(port) || RESERVED_PORTS.has(port + 10_000)) continue;
    if ((await listenable(port)) && (await listenable(port + 10_000))) return port;
  }
  throw new Error('no free port pair (port, port + 10000) on 127.0.0.1');
}

/** One short-lived connection to a node: no retries, no offline queue. */
async function ask<T>(port: number, f: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ host: HOST, port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 1000 });
  try {
    await r.connect();
    return await f(r);
  } finally {
    r.disconnect();
  }
}

function info(text: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(text)?.[1]?.trim();
}

/** Whether a node's CLUSTER INFO says the cluster is whole (pure). */
export function clusterInfoHealthy(text: string, knownNodes?: number): boolean {
  return info(text, 'cluster_state') === 'ok' && info(text, 'cluster_slots_ok') === '16384' && (knownNodes === undefined || Number(info(text, 'cluster_known_nodes')) >= knownNodes);
}

type SlotRange = [number, number, [string, number, ...unknown[]], ...unknown[]];

class Node implements RedisClusterNode {
  private server: LocalServer | undefined;

  constructor(
    readonly index: number,
    readonly port: number,
    readonly dir: string,
    private readonly bin: string,
    private readonly args: string[],
    private readonly hooks: Pick<StartLocalRedisClusterOptions, 'onSpawn' | 'onExit'>,
  ) {}

  get url(): string {
    return `redis://${HOST}:${this.port}`;
  }

  private get child(): ChildProcess | undefined {
    return this.server?.process;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  async role(): Promise<'master' | 'replica'> {
    const text = await ask(this.port, (r) => r.info('replication'));
    return info(text, 'role') === 'master' ? 'master' : 'replica';
  }

  async start(): Promise<void> {
    if (this.running) return;
    fs.mkdirSync(this.dir, { recursive: true });
    const server = startProcess(`redis-server:${this.port}`, this.bin, this.args, path.join(this.dir, 'redis-server.log'));
    this.server = server;
    const pid = server.process.pid;
    if (pid) {
      this.hooks.onSpawn?.(pid);
      server.process.once('exit', () => this.hooks.onExit?.(pid));
    }
    await waitUntil(async () => (await canConnect(HOST, this.port, 500)) && (await ask(this.port, (r) => r.ping()).catch(() => '')) === 'PONG', 15_000, `redis-server on ${this.port}`, server.process);
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.server?.stop();
  }
}

function run(bin: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(bin, args, { timeout: 60_000 }, (error, stdout, stderr) => (error ? reject(new Error(`${path.basename(bin)} ${args.join(' ')}: ${error.message}\n${stdout}${stderr}`)) : resolve(stdout))),
  );
}

/** Starts the nodes, creates the cluster, waits until it is whole. Stops what it started when that fails. */
export async function startLocalRedisCluster(options: StartLocalRedisClusterOptions): Promise<LocalRedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 1;
  if (masters < 3) throw new Error('a Redis Cluster needs at least 3 masters');
  const server = findBinary('redis-server');
  const cli = findBinary('redis-cli');
  if (!server || !cli) throw new Error('redis-server and redis-cli must be installed (apt-get install redis-server redis-tools)');
  const total = masters * (1 + replicas);
  const taken = new Set<number>();
  const nodes: Node[] = [];
  for (let i = 0; i < total; i++) {
    const port = await freeClusterPort(taken);
    taken.add(port).add(port + 10_000);
    const dir = path.join(options.dataDir, `node-${i}`);
    const args = [
      '--port', String(port), '--bind', HOST, '--dir', dir, '--daemonize', 'no', '--protected-mode', 'no', '--save', '',
      '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 2000),
      ...(options.persistence ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    ];
    nodes.push(new Node(i, port, dir, server, args, options));
  }
  const cluster: LocalRedisCluster = {
    nodes,
    seeds: nodes.map((n) => n.url).join(','),
    async masterOf(key: string): Promise<RedisClusterNode> {
      const slot = keySlot(key);
      for (const n of nodes.filter((x) => x.running)) {
        const ranges = (await ask(n.port, (r) => r.cluster('SLOTS')).catch(() => undefined)) as SlotRange[] | undefined;
        const range = ranges?.find(([from, to]) => slot >= from && slot <= to);
        const owner = range && nodes.find((x) => x.port === Number(range[2][1]));
        if (owner) return owner;
      }
      throw new Error(`no running node knows the master of slot ${slot}`);
    },
    async waitHealthy(timeoutMs = 30_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const up = nodes.filter((n) => n.running);
        const ok = await Promise.all(up.map((n) => ask(n.port, async (r) => clusterInfoHealthy(String(await r.cluster('INFO')))).catch(() => false)));
        if (ok.every(Boolean)) {
          // Every slot's master is a running node (not a killed one the others have not failed over yet).
          const ranges = (await ask(up[0].port, (r) => r.cluster('SLOTS')).catch(() => [])) as SlotRange[];
          const covered = ranges.reduce((s, [from, to]) => s + (to - from + 1), 0);
          if (covered === 16384 && ranges.every((r) => up.some((n) => n.port === Number(r[2][1])))) return;
        }
        if (Date.now() > deadline) throw new Error(`the Redis Cluster (${cluster.seeds}) is not healthy after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop(): Promise<void> {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
  try {
    await Promise.all(nodes.map((n) => n.start()));
    await run(cli, ['--cluster', 'create', ...nodes.map((n) => `${HOST}:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes']);
    await cluster.waitHealthy();
    // Every node knows every other and every replica is attached (slots ok alone come before that).
    const deadline = Date.now() + 30_000;
    for (;;) {
      const known = await Promise.all(nodes.map((n) => ask(n.port, async (r) => clusterInfoHealthy(String(await r.cluster('INFO')), total)).catch(() => false)));
      const repl = await Promise.all(nodes.map((n) => ask(n.port, (r) => r.info('replication')).catch(() => '')));
      const linked = repl.every((t) => info(t, 'role') === 'master' || info(t, 'master_link_status') === 'up');
      if (known.every(Boolean) && linked && repl.filter((t) => info(t, 'role') === 'master').length === masters) break;
      if (Date.now() > deadline) throw new Error('the Redis Cluster nodes did not all meet');
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}
