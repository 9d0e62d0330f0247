import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type Redis from 'ioredis';
import { Module, type DynamicModule } from '@nestjs/common';
import { NestFactory, Reflector } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { acceptTraceparent, frameCount, headers as contractHeaders } from '@tidemark/contracts';
import { API_KEY_RING, CONFIG, TidemarkConfig, loadConfig } from '@tidemark/config';
import type { ApiKeyRing } from '@tidemark/auth';
import { ApiKeyGuard } from './auth';
import { acceptRequestId } from './problem';
import { ProblemException, ProblemFilter } from './problem.filter';
import { ConsumedMessage, JetStreamConnection, JetStreamConsumerBinding, JetStreamServer } from '@tidemark/jetstream';
import { HealthRegistry, JsonLogger, MetricsRegistry } from '@tidemark/observability';
import { connectRedisClient, REDIS, type RedisClient } from '@tidemark/state';
import { LeaderLease, memberId, PartitionGroup, RedisGroupStore } from './redis-partition-group';

export interface ServiceSpec {
  name: string;
  module: unknown;
  port: (config: TidemarkConfig) => number;
  /** JetStream consumers bound to the module's `@BatchPattern` handlers (hybrid app). */
  consumers?: (config: TidemarkConfig) => JetStreamConsumerBinding[];
  /**
   * Partitioned consumers (docs/scale-out.md "Partitions that move"). PARTITION_ASSIGNMENT=static: the
   * consumers of OWNED_PARTITIONS from the start, as `consumers`. `group`: this instance joins the service group
   * `group` in Redis and starts and stops partitions' consumers as it wins and gives back their leases.
   */
  partitioned?: {
    group: string;
    consumers: (config: TidemarkConfig, partitions: readonly number[]) => JetStreamConsumerBinding[];
    /** The service's side of a partition moving (group assignment only), looked up once the app exists. */
    owner?: (app: NestFastifyApplication) => PartitionOwner;
  };
  /**
   * One active instance at a time (alerting: one durable over an unpartitioned stream). With
   * PARTITION_ASSIGNMENT=group the instance waits as a standby — no consumer, no ticks, no notifications, no
   * HTTP — until it holds the leader lease of this name, then boots; it exits if it ever loses the lease, and
   * releases it on a graceful stop (docs/scale-out.md "Leaders"). Static: no lease (one instance by deployment).
   */
  singleton?: string;
  /** Nest's own body parsers (default true); off when `configureHttp` installs its own. */
  bodyParser?: boolean;
  /** Adjusts the fastify instance before listening (e.g. body parsers). */
  configureHttp?: (app: NestFastifyApplication, config: TidemarkConfig) => void;
}

/** What a service does when a partition moves to or away from this instance (group assignment). */
export interface PartitionOwner {
  /** A partition won, with its fencing token: restore its state (before its consumer starts). */
  acquirePartition?(partition: number, token: number): Promise<void>;
  /** A partition going: its consumer stopped already; a last checkpoint, then forget it. */
  releasePartition?(partition: number): Promise<void>;
}

/**
 * Consumer settings for the framed streams (events.raw, events.clean): pulls bounded by bytes
 * (CONSUMER_BATCH_BYTES), a small pull topped up after `lingerMs` (CONSUMER_LINGER_MS unless the service has
 * its own), lag and throughput counted in events.
 */
export function framedBatches(config: TidemarkConfig, lingerMs = config.consumerLingerMs) {
  return { batchSize: 1024, maxBytes: config.consumerBatchBytes, lingerMs, countOf: (m: ConsumedMessage) => frameCount(m.data) || 1 };
}

/**
 * Boots one Tidemark service: validated config, JSON logs, fastify HTTP with /health and /metrics from the
 * ObservabilityModule, JetStream consumers on the module's shared connection, graceful shutdown on SIGTERM.
 */
