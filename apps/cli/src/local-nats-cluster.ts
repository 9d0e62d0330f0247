/**
 * A local NATS JetStream cluster for `tidemark up --cluster` and the tests (test/support/servers.ts
 * `startNatsCluster`): `size` nats-servers on loopback, each with `-js`, its own store folder, a server name,
 * the same cluster name and routes to all the others, on free client / cluster / monitoring ports (or the
 * given ones). Ready when every node has seen a JetStream meta leader elected and answers a JetStream API
 * request. Each node can be killed (SIGKILL), stopped and started again on the same ports with the same data.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { LocalServer, findBinary, restartablePort, startProcess, waitUntil } from './local-servers';

export interface NatsNodePorts {
  client: number;
  cluster: number;
  monitor: number;
}

export interface StartLocalNatsClusterOptions {
  /** Number of servers (default 3; JetStream needs a majority of them up). */
  size?: number;
  /** Each node's store and log go to `<dataDir>/n<i>/` and `<dataDir>/n<i>.log`. */
  dataDir: string;
  /** Ports per node (default: free loopback ports). */
  ports?: NatsNodePorts[];
  /** Cluster name (default `tidemark`). */
  name?: string;
  /** nats-server binary (default: NATS_SERVER_BIN, else found on the PATH). */
  binary?: string;
  /** How long to wait for the whole cluster, or one node's start (default 30 000 ms). */
  startTimeoutMs?: number;
  /** Told each node process id when it starts and when it ends (the test harness' watchdog). */
  onProcess?: (event: 'start' | 'exit', pid: number) => void;
}

export interface LocalNatsNode {
  /** Server name, `n1` … `n<size>`. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly clusterPort: number;
  readonly monitorPort: number;
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly monitorUrl: string;
  /** Its store folder. */
  readonly dir: string;
  readonly logFile: string;
  /** Process id while running, else undefined. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** SIGKILL, as a crash; resolves when the process is gone. Data is kept. */
  kill(): Promise<void>;
  /** Graceful stop (SIGTERM, SIGKILL after 5 s). Data is kept. */
  stop(): Promise<void>;
  /** Starts it again (same ports, same data) and waits until it answers JetStream; no-op if running. */
  start(): Promise<void>;
}

export interface LocalNatsCluster {
  readonly nodes: LocalNatsNode[];
  /** Every node's URL, comma-separated: a NATS_URL. */
  readonly urls: string;
  readonly name: string;
  /** Stops every node (data is kept). */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

/** The node answers a JetStream API request ($JS.API.INFO, no error) and knows the meta leader (/jsz). */
async function jetStreamReady(node: { url: string; monitorUrl: string }): Promise<boolean> {
  try {
    const jsz = (await (await fetch(`${node.monitorUrl}/jsz`, { signal: AbortSignal.timeout(1000) })).json()) as { meta_cluster?: { leader?: string } };
    if (!jsz.meta_cluster?.leader) return false;
    const nc = await connect({ servers: node.url, reconnect: false, timeout: 1000, noAsyncTraces: true });
    try {
      const reply = await nc.request('$JS.API.INFO', undefined, { timeout: 1000 });
      const body = JSON.parse(new TextDecoder().decode(reply.data)) as { error?: unknown };
      return !body.error;
    } finally {
      await nc.close().catch(() => undefined);
    }
  } catch {
    return false;
  }
}

class Node implements LocalNatsNode {
  readonly host = HOST;
  private proc: LocalServer | undefined;

  constructor(
    readonly name: string,
    readonly ports: NatsNodePorts,
    readonly dir: string,
    readonly logFile: string,
    private readonly args: string[],
    private readonly binary: string,
    private readonly timeoutMs: number,
    private readonly onProcess?: (event: 'start' | 'exit', pid: number) => void,
  ) {}

  get port(): number {
    return this.ports.client;
  }
  get clusterPort(): number {
    return this.ports.cluster;
  }
  get monitorPort(): number {
    return this.ports.monitor;
  }
  get url(): string {
    return `nats://${HOST}:${this.ports.client}`;
  }
  get monitorUrl(): string {
    return `http://${HOST}:${this.ports.monitor}`;
  }
  get running(): boolean {
    const p = this.proc?.process;
    return !!p && p.exitCode === null && p.signalCode === null;
  }
  get pid(): number | undefined {
    return this.running ? this.proc?.process.pid : undefined;
  }

  /** Spawns the process (does not wait). */
  spawn(): void {
    if (this.running) return;
    fs.mkdirSync(this.dir, { recursive: true });
    const proc = startProcess(`nats-server ${this.name}`, this.binary, this.args, this.logFile);
    this.proc = proc;
    const pid = proc.process.pid;
    if (pid) {
      this.onProcess?.('start', pid);
      proc.process.once('exit', () => this.onProcess?.('exit', pid));
    }
  }

  waitReady(timeoutMs = this.timeoutMs): Promise<void> {
    if (!this.proc) throw new Error(`nats-server ${this.name} is not started`);
    return waitUntil(() => jetStreamReady(this), timeoutMs, `nats-server ${this.name} (${this.url}, log ${this.logFile})`, this.proc.process);
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.spawn();
    await this.waitReady();
  }

  async kill(): Promise<void> {
    const p = this.proc?.process;
    if (!p || !this.running) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
  }
}

/** Starts the cluster and waits until JetStream works through every node; stops what started if that fails. */
export async function startLocalNatsCluster(options: StartLocalNatsClusterOptions): Promise<LocalNatsCluster> {
  const size = options.size ?? 3;
  if (!Number.isInteger(size) || size < 1) throw new Error(`a NATS cluster needs at least 1 server, not ${size}`);
  if (options.ports && options.ports.length !== size) throw new Error(`ports: ${options.ports.length} entries for ${size} servers`);
  const binary = options.binary ?? process.env.NATS_SERVER_BIN ?? findBinary('nats-server');
  if (!binary) throw new Error('nats-server is not installed (apt-get install nats-server)');
  const name = options.name ?? 'tidemark';
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  fs.mkdirSync(options.dataDir, { recursive: true });

  const ports: NatsNodePorts[] = [];
  if (options.ports) ports.push(...options.ports);
  else {
    // Distinct, and out of the ephemeral range: a killed node starts again on the same ports.
    const taken = new Set<number>();
    const pick = () => restartablePort(taken, HOST);
    for (let i = 0; i < size; i++) ports.push({ client: await pick(), cluster: await pick(), monitor: await pick() });
  }

  const nodes = ports.map((p, i) => {
    const nodeName = `n${i + 1}`;
    const dir = path.join(options.dataDir, nodeName);
    const routes = ports.filter((_, j) => j !== i).map((o) => `nats://${HOST}:${o.cluster}`);
    const args = ['-js', '-n', nodeName, '-a', HOST, '-p', String(p.client), '-m', String(p.monitor), '-sd', dir];
    if (size > 1) args.push('--cluster_name', name, '--cluster', `nats://${HOST}:${p.cluster}`, '--routes', routes.join(','));
    return new Node(nodeName, p, dir, path.join(options.dataDir, `${nodeName}.log`), args, binary, timeoutMs, options.onProcess);
  });

  const cluster: LocalNatsCluster = {
    nodes,
    name,
    urls: nodes.map((n) => n.url).join(','),
    stop: async () => void (await Promise.all(nodes.map((n) => n.stop()))),
  };
  try {
    for (const n of nodes) n.spawn();
    await Promise.all(nodes.map((n) => n.waitReady(timeoutMs)));
  } catch (error) {
    await Promise.all(nodes.map((n) => n.kill()));
    throw error;
  }
  return cluster;
}
