/**
 * `tidemark <command>`: the one entry point for people and tools. See README "Running it".
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '@tidemark/config';
import { evalRecs, openRedisRecStore } from './eval-recs';
import { ensureLocalServers } from './local-servers';
import { replay } from './replay';
import { simulate } from './simulate';
import { Supervisor } from './supervisor';
import { availableServices, isServiceName, serviceEntry, SERVICE_NAMES } from './services';

const USAGE = `Usage: tidemark <command>

  up [--demo]              every service as its own process; starts local nats-server/redis-server when
                           none answer at NATS_URL/REDIS_URL; --demo adds simulated traffic
  service <name>           one service in the foreground (${SERVICE_NAMES.join(', ')})
  simulate [options]       realistic shop traffic into ingestion (simulate --help)
  replay <file> [options]  a log of real events into ingestion (replay --help)
  bench <what>             benchmarks: ingest, pipeline, core, recs, alerting
  eval recs --file F       recommendation quality on a REES46 log (eval --help)
  help                     this text

Settings come from environment variables (README "Settings").`;

const BIN = path.resolve(__dirname, '..', '..', '..', '..', 'bin', 'tidemark.js');

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'up':
      return up(rest);
    case 'service':
      return service(rest);
    case 'bench':
      return bench(rest);
    case 'replay': {
      const config = loadConfig();
      const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
      return replay(rest, `http://${host}:${config.ports.ingestion}`, config.clientApiKey);
    }
    // --- recommendation ---
    case 'eval':
      return evalRecs(rest, loadConfig().recs.params, openRedisRecStore);
    case 'simulate': {
      const config = loadConfig();
      const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
      return simulate(rest, `http://${host}:${config.ports.ingestion}`, config.clientApiKey);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    default:
      console.error(`tidemark: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

async function service(args: string[]): Promise<number> {
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
  const { values } = parseArgs({ args, options: { demo: { type: 'boolean', default: false } } });
  const config = loadConfig();
  const dataDir = path.resolve(process.cwd(), '.tidemark');
  const servers = await ensureLocalServers(config.natsUrl, config.redisUrl, dataDir);
  for (const m of servers.messages) console.log(`tidemark up: ${m}`);

  const supervisor = new Supervisor();
  const services = availableServices();
  for (const name of services) {
    supervisor.start({ name, command: process.execPath, args: [BIN, 'service', name], env: process.env });
  }
  if (values.demo) {
    supervisor.start({ name: 'simulate', command: process.execPath, args: [BIN, 'simulate', '--quiet'], env: process.env });
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

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  stopping = true;
  console.log('tidemark up: stopping');
  await supervisor.stopAll();
  for (const s of servers.started.reverse()) await s.stop();
  return 0;
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
  const benches: Record<string, string> = {
    ingest: path.resolve(__dirname, '..', '..', '..', 'bench', 'ingest.bench.js'),
    pipeline: path.resolve(__dirname, '..', '..', '..', 'bench', 'pipeline.bench.js'),
    core: path.resolve(__dirname, '..', '..', '..', 'bench', 'streaming', 'core.bench.js'),
    recs: path.resolve(__dirname, '..', '..', '..', 'bench', 'recs.bench.js'),
    alerting: path.resolve(__dirname, '..', '..', '..', 'bench', 'alerting.bench.js'),
  };
  const file = what ? benches[what] : undefined;
  if (!file) {
    console.error(`tidemark bench: name one of ${Object.keys(benches).join(', ')}`);
    return 2;
  }
  const mod = require(file) as { main(args: string[]): Promise<number> };
  return mod.main(args.slice(1));
}
