/**
 * `tidemark <command>`: the one entry point for people and tools. See docs/cli.md.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { TidemarkConfig } from '@tidemark/config';
import type { LocalNatsCluster } from './local-nats-cluster';
import type { LocalRedisCluster } from './local-redis-cluster';
import { availableServices, isServiceName, serviceArgv, serviceEntry, SERVICE_NAMES } from './services';
import { EXIT, UsageError, isUsageError, version } from './usage';

const USAGE = `Usage: tidemark <command>

  up [--demo] [--cluster]  every service as its own process; starts local nats-server/redis-server when
                           none answer at NATS_URL/REDIS_URL; --demo adds simulated traffic; --cluster a
                           local 3-server NATS cluster and a 6-node Redis Cluster instead
  service <name>           one service in the foreground (${SERVICE_NAMES.join(', ')})
  simulate [options]       realistic shop traffic into ingestion (simulate --help)
  replay <file> [options]  a log of real events into ingestion (replay --help)
  fuzz --seconds N [...]   hostile input against a running system; what broke (fuzz --help)
  chaos [--seconds N ...]  the pipeline on a local cluster under load while instances, NATS nodes and Redis
                           masters are killed; compared with a brute-force reference (chaos --help)
  bench <what>             benchmarks: ingest, pipeline, core, recs-core, recs, alerting, scale
  eval recs --file F       recommendation quality on a REES46 log (eval --help)
  help                     this text (also --help, and --help after any command)
  --version                the version

Exit codes: 0 done, 1 failed, 2 usage error. Settings come from environment variables (docs/settings.md).`;

const UP_USAGE = `Usage: tidemark up [--demo] [--cluster]
  Runs every service as its own process (restarted when it dies); starts nats-server and redis-server
  with their data under ./.tidemark when none answer at NATS_URL / REDIS_URL. Ctrl-C stops everything.
  --demo         also runs \`tidemark simulate\` (simulated shop traffic)
  --cluster      a local cluster instead of one server of each: 3 nats-servers as one JetStream cluster
                 (NATS_URL = their URLs, JETSTREAM_REPLICAS=3 unless set) and a 6-node Redis Cluster, 3 masters
                 with a replica each (REDIS_MODE=cluster, REDIS_URL = its nodes), on free loopback ports with
                 their data under ./.tidemark/nats-cluster and ./.tidemark/redis-cluster.`;

const SERVICE_USAGE = `Usage: tidemark service <name>
  One service in the foreground until SIGTERM/SIGINT: ${SERVICE_NAMES.join(', ')}`;

/** Each benchmark's module in the build (dist/bench/): `main(args)` parses its own options, --help included. */
const BENCH_FILES: Record<string, string[]> = {
  ingest: ['ingest.bench.js'],
  pipeline: ['pipeline.bench.js'],
  core: ['streaming', 'core.bench.js'],
  'recs-core': ['streaming', 'recs-core.bench.js'],
  recs: ['recs.bench.js'],
  alerting: ['alerting.bench.js'],
  scale: ['scale.bench.js'],
};
const BENCHES = Object.keys(BENCH_FILES);
const BENCH_USAGE = `Usage: tidemark bench <what> [options]
  <what>         ${BENCHES.join(', ')} (each takes --help); benchmarks run from a checkout (bench/ is not in the Docker image)`;

const BIN = path.resolve(__dirname, '..', '..', '..', '..', 'bin', 'tidemark.js');

export async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (e) {
    if (!isUsageError(e)) throw e; // a failure: bin/tidemark.js prints it and exits 1
    // `tidemark bench <what>`: the benchmark's own --help
    const words = argv[0] === 'bench' && BENCHES.includes(argv[1]) ? argv.slice(0, 2) : argv.slice(0, 1).filter((w) => w && !w.startsWith('-'));
    const command = words.map((w) => ` ${w}`).join('');
    console.error(`tidemark${command}: ${(e as Error).message}\n(see tidemark${command} --help)`);
    return EXIT.usage;
  }
}

const wantsHelp = (args: string[]) => args.includes('--help') || args.includes('-h');

/*
 * Each command loads its modules when it runs (`require` in its branch, typed as the module): `--version`,
 * `--help` and a service's process load none of the other commands' (chaos, fuzz, eval, the local clusters,
 * the simulator…). `tidemark --version` took 1.6 s and 109 MB when they were loaded up front; 0.08 s and 48 MB.
 */
function loadConfig(): TidemarkConfig {
  return (require('@tidemark/config') as typeof import('@tidemark/config')).loadConfig();
}