export async function startService(spec: ServiceSpec): Promise<NestFastifyApplication> {
  const config = loadConfig();
  const leader = spec.singleton !== undefined && config.partitionAssignment === 'group' ? await becomeLeader(spec.singleton, config, new JsonLogger(spec.name, config.logLevel)) : undefined;
  // Timeouts (docs/settings.md "Limits"): a whole request must arrive within HTTP_REQUEST_TIMEOUT_MS, and a socket idle
  // for HTTP_CONNECTION_TIMEOUT_MS is closed (SSE streams lift it for their own socket: sse.ts drops slow ones).
  const adapter = new FastifyAdapter({
    bodyLimit: config.maxBodyBytes,
    requestTimeout: config.http.requestTimeoutMs,
    connectionTimeout: config.http.connectionTimeoutMs,
    // Request ids (docs/observability.md "Request ids"): a well-formed incoming x-request-id is kept, else one is made.
    requestIdHeader: false,
    genReqId: (req: { headers: Record<string, unknown> }) => acceptRequestId(req.headers['x-request-id']) ?? randomUUID(),
    // A request arriving while the server closes gets our own 503 problem (the onRequest hook below), not Fastify's.
    return503OnClosing: false,
  });
  const app = await NestFactory.create<NestFastifyApplication>((leader ? withShutdownStep(spec.module, () => leader.stop()) : spec.module) as never, adapter, {
    logger: new JsonLogger(spec.name, config.logLevel),
    bodyParser: spec.bodyParser ?? true,
  });
  spec.configureHttp?.(app, config);
  app.enableShutdownHooks();
  const cfg = app.get<TidemarkConfig>(CONFIG);
  httpHooks(app, new JsonLogger(spec.name, config.logLevel));
  app.useGlobalFilters(new ProblemFilter());
  app.useGlobalGuards(new ApiKeyGuard(app.get(Reflector), app.get<ApiKeyRing>(API_KEY_RING)));
  let group: PartitionGroup | undefined;
  if (spec.consumers || spec.partitioned) {
    const metrics = app.get(MetricsRegistry);
    const grouped = spec.partitioned !== undefined && cfg.partitionAssignment === 'group';
    const initial = [...(spec.consumers?.(cfg) ?? []), ...(spec.partitioned && !grouped ? spec.partitioned.consumers(cfg, cfg.ownedPartitions) : [])];
    const batches = metrics.histogram('tidemark_consumer_batch_seconds', 'Time to process one batch, by durable', ['durable']);
    const processed = metrics.counter('tidemark_consumer_messages_total', 'Messages processed (acked), by durable; events for the framed streams', ['durable']);
    const retries = metrics.counter('tidemark_consumer_retries_total', 'Batches retried after a transient failure, by durable', ['durable']);
    const deadLetters = metrics.counter('tidemark_dead_letters_total', 'Messages sent to dlq.>, by durable', ['durable']);
    const server = new JetStreamServer({
      connection: app.get(JetStreamConnection),
      consumers: initial,
      // A graceful stop gives every partition back (last checkpoints, leases released) before the consumers close.
      beforeClose: () => group?.stop(),
      onEvent: (event, consumer) => {
        const durable = consumer.durable;
        if (event.type === 'batch') {
          batches.observe({ durable }, event.durationMs / 1000);
          processed.inc({ durable }, event.count);
        } else if (event.type === 'retry') retries.inc({ durable });
        else if (event.type === 'deadLetter') deadLetters.inc({ durable });
      },
    });
    // Asked of JetStream at every scrape: a stalled consumer shows its lag growing (not its last batch's).
    metrics.gauge('tidemark_consumer_lag', 'Messages waiting for this consumer (undelivered or unacked), by durable; events (estimated) on the framed streams', ['durable'], async (g) => {
      g.reset();
      await Promise.all(
        server.consumers.map(async (c) => {
          const lag = await Promise.race([c.serverLag(), new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000).unref())]).catch(() => undefined);
          if (lag !== undefined) g.set({ durable: c.durable }, lag);
        }),
      );
    });
    app.connectMicroservice({ strategy: server }, { inheritAppConfig: true });
    await app.startAllMicroservices();
    if (spec.partitioned) {
      const p = spec.partitioned;
      if (grouped) group = await joinGroup(app, cfg, spec.name, p, server, new JsonLogger(spec.name, config.logLevel));
      const owned = () => (group ? group.ownedPartitions() : cfg.ownedPartitions);
      metrics.gauge('tidemark_owned_partitions', 'Partitions this instance consumes now (static: OWNED_PARTITIONS; group: the leases it holds)', [], (g) => g.set(owned().length));
      app.get(HealthRegistry).detail('partitions', () => ({ assignment: cfg.partitionAssignment, ...(group ? { group: group.group, member: group.member } : {}), owned: owned() }));
    }
  }
  await app.listen(spec.port(cfg), cfg.host);
  return app;
}

@Module({})
class ShutdownStepModule {}

/**
 * The service's module under a root that also runs `step` at application shutdown — after the HTTP server and
 * the consumers closed (Nest disposes them before its shutdown hooks): the leader lease is released once this
 * instance has finished its last batch.
 */
function withShutdownStep(module: unknown, step: () => Promise<void>): DynamicModule {
  return {
    module: ShutdownStepModule,
    imports: [module as never],
    providers: [{ provide: 'TIDEMARK_SHUTDOWN_STEP', useFactory: () => ({ onApplicationShutdown: step }) }],
  };
}

/**
 * Waits (a standby) until this instance holds the leader lease `name`, then keeps renewing it every
 * GROUP_HEARTBEAT_MS; a lost lease ends the process at once (another instance leads now: better no instance for
 * a moment than two). Own Redis connection: the lease outlives the app's.
 */