async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case '--version':
    case '-V':
    case 'version':
      console.log(version());
      return EXIT.ok;
    case 'up':
      return up(rest);
    case 'service':
      return service(rest);
    case 'bench':
      return bench(rest);
    case 'replay': {
      const config = loadConfig();
      const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
      return (require('./replay') as typeof import('./replay')).replay(rest, `http://${host}:${config.ports.ingestion}`, config.clientApiKey);
    }
    // --- recommendation ---
    case 'eval': {
      const { evalRecs, openRedisRecStore } = require('./eval-recs') as typeof import('./eval-recs');
      return evalRecs(rest, loadConfig().recs.params, openRedisRecStore);
    }
    case 'chaos':
      return (require('./chaos') as typeof import('./chaos')).chaos(rest);
    case 'fuzz': {
      const { FUZZ_USAGE, fuzzCommand } = require('./fuzz') as typeof import('./fuzz');
      if (wantsHelp(rest)) {
        console.log(FUZZ_USAGE);
        return EXIT.ok;
      }
      const config = loadConfig();
      const { natsSecurityOptions } = require('@tidemark/jetstream') as typeof import('@tidemark/jetstream');
      const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
      const url = (port: number) => `http://${host}:${port}`;
      return fuzzCommand(rest, {
        ingestion: url(config.ports.ingestion),
        aggregation: url(config.ports.aggregation),
        recommendation: url(config.ports.recommendation),
        alerting: url(config.ports.alerting),
        tcp: { host, port: config.ports.ingestionTcp },
        nats: config.natsUrl,
        natsOptions: natsSecurityOptions(config.nats) as Record<string, unknown>,
        apiKey: config.clientApiKey,
      });
    }
    case 'simulate': {
      const config = loadConfig();
      const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
      return (require('./simulate') as typeof import('./simulate')).simulate(rest, `http://${host}:${config.ports.ingestion}`, config.clientApiKey);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    default:
      console.error(`tidemark: unknown command "${command}"\n\n${USAGE}`);
      return EXIT.usage;
  }
}

async function service(args: string[]): Promise<number> {
  if (wantsHelp(args)) {
    console.log(SERVICE_USAGE);
    return EXIT.ok;
  }
  if (args.length > 1) throw new UsageError(`one service name, not "${args.join(' ')}"`);
  const name = args[0];
  if (!name || !isServiceName(name)) {
    console.error(`tidemark service: name one of ${SERVICE_NAMES.join(', ')}`);
    return 2;
  }
  if (!availableServices().includes(name)) {
    console.error(`tidemark service: "${name}" is not built in this version`);
    return 2;
  }
  const mod = require(serviceEntry(name)) as { bootstrap(): Promise<unknown> };
  await mod.bootstrap();
  return new Promise<number>(() => undefined); // runs until signalled; the service handles SIGTERM/SIGINT
}

async function up(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { demo: { type: 'boolean', default: false }, cluster: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    console.log(UP_USAGE);
    return EXIT.ok;
  }
  const { startLocalNatsCluster } = require('./local-nats-cluster') as typeof import('./local-nats-cluster');
  const { startLocalRedisCluster } = require('./local-redis-cluster') as typeof import('./local-redis-cluster');
  const { ensureLocalServers } = require('./local-servers') as typeof import('./local-servers');
  const { Supervisor } = require('./supervisor') as typeof import('./supervisor');
  const { formatLogLine, resolveLogFormat } = require('./log-format') as typeof import('./log-format');
  const config = loadConfig();
  const dataDir = path.resolve(process.cwd(), '.tidemark');
  let env: NodeJS.ProcessEnv = process.env;
  // --- NATS for --cluster: a local 3-server JetStream cluster instead of one nats-server ---
  let natsCluster: LocalNatsCluster | undefined;
  if (values.cluster) {
    natsCluster = await startLocalNatsCluster({ size: 3, dataDir: path.join(dataDir, 'nats-cluster') });
    env = { ...env, NATS_URL: natsCluster.urls, JETSTREAM_REPLICAS: process.env.JETSTREAM_REPLICAS ?? '3' };
    console.log(`tidemark up: started a NATS cluster of 3 nats-servers, NATS_URL=${natsCluster.urls} JETSTREAM_REPLICAS=${env.JETSTREAM_REPLICAS} (data in ${path.join(dataDir, 'nats-cluster')})`);
  }
  // --- Redis for --cluster: a local 6-node Redis Cluster instead of one redis-server ---
  let redisCluster: LocalRedisCluster | undefined;
  if (values.cluster) {
    redisCluster = await startLocalRedisCluster({ masters: 3, replicasPerMaster: 1, dataDir: path.join(dataDir, 'redis-cluster'), persistence: true }).catch(async (e) => {
      await natsCluster?.stop();
      throw e;
    });
    env = { ...env, REDIS_MODE: 'cluster', REDIS_URL: redisCluster.seeds };
    console.log(`tidemark up: started a Redis Cluster of 6 nodes (3 masters, 3 replicas), REDIS_MODE=cluster REDIS_URL=${redisCluster.seeds} (data in ${path.join(dataDir, 'redis-cluster')})`);
  }
  const servers = await ensureLocalServers(natsCluster ? undefined : config.natsUrl, redisCluster ? undefined : config.redisUrl, dataDir).catch(async (e) => {
    await natsCluster?.stop();
    await redisCluster?.stop();
    throw e;
  });
  for (const m of servers.messages) console.log(`tidemark up: ${m}`);

  const format = resolveLogFormat(config.logFormat, process.stdout.isTTY === true);
  const supervisor = new Supervisor(undefined, (line) => formatLogLine(line, format));
  const services = availableServices();
  for (const name of services) {
    supervisor.start({ name, command: process.execPath, args: serviceArgv(BIN, name), env });
  }
  if (values.demo) {
    supervisor.start({ name: 'simulate', command: process.execPath, args: [BIN, 'simulate', '--quiet'], env });
  }
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
  console.log(`tidemark up: running ${services.join(', ')}`);
  console.log(`tidemark up: send events to http://${host}:${config.ports.ingestion}/v1/events or tcp://${host}:${config.ports.ingestionTcp}`);
  if (services.includes('alerting')) console.log(`tidemark up: alerts at http://${host}:${config.ports.alerting}/v1/alerts (live: /v1/alerts/stream, rules: /v1/alert-rules)`);
  console.log('tidemark up: Ctrl-C stops everything');
  // --- dashboard: its URL, once it answers (the page is served from then on) ---
  let stopping = false;
  if (services.includes('dashboard')) void announceDashboard(`http://${host}:${config.ports.dashboard}`, () => stopping);
  // --- end dashboard ---
  void watchReadiness(
    services.map((name) => ({ name, url: `http://${host}:${config.ports[PORT_OF[name]]}/health/ready` })),
    () => stopping,
  );

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  stopping = true;
  console.log('tidemark up: stopping');
  await supervisor.stopAll();
  for (const s of servers.started.reverse()) await s.stop();
  await natsCluster?.stop();
  await redisCluster?.stop();
  return 0;
}