async function becomeLeader(name: string, cfg: TidemarkConfig, logger: JsonLogger): Promise<{ stop(): Promise<void> }> {
  const redis = await connectRedisClient({ mode: cfg.redisMode, seeds: cfg.redisSeeds, ...(cfg.redisTls ? { tls: cfg.redisTls } : {}) }, `tidemark-${name}-lease`);
  const lease = new LeaderLease(new RedisGroupStore(redis), name, memberId(hostname(), process.pid), cfg.group.leaseMs);
  let waiting = false;
  while (!(await lease.hold().catch(() => false))) {
    if (!waiting) logger.log(`standby: another instance holds the ${name} lease; waiting for it`, 'LeaderLease');
    waiting = true;
    await new Promise((r) => setTimeout(r, cfg.group.heartbeatMs));
  }
  logger.log(`holding the ${name} lease (token ${lease.fencingToken})`, 'LeaderLease');
  let stopped = false;
  const timer = setInterval(() => {
    void lease.hold().then(
      (held) => {
        if (held || stopped) return;
        logger.error(`lost the ${name} lease: another instance leads; exiting`, undefined, 'LeaderLease');
        process.exit(1);
      },
      (e) => logger.warn(`renewing the ${name} lease failed: ${(e as Error).message}`, 'LeaderLease'),
    );
  }, cfg.group.heartbeatMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await lease.release().catch(() => undefined);
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/**
 * Group assignment: joins the service group and wires a partition moving — won: the service restores it, then
 * its consumer starts; given back or lost: its consumer stops (the batch in hand finishes), then the service
 * writes its last checkpoint (fenced by the token) and forgets it, then the lease goes.
 */
async function joinGroup(
  app: NestFastifyApplication,
  cfg: TidemarkConfig,
  name: string,
  p: NonNullable<ServiceSpec['partitioned']>,
  server: JetStreamServer,
  logger: JsonLogger,
): Promise<PartitionGroup> {
  const owner = p.owner?.(app) ?? {};
  const redis = app.get<RedisClient>(REDIS, { strict: false });
  const log = { log: (m: string) => logger.log(m, 'PartitionGroup'), warn: (m: string) => logger.warn(m, 'PartitionGroup') };
  const group = new PartitionGroup(
    new RedisGroupStore(redis),
    p.group,
    memberId(hostname(), process.pid),
    cfg.partitions,
    cfg.group,
    {
      acquire: async (partition, token) => {
        await owner.acquirePartition?.(partition, token);
        for (const b of p.consumers(cfg, [partition])) await server.addConsumer(b);
      },
      release: async (partition) => {
        for (const b of p.consumers(cfg, [partition])) await server.removeConsumer(b.durable, b.filterSubject);
        await owner.releasePartition?.(partition);
      },
    },
    log,
  );
  log.log(`${name}: joining group ${p.group} as ${group.member}`);
  await group.start();
  return group;
}

/**
 * How long a stopping service lets the requests in flight finish before it cuts every connection still open
 * (docs/operations.md "Shutdown, readiness first").
 */
export const HTTP_CLOSE_GRACE_MS = 3000;

/**
 * Every request: its id in the `x-request-id` answer header and one log line when it ends (method, path without
 * the query, status, time, request id, traceparent when sent; health checks and scrapes at debug). While the server closes, a request
 * that still reaches it (on a kept-alive connection) is a 503 problem: retry elsewhere; those in flight get
 * HTTP_CLOSE_GRACE_MS, then every connection still open is cut.
 */
function httpHooks(app: NestFastifyApplication, logger: JsonLogger): void {
  const fastify = app.getHttpAdapter().getInstance();
  let closing = false;
  fastify.addHook('preClose', (done) => {
    closing = true;
    // Fastify closes the idle kept-alive sockets at once; a busy one — a request whose body trickles in, a
    // response the client does not read — would hold the stop until its own timeout (HTTP_REQUEST_TIMEOUT_MS,
    // HTTP_CONNECTION_TIMEOUT_MS: up to minutes, past the pod's grace period).
    setTimeout(() => fastify.server.closeAllConnections(), HTTP_CLOSE_GRACE_MS).unref();
    done();
  });
  fastify.addHook('onRequest', (req, reply, done) => {
    void reply.header('x-request-id', req.id);
    if (closing) done(new ProblemException(503, 'the service is shutting down; retry the request'));
    else done();
  });
  fastify.addHook('onResponse', (req, reply, done) => {
    const path = req.url.split('?')[0];
    const traceparent = acceptTraceparent(req.headers.traceparent);
    const line = { msg: 'request', requestId: req.id, method: req.method, path, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, ...(traceparent ? { traceparent } : {}) };
    if (path.startsWith('/health/') || path === '/metrics') logger.debug(line, 'HTTP');
    else logger.log(line, 'HTTP');
    done();
  });
}

/**
 * `tidemark_pipeline_latency_seconds`: from ingestion storing an event's raw frame to this service applying
 * it, one observation a clean frame (dedup stamps Tidemark-Ingested-At; no per-event cost).
 */
export function pipelineLatency(metrics: MetricsRegistry): (batch: readonly ConsumedMessage[], now: number) => void {
  const h = metrics.histogram('tidemark_pipeline_latency_seconds', 'From ingestion storing a raw frame to this service applying the clean frame holding its events', [], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);
  return (batch, now) => {
    for (const m of batch) {
      const at = Number(m.headers?.get(contractHeaders.ingestedAt) || NaN);
      if (Number.isFinite(at)) h.observe(Math.max(0, now - at) / 1000);
    }
  };
}