const PORT_OF: Record<string, keyof TidemarkConfig['ports']> = {
  ingestion: 'ingestion',
  dedup: 'dedup',
  aggregation: 'aggregation',
  recommendation: 'recommendation',
  alerting: 'alerting',
  dashboard: 'dashboard',
};

/** Prints each service's state when it changes: ready, or not ready with the checks that fail. */
async function watchReadiness(targets: { name: string; url: string }[], stopped: () => boolean): Promise<void> {
  const last = new Map<string, string>();
  while (!stopped()) {
    for (const t of targets) {
      const state = await fetch(t.url, { signal: AbortSignal.timeout(1000) }).then(
        async (r) => {
          if (r.ok) return 'ready';
          const body = (await r.json().catch(() => ({}))) as { checks?: Record<string, { status?: string; error?: string }> };
          const failing = Object.entries(body.checks ?? {})
            .filter(([, c]) => c.status !== 'ok')
            .map(([k, c]) => (c.error ? `${k}: ${c.error}` : k));
          return `not ready${failing.length ? ` (${failing.join('; ')})` : ''}`;
        },
        () => 'starting',
      );
      if (last.get(t.name) !== state && !stopped()) {
        if (!(state === 'starting' && !last.has(t.name))) console.log(`tidemark up: ${t.name} ${state}`);
        last.set(t.name, state);
      }
    }
    await new Promise<void>((resolve) => setTimeout(resolve, 1000).unref());
  }
}

// --- dashboard ---
/** Prints the dashboard's URL as soon as its /health/ready answers 200. */
async function announceDashboard(url: string, stopped: () => boolean): Promise<void> {
  while (!stopped()) {
    const ready = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ready && !stopped()) {
      console.log(`tidemark up: dashboard ready at ${url}/`);
      return;
    }
    await new Promise<void>((resolve) => setTimeout(resolve, 250).unref());
  }
}
// --- end dashboard ---

async function bench(args: string[]): Promise<number> {
  const what = args[0];
  if (what === undefined || what === '--help' || what === '-h') {
    console.log(BENCH_USAGE);
    return what === undefined ? EXIT.usage : EXIT.ok;
  }
  const file = Object.hasOwn(BENCH_FILES, what) ? path.resolve(__dirname, '..', '..', '..', 'bench', ...BENCH_FILES[what]) : undefined;
  if (!file) {
    console.error(`tidemark bench: name one of ${BENCHES.join(', ')}`);
    return EXIT.usage;
  }
  if (!fs.existsSync(file)) throw new Error(`benchmarks are not in this build (no ${path.relative(process.cwd(), file)}): run them from a checkout`);
  const mod = require(file) as { main(args: string[]): Promise<number> };
  return mod.main(args.slice(1));
}
