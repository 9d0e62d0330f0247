/**
 * Configuration, validated once at boot into a typed object. Nothing else reads process.env.
 * Every variable is documented in the docs/settings.md; an invalid value fails fast with its name.
 */
import * as fs from 'node:fs';
import { Receiver, ReceiversError, normalizeAllowPrefix, parseReceivers } from '@tidemark/alerting';
import { ApiKey, ApiKeyError, isLoopbackHost, keyFileEntries, parseApiKeys } from '@tidemark/auth';
import { ALL_STREAMS, DEFAULT_EVENT_LIMITS, DEFAULT_MAX_FUTURE_MS, parsePartitionList } from '@tidemark/contracts';
import { DEFAULT_PARAMS, RecParams, RecSignals, parseSignals, parseWeights } from '@tidemark/recommend';
import { NatsSecurity, TlsFiles, TransportSettingError, natsSecurity, readableFile, redactUrl, redactUrlsIn, redisTls } from './transport';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`invalid ${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export interface TidemarkConfig {
  /**
   * API keys (API_KEYS, API_KEYS_FILE): empty = open. AUTH=off empties it deliberately. A non-loopback HOST
   * with no keys refuses to start unless AUTH=off (docs/security.md).
   */
  auth: { keys: ApiKey[]; off: boolean };
  /** The `read` key the dashboard sends to the other services (DASHBOARD_API_KEY; default: the first read key of API_KEYS). */
  dashboardApiKey: string | undefined;
  /** The `ingest` key `tidemark simulate` and `replay` send (TIDEMARK_API_KEY; default: the first ingest key of API_KEYS). */
  clientApiKey: string | undefined;
  /** NATS_URL without credentials (they move to `nats.auth`): safe to log. Several servers: comma-separated. */
  natsUrl: string;
  /** NATS_URL's servers (one, or a cluster's), without credentials: the client's `servers`. */
  natsServers: string[];
  /** How Tidemark provisions JetStream (docs/operations.md "NATS clusters"). */
  jetstream: {
    /** JETSTREAM_REPLICAS (1..5): replicas of every stream Tidemark creates (and of its consumers). */
    replicas: number;
    /**
     * JETSTREAM_PROVISION: `auto` creates missing streams and only adds what is missing to existing ones (never
     * lowers an operator's limits); `off` creates and changes no stream and fails at boot when one is missing.
     */
    provision: 'auto' | 'off';
  };
  /** How the service authenticates to NATS and which TLS files it uses (docs/security.md "Transport"). */
  nats: NatsSecurity;
  /** REDIS_URL as given: may carry `user:password@` — log it only through `redactUrl` (`redactUrlList` in cluster mode). */
  redisUrl: string;
  /** REDIS_MODE: one Redis (`standalone`, default) or a Redis Cluster whose seed nodes REDIS_URL lists, comma-separated. */
  redisMode: 'standalone' | 'cluster';
  /** The seed URLs of REDIS_URL (one in standalone mode). */
  redisSeeds: string[];
  /** In cluster mode, after each checkpoint and dedup claim: `WAIT replicas timeoutMs` (REDIS_WAIT_REPLICAS, REDIS_WAIT_TIMEOUT_MS). */
  redisWait: { replicas: number; timeoutMs: number };
  /** REDIS_TLS_* files (with a `rediss://` REDIS_URL). */
  redisTls?: TlsFiles;
  host: string;
  ports: {
    ingestion: number;
    ingestionTcp: number;
    aggregation: number;
    recommendation: number;
    alerting: number;
    dedup: number;
    dashboard: number;
  };
  partitions: number;
  /** The partitions a `static` instance consumes (OWNED_PARTITIONS, default all); in `group` mode: all, as candidates. */
  ownedPartitions: number[];
  /**
   * PARTITION_ASSIGNMENT (docs/scale-out.md "Partitions that move"): `static` (the default) consumes
   * OWNED_PARTITIONS, no group, no leases; `group` shares the partitions among the running instances of the
   * service through leases in Redis. An explicit OWNED_PARTITIONS means `static` (with `group` it is an error).
   */
  partitionAssignment: 'static' | 'group';
  /** Group membership and partition leases (group assignment). */
  group: { heartbeatMs: number; sessionTimeoutMs: number; leaseMs: number };
  maxOutOfOrdernessMs: number;
  allowedLatenessMs: number;
  idleTimeoutMs: number;
  watermarkIdleAdvance: 'wallclock' | 'off';
  dedupTtlMs: number;
  /** Largest accepted HTTP body / NATS ingest request, bytes. */
  maxBodyBytes: number;
  /** Largest accepted TCP NDJSON line, bytes. */
  maxLineBytes: number;
  /** Largest number of events in one request. */
  maxBatchEvents: number;
  /** Accept events at most this far ahead of the ingestion clock (docs/semantics.md "Event time"). */
  maxFutureMs: number;
  /** What one event may hold (docs/settings.md "Limits"): a record beyond a cap is rejected, naming the field. */
  eventLimits: EventLimitsConfig;
  /** TCP NDJSON listener limits (docs/settings.md "Limits"). */
  tcp: TcpLimitsConfig;
  /** HTTP listener limits of every service (docs/settings.md "Limits"). */
  http: HttpLimitsConfig;
  /** JetStream stream sizes, bytes per stream name (docs/settings.md "Limits"). */
  streamMaxBytes: Record<string, number>;
  /** Frames on events.raw/clean (docs/architecture.md "Frames"): events and bytes per frame at most. */
  frameMaxEvents: number;
  frameMaxBytes: number;
  /** How long ingestion holds single-event requests to share a frame per partition. */
  ingestLingerMs: number;
  /** Dedup state: slot hashes, shared by all partitions (size it to ids per horizon / 64; docs/ingestion.md). */
  dedupSlots: number;
  /** How often dedup drops ids past DEDUP_TTL_MS. */
  dedupSweepIntervalMs: number;
  /** Bytes a consumer pulls in one batch at most (frames: about this many bytes of events). */
  consumerBatchBytes: number;
  /** CONSUMER_LINGER_MS: after a pull of fewer messages than a batch holds, wait this long for more (PartitionConsumer lingerMs; dedup, aggregation). */
  consumerLingerMs: number;
  /**
   * Fault injection for the crash tests (TIDEMARK_FAULT, unset in production): `dedup-kill-after-forward:N`
   * makes dedup kill -9 itself right after its N-th clean frame is stored, before the raw frames are acked;
   * `recs-kill-after-checkpoint:N` makes recommendation kill -9 itself right after its N-th checkpoint is
   * written, before the batches it covers are acked.
   */
  fault: { dedupKillAfterForward?: number; recsKillAfterCheckpoint?: number; aggregationKillAfterCheckpoint?: number };
  /** Optional JSON file with user metric definitions (added to the defaults). */
  metricsFile: string | undefined;
  /** How often the aggregation firer checks the watermark and fires due windows. */
  fireIntervalMs: number;
  /** How often stateful consumers checkpoint their in-memory state (docs/checkpoints.md). */
  checkpointIntervalMs: number;
  /** … and after how many events at most. */
  checkpointMaxEvents: number;
  /** How long (in event time) fired window results stay queryable. */
  resultRetentionMs: number;
  /** Wall-clock TTL of window state in Redis (a safety net; the firer purges windows past their lateness). */
  stateTtlMs: number;
  /** How long JetStream waits for a consumer's ack before redelivering (after a crash). */
  ackWaitMs: number;
  /** Publishes awaiting their JetStream ack at most, per process. */
  publishMaxInFlight: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** How `tidemark up` shows its services' logs: `auto` (readable on a terminal, JSON lines elsewhere), `json`, `pretty`. */
  logFormat: 'auto' | 'json' | 'pretty';
  // --- dashboard ---
  /** Where the other services answer (defaults: 127.0.0.1 and their ports), and how often the page updates. */
  dashboard: {
    upstreams: { ingestion: string; dedup: string; aggregation: string; recommendation: string; alerting: string };
    refreshMs: number;
  };
  // --- recommendation (RECS_*) ---
  recs: RecsConfig;
  // --- alerting (apps/alerting) ---
  alerting: AlertingConfig;
}

export interface EventLimitsConfig {
  /** `items` per `order_placed`. */
  maxOrderItems: number;
  /** `attrs` (unknown top-level fields included) as JSON, bytes. */
  maxAttrsBytes: number;
  /** Keys in `attrs`, nested objects' keys counted too. */
  maxAttrsKeys: number;
  /** Nesting of `attrs`: 1 = flat values only. */
  maxAttrsDepth: number;
}

export interface TcpLimitsConfig {
  maxConnections: number;
  maxConnectionsPerPeer: number;
  /** A connection with nothing read or written this long is closed. */
  idleTimeoutMs: number;
  /** The listener stops reading a connection while its unsent replies are over this. */
  maxReplyBufferBytes: number;
}

export interface HttpLimitsConfig {
  /** Time to receive a whole request (headers and body); fastify `requestTimeout`. */
  requestTimeoutMs: number;
  /** A socket with no activity this long is closed; fastify `connectionTimeout`. */
  connectionTimeoutMs: number;
  /** Server-sent-event clients at once, per endpoint. */
  sseMaxClients: number;
  /** A server-sent-event client whose unsent data is over this is dropped. */
  sseMaxBufferBytes: number;
}

/** The recommendation service's settings (docs/recommendations.md); `params` is libs/recommend's RecParams. */
export interface RecsConfig {
  params: RecParams;
  /** Wall-clock TTL of a visit's recent window in Redis. */
  sessionTtlMs: number;
  /** Wall-clock TTL of a user's recent and bought products. */
  userTtlMs: number;
  /** Wall-clock TTL of a product's neighbours and category. */
  itemTtlMs: number;
  /** RECS_CONSUMER_LINGER_MS: the recommendation's consumers wait this long to top up a small pull (CONSUMER_LINGER_MS for the others). */
  consumerLingerMs: number;
  /**
   * RECS_CHECKPOINT_INTERVAL_MS: the recommendation checkpoints at least this often (CHECKPOINT_INTERVAL_MS for the
   * others). Longer than theirs: a checkpoint writes every list it touched whole, so under live traffic it costs
   * per list, not per event (docs/recommendations.md "Checkpoints").
   */
  checkpointIntervalMs: number;
}

/** Settings of the alerting service (docs/alerting.md). */
export interface AlertingConfig {
  /** Webhooks every notification is POSTed to (besides a rule's own `webhooks`). */
  webhookUrls: string[];
  /** Receivers the operator defines (ALERTING_RECEIVERS_FILE), by name; rules name them in `receivers`. */
  receivers: Map<string, Receiver>;
  /** Receivers every notification goes to, like `webhookUrls` (ALERTING_DEFAULT_RECEIVERS). */
  defaultReceivers: string[];
  /** Normalised URL prefixes a rule's raw `webhooks` URL must start with (ALERTING_WEBHOOK_ALLOWLIST). */
  webhookAllowlist: string[];
  /** Alerts below this severity are not POSTed to `webhookUrls` (a rule's own `webhooks` get every alert). */
  webhookMinSeverity: 'info' | 'warning' | 'critical';
  /** Attempts per webhook and notification before it is given up (recorded in Redis `alerting:failed`). */
  webhookMaxAttempts: number;
  /** First retry delay; doubles per attempt up to `webhookBackoffMaxMs`. */
  webhookBackoffMs: number;
  webhookBackoffMaxMs: number;
  /** How long one webhook POST may take. */
  webhookTimeoutMs: number;
  /** Absence rules also fire on the wall clock (nothing arrived for their duration); `off` for replays. */
  absenceWallclock: boolean;
  /** How often the wall-clock checks and pruning run. */
  tickMs: number;
  /** Resolved alerts and quiet series are forgotten this long (event time) after their last window. */
  retentionMs: number;
  /** Seed the default rule set on a first start (empty rule store). */
  seedDefaultRules: boolean;
  /** Caps (docs/settings.md "Limits"): rules, silences (active or pending), a silence's length, given-up deliveries kept. */
  maxRules: number;
  maxSilences: number;
  maxSilenceDurationMs: number;
  failedMax: number;
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, fallback: string): string {
  const v = env[name];
  return v === undefined || v.trim() === '' ? fallback : v.trim();
}

function int(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `"${raw}" is not a whole number`);
  const n = Number(raw.trim());
  if (n < min || n > max) throw new ConfigError(name, `${n} is outside ${min}..${max}`);
  return n;
}

function url(env: Env, name: string, fallback: string, protocols: string[]): string {
  const v = str(env, name, fallback);
  let parsed: URL;
  try {
    parsed = new URL(v);
  } catch {
    throw new ConfigError(name, `"${v}" is not a URL`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `"${v}" must use ${protocols.map((p) => p + '//').join(' or ')}`);
  }
  return v;
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const v = str(env, name, fallback);
  if (!(allowed as readonly string[]).includes(v)) throw new ConfigError(name, `"${v}" is not one of ${allowed.join(', ')}`);
  return v as T;
}

/**
 * A Kubernetes service link: a Service named `ingestion` gives every pod in its namespace
 * `INGESTION_PORT=tcp://10.0.0.1:8080` (docs/operations.md "Service links"). Such a value in a `*_PORT`
 * variable is not ours: it is ignored and the default port is used. Any other non-number still fails.
 */
const SERVICE_LINK = /^(tcp|udp|sctp):\/\/(\[[0-9A-Fa-f:.]+\]|[^\s/:[\]]+):\d{1,5}$/;

function port(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw !== undefined && SERVICE_LINK.test(raw.trim())) return fallback;
  return int(env, name, fallback, 0, 65535);
}

// --- recommendation (RECS_*) ---
/** RECS_SIGNALS: the session answer's signals switched on (docs/recommendations.md, for an ablation). */
function signals(env: Env): RecSignals {
  const spec = env.RECS_SIGNALS;
  if (spec === undefined || spec.trim() === '') return { ...DEFAULT_PARAMS.signals };
  try {
    return parseSignals(spec);
  } catch (e) {
    throw new ConfigError('RECS_SIGNALS', (e as Error).message);
  }
}

function recsConfig(env: Env): RecsConfig {
  let weights = DEFAULT_PARAMS.weights;
  const spec = env.RECS_WEIGHTS;
  if (spec !== undefined && spec.trim() !== '') {
    try {
      weights = parseWeights(spec);
    } catch (e) {
      throw new ConfigError('RECS_WEIGHTS', (e as Error).message);
    }
  }
  const d = DEFAULT_PARAMS;
  return {
    params: {
      weights,
      coocHalfLifeMs: int(env, 'RECS_HALF_LIFE_MS', d.coocHalfLifeMs, 1000),
      trendingHalfLifeMs: int(env, 'RECS_TRENDING_HALF_LIFE_MS', d.trendingHalfLifeMs, 1000),
      neighbours: int(env, 'RECS_NEIGHBOURS', d.neighbours, 1, 1000),
      sessionWindow: int(env, 'RECS_SESSION_WINDOW', d.sessionWindow, 1, 200),
      userRecent: int(env, 'RECS_USER_RECENT', d.userRecent, 1, 200),
      userBought: int(env, 'RECS_USER_BOUGHT', d.userBought, 1, 10_000),
      trendingSize: int(env, 'RECS_TRENDING_SIZE', d.trendingSize, 10, 100_000),
      includeViewed: oneOf(env, 'RECS_INCLUDE_VIEWED', d.includeViewed ? 'true' : 'false', ['true', 'false'] as const) === 'true',
      sessionAnchors: int(env, 'RECS_SESSION_ANCHORS', d.sessionAnchors, 1, 50),
      seqSteps: int(env, 'RECS_SEQ_STEPS', d.seqSteps, 1, 20),
      knnVisits: int(env, 'RECS_KNN_VISITS', d.knnVisits, 1, 1000),
      knnNeighbours: int(env, 'RECS_KNN_NEIGHBOURS', d.knnNeighbours, 1, 500),
      signals: signals(env),
    },
    sessionTtlMs: int(env, 'RECS_SESSION_TTL_MS', 6 * 3_600_000, 1000),
    userTtlMs: int(env, 'RECS_USER_TTL_MS', 30 * 86_400_000, 1000),
    itemTtlMs: int(env, 'RECS_ITEM_TTL_MS', 30 * 86_400_000, 1000),
    consumerLingerMs: int(env, 'RECS_CONSUMER_LINGER_MS', 100, 0, 1000),
    checkpointIntervalMs: int(env, 'RECS_CHECKPOINT_INTERVAL_MS', 1000, 10, 60_000),
  };
}

export function loadConfig(env: Env = process.env): TidemarkConfig {
  const partitions = int(env, 'PARTITIONS', 8, 1, 1024);
  let ownedPartitions: number[];
  try {
    ownedPartitions = parsePartitionList(str(env, 'OWNED_PARTITIONS', 'all'), partitions);
  } catch (e) {
    throw new ConfigError('OWNED_PARTITIONS', (e as Error).message);
  }
  const partitionAssignment = oneOf(env, 'PARTITION_ASSIGNMENT', 'static', ['static', 'group'] as const);
  if (partitionAssignment === 'group' && str(env, 'OWNED_PARTITIONS', '') !== '') {
    throw new ConfigError('PARTITION_ASSIGNMENT', 'group assignment takes partitions through leases: unset OWNED_PARTITIONS (or use PARTITION_ASSIGNMENT=static)');
  }
  const group = {
    heartbeatMs: int(env, 'GROUP_HEARTBEAT_MS', 1000, 50, 60_000),
    sessionTimeoutMs: int(env, 'GROUP_SESSION_TIMEOUT_MS', 6000, 100, 600_000),
    leaseMs: int(env, 'PARTITION_LEASE_MS', 6000, 100, 600_000),
  };
  if (group.sessionTimeoutMs <= 2 * group.heartbeatMs) throw new ConfigError('GROUP_SESSION_TIMEOUT_MS', `${group.sessionTimeoutMs} must be more than twice GROUP_HEARTBEAT_MS (${group.heartbeatMs})`);
  if (group.leaseMs <= 2 * group.heartbeatMs) throw new ConfigError('PARTITION_LEASE_MS', `${group.leaseMs} must be more than twice GROUP_HEARTBEAT_MS (${group.heartbeatMs}): leases are renewed by the heartbeat`);
  const ports = {
    ingestion: port(env, 'INGESTION_PORT', 8080),
    ingestionTcp: port(env, 'INGESTION_TCP_PORT', 9000),
    aggregation: port(env, 'AGGREGATION_PORT', 8081),
    recommendation: port(env, 'RECOMMENDATION_PORT', 8082),
    alerting: port(env, 'ALERTING_PORT', 8083),
    dedup: port(env, 'DEDUP_PORT', 8084),
    dashboard: port(env, 'DASHBOARD_PORT', 8090),
  };
  const local = (p: number) => `http://127.0.0.1:${p}`;
  const http = ['http:', 'https:'];
  const host = str(env, 'HOST', '127.0.0.1');
  const redisMode = oneOf(env, 'REDIS_MODE', 'standalone', ['standalone', 'cluster'] as const);
  const redisUrl = redisMode === 'cluster' ? str(env, 'REDIS_URL', 'redis://127.0.0.1:6379') : url(env, 'REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']);
  const redisSeeds = redisMode === 'cluster' ? redisSeedList(env, redisUrl) : [redisUrl];
  const { nats, redisTlsFiles } = transport(env, redisSeeds[0]);
  return {
    ...authConfig(env, host),
    natsUrl: nats.url,
    natsServers: nats.servers,
    nats: nats.security,
    jetstream: {
      replicas: int(env, 'JETSTREAM_REPLICAS', 1, 1, 5),
      provision: oneOf(env, 'JETSTREAM_PROVISION', 'auto', ['auto', 'off'] as const),
    },
    redisUrl,
    redisMode,
    redisSeeds,
    redisWait: { replicas: int(env, 'REDIS_WAIT_REPLICAS', 1, 0, 16), timeoutMs: int(env, 'REDIS_WAIT_TIMEOUT_MS', 100, 1, 60_000) },
    ...(redisTlsFiles ? { redisTls: redisTlsFiles } : {}),
    host,
    ports,
    partitions,
    ownedPartitions,
    partitionAssignment,
    group,
    maxOutOfOrdernessMs: int(env, 'MAX_OUT_OF_ORDERNESS_MS', 5000, 0),
    allowedLatenessMs: int(env, 'ALLOWED_LATENESS_MS', 60000, 0),
    idleTimeoutMs: int(env, 'IDLE_TIMEOUT_MS', 10000, 1),
    watermarkIdleAdvance: oneOf(env, 'WATERMARK_IDLE_ADVANCE', 'wallclock', ['wallclock', 'off'] as const),
    dedupTtlMs: int(env, 'DEDUP_TTL_MS', 86_400_000, 1000),
    maxBodyBytes: int(env, 'INGESTION_MAX_BODY_BYTES', 5 * 1024 * 1024, 1024),
    maxLineBytes: int(env, 'INGESTION_MAX_LINE_BYTES', 64 * 1024, 256),
    maxBatchEvents: int(env, 'INGESTION_MAX_BATCH_EVENTS', 10_000, 1),
    maxFutureMs: int(env, 'INGESTION_MAX_FUTURE_MS', DEFAULT_MAX_FUTURE_MS, 0),
    eventLimits: {
      maxOrderItems: int(env, 'INGESTION_MAX_ORDER_ITEMS', DEFAULT_EVENT_LIMITS.maxOrderItems, 1, 1000),
      maxAttrsBytes: int(env, 'INGESTION_MAX_ATTRS_BYTES', DEFAULT_EVENT_LIMITS.maxAttrsBytes, 2, 1024 * 1024),
      maxAttrsKeys: int(env, 'INGESTION_MAX_ATTRS_KEYS', DEFAULT_EVENT_LIMITS.maxAttrsKeys, 0, 10_000),
      maxAttrsDepth: int(env, 'INGESTION_MAX_ATTRS_DEPTH', DEFAULT_EVENT_LIMITS.maxAttrsDepth, 1, 32),
    },
    tcp: {
      maxConnections: int(env, 'INGESTION_TCP_MAX_CONNECTIONS', 1024, 1, 1_000_000),
      maxConnectionsPerPeer: int(env, 'INGESTION_TCP_MAX_CONNECTIONS_PER_PEER', 64, 1, 1_000_000),
      idleTimeoutMs: int(env, 'INGESTION_TCP_IDLE_TIMEOUT_MS', 120_000, 100),
      maxReplyBufferBytes: int(env, 'INGESTION_TCP_MAX_REPLY_BUFFER_BYTES', 1024 * 1024, 1024),
    },
    http: {
      requestTimeoutMs: int(env, 'HTTP_REQUEST_TIMEOUT_MS', 30_000, 100),
      connectionTimeoutMs: int(env, 'HTTP_CONNECTION_TIMEOUT_MS', 120_000, 100),
      sseMaxClients: int(env, 'SSE_MAX_CLIENTS', 256, 1, 100_000),
      sseMaxBufferBytes: int(env, 'SSE_MAX_BUFFER_BYTES', 1024 * 1024, 1024),
    },
    streamMaxBytes: streamMaxBytes(env),
    frameMaxEvents: int(env, 'FRAME_MAX_EVENTS', 1000, 1, 4096),
    frameMaxBytes: int(env, 'FRAME_MAX_BYTES', 256 * 1024, 1024, 900 * 1024),
    ingestLingerMs: int(env, 'INGESTION_LINGER_MS', 2, 0, 1000),
    dedupSlots: int(env, 'DEDUP_SLOTS', 65_536, 1, 1 << 24),
    dedupSweepIntervalMs: int(env, 'DEDUP_SWEEP_INTERVAL_MS', 600_000, 1000),
    consumerBatchBytes: int(env, 'CONSUMER_BATCH_BYTES', 1024 * 1024, 1024 * 1024, 64 * 1024 * 1024),
    consumerLingerMs: int(env, 'CONSUMER_LINGER_MS', 50, 0, 1000),
    fault: fault(env),
    metricsFile: env.METRICS_FILE?.trim() || undefined,
    fireIntervalMs: int(env, 'FIRE_INTERVAL_MS', 200, 10),
    checkpointIntervalMs: int(env, 'CHECKPOINT_INTERVAL_MS', 200, 10),
    checkpointMaxEvents: int(env, 'CHECKPOINT_MAX_EVENTS', 20_000, 1),
    resultRetentionMs: int(env, 'RESULT_RETENTION_MS', 7 * 86_400_000, 60_000),
    stateTtlMs: int(env, 'STATE_TTL_MS', 7 * 86_400_000, 60_000),
    ackWaitMs: int(env, 'ACK_WAIT_MS', 30_000, 1000),
    publishMaxInFlight: int(env, 'PUBLISH_MAX_IN_FLIGHT', 8192, 1, 1_000_000),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', ['debug', 'info', 'warn', 'error'] as const),
    logFormat: oneOf(env, 'LOG_FORMAT', 'auto', ['auto', 'json', 'pretty'] as const),
    dashboard: {
      upstreams: {
        ingestion: url(env, 'INGESTION_URL', local(ports.ingestion), http),
        dedup: url(env, 'DEDUP_URL', local(ports.dedup), http),
        aggregation: url(env, 'AGGREGATION_URL', local(ports.aggregation), http),
        recommendation: url(env, 'RECOMMENDATION_URL', local(ports.recommendation), http),
        alerting: url(env, 'ALERTING_URL', local(ports.alerting), http),
      },
      refreshMs: int(env, 'DASHBOARD_REFRESH_MS', 1000, 100),
    },
    recs: recsConfig(env),
    // --- alerting (apps/alerting) ---
    alerting: {
      webhookUrls: urlList(env, 'ALERTING_WEBHOOK_URLS'),
      ...webhookReceivers(env),
      webhookMinSeverity: oneOf(env, 'ALERTING_WEBHOOK_MIN_SEVERITY', 'warning', ['info', 'warning', 'critical'] as const),
      webhookMaxAttempts: int(env, 'ALERTING_WEBHOOK_MAX_ATTEMPTS', 12, 1, 100),
      webhookBackoffMs: int(env, 'ALERTING_WEBHOOK_BACKOFF_MS', 500, 1),
      webhookBackoffMaxMs: int(env, 'ALERTING_WEBHOOK_BACKOFF_MAX_MS', 60_000, 1),
      webhookTimeoutMs: int(env, 'ALERTING_WEBHOOK_TIMEOUT_MS', 5000, 100),
      absenceWallclock: oneOf(env, 'ALERTING_ABSENCE_WALLCLOCK', 'on', ['on', 'off'] as const) === 'on',
      tickMs: int(env, 'ALERTING_TICK_MS', 1000, 10),
      retentionMs: int(env, 'ALERTING_RETENTION_MS', 86_400_000, 60_000),
      seedDefaultRules: oneOf(env, 'ALERTING_SEED_DEFAULT_RULES', 'on', ['on', 'off'] as const) === 'on',
      maxRules: int(env, 'ALERTING_MAX_RULES', 500, 1, 100_000),
      maxSilences: int(env, 'ALERTING_MAX_SILENCES', 1000, 1, 100_000),
      maxSilenceDurationMs: int(env, 'ALERTING_MAX_SILENCE_DURATION_MS', 90 * 86_400_000, 60_000, 3650 * 86_400_000),
      failedMax: int(env, 'ALERTING_FAILED_MAX', 1000, 1, 1_000_000),
    },
  };
}

/**
 * API_KEYS, API_KEYS_FILE and AUTH, with protected mode: never an open service on a reachable address by
 * accident. Also the dashboard's upstream key: DASHBOARD_API_KEY, or the first `read` entry.
 */
function authConfig(env: Env, host: string): Pick<TidemarkConfig, 'auth' | 'dashboardApiKey' | 'clientApiKey'> {
  const mode = oneOf(env, 'AUTH', 'on', ['on', 'off'] as const);
  const sources: { variable: string; entries: string[] }[] = [];
  const inline = str(env, 'API_KEYS', '');
  if (inline !== '') sources.push({ variable: 'API_KEYS', entries: inline.split(',') });
  const file = str(env, 'API_KEYS_FILE', '');
  if (file !== '') {
    try {
      sources.push({ variable: 'API_KEYS_FILE', entries: keyFileEntries(fs.readFileSync(file, 'utf8')) });
    } catch (e) {
      throw new ConfigError('API_KEYS_FILE', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const keys: ApiKey[] = [];
  for (const { variable, entries } of sources) {
    try {
      keys.push(...parseApiKeys(entries, variable));
    } catch (e) {
      throw new ConfigError(variable, (e as ApiKeyError).message);
    }
  }
  const own = (name: string) => str(env, name, '') || undefined;
  if (mode === 'off') return { auth: { keys: [], off: true }, dashboardApiKey: own('DASHBOARD_API_KEY'), clientApiKey: own('TIDEMARK_API_KEY') };
  if (keys.length === 0 && !isLoopbackHost(host)) {
    throw new ConfigError('API_KEYS', `HOST=${host} is reachable from other machines and no API keys are configured: set API_KEYS or API_KEYS_FILE, or AUTH=off to run open on purpose`);
  }
  // The first secret of an entry with the scope (the entries parsed above, so well-formed).
  const firstWith = (scope: string) => {
    const entry = sources.flatMap((x) => x.entries.map((e) => e.trim())).find((e) => e.slice(0, Math.max(0, e.indexOf(':'))).split('+').includes(scope));
    return entry?.slice(entry.indexOf(':') + 1);
  };
  return { auth: { keys, off: false }, dashboardApiKey: own('DASHBOARD_API_KEY') ?? firstWith('read'), clientApiKey: own('TIDEMARK_API_KEY') ?? firstWith('ingest') };
}

/** NATS_* and REDIS_TLS_* transport security (libs/config/src/transport.ts), errors named by variable. */
function transport(env: Env, redisUrl: string) {
  const natsUrl = natsUrlList(env);
  try {
    return { nats: natsSecurity(env, natsUrl), redisTlsFiles: redisTls(env, redisUrl) };
  } catch (e) {
    if (e instanceof TransportSettingError) throw new ConfigError(e.variable, e.message);
    throw e;
  }
}

/**
 * NATS_URL: one server or a cluster's servers, comma-separated (`nats://a:4222,nats://b:4222`); each entry
 * checked like a single URL (nats://, tls://, ws://, wss://), none empty or listed twice.
 */
function natsUrlList(env: Env): string {
  const raw = str(env, 'NATS_URL', 'nats://127.0.0.1:4222');
  const protocols = ['nats:', 'tls:', 'ws:', 'wss:'];
  const entries = raw.split(',').map((x) => x.trim());
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    const which = entries.length > 1 ? `server ${i + 1} of ${entries.length}: ` : '';
    if (entry === '') throw new ConfigError('NATS_URL', `${which}empty entry in "${redactUrlsIn(raw)}" (servers are separated by single commas)`);
    let parsed: URL;
    try {
      parsed = new URL(entry);
    } catch {
      throw new ConfigError('NATS_URL', `${which}"${redactUrlsIn(entry)}" is not a URL`);
    }
    if (!protocols.includes(parsed.protocol)) throw new ConfigError('NATS_URL', `${which}"${redactUrl(entry)}" must use ${protocols.map((p) => p + '//').join(' or ')}`);
    const id = `${parsed.host}`;
    if (seen.has(id)) throw new ConfigError('NATS_URL', `${which}${parsed.host} is listed twice`);
    seen.add(id);
  });
  return entries.join(',');
}

/** ALERTING_RECEIVERS_FILE, ALERTING_DEFAULT_RECEIVERS and ALERTING_WEBHOOK_ALLOWLIST (docs/security.md "Webhooks"). */
function webhookReceivers(env: Env): Pick<AlertingConfig, 'receivers' | 'defaultReceivers' | 'webhookAllowlist'> {
  let receivers = new Map<string, Receiver>();
  const file = str(env, 'ALERTING_RECEIVERS_FILE', '');
  if (file !== '') {
    try {
      receivers = parseReceivers(fs.readFileSync(readableFile('ALERTING_RECEIVERS_FILE', file), 'utf8'));
    } catch (e) {
      if (e instanceof ReceiversError || e instanceof TransportSettingError) throw new ConfigError('ALERTING_RECEIVERS_FILE', `${file}: ${e.message}`);
      throw e;
    }
  }
  const list = (name: string) =>
    str(env, name, '')
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
  const defaultReceivers = list('ALERTING_DEFAULT_RECEIVERS');
  for (const n of defaultReceivers) if (!receivers.has(n)) throw new ConfigError('ALERTING_DEFAULT_RECEIVERS', `"${n}" is not a receiver of ALERTING_RECEIVERS_FILE`);
  const webhookAllowlist = list('ALERTING_WEBHOOK_ALLOWLIST').map((p) => {
    try {
      return normalizeAllowPrefix(p);
    } catch (e) {
      throw new ConfigError('ALERTING_WEBHOOK_ALLOWLIST', (e as Error).message);
    }
  });
  return { receivers, defaultReceivers, webhookAllowlist };
}

/** Default size of each JetStream stream, bytes; `STREAM_MAX_BYTES_<NAME>` overrides one (docs/settings.md "Limits"). */
export const DEFAULT_STREAM_MAX_BYTES: Record<string, number> = Object.fromEntries(ALL_STREAMS.map((s) => [s.name, s.maxBytes ?? 0]));

function streamMaxBytes(env: Env): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, fallback] of Object.entries(DEFAULT_STREAM_MAX_BYTES)) out[name] = int(env, `STREAM_MAX_BYTES_${name}`, fallback, 1024 * 1024);
  return out;
}

function fault(env: Env): TidemarkConfig['fault'] {
  const raw = str(env, 'TIDEMARK_FAULT', '');
  if (raw === '') return {};
  const m = /^(dedup-kill-after-forward|recs-kill-after-checkpoint|aggregation-kill-after-checkpoint):(\d+)$/.exec(raw);
  if (!m || Number(m[2]) < 1) {
    throw new ConfigError('TIDEMARK_FAULT', `"${raw}" is not dedup-kill-after-forward:<N ≥ 1>, recs-kill-after-checkpoint:<N ≥ 1> or aggregation-kill-after-checkpoint:<N ≥ 1>`);
  }
  const n = Number(m[2]);
  if (m[1] === 'dedup-kill-after-forward') return { dedupKillAfterForward: n };
  return m[1] === 'recs-kill-after-checkpoint' ? { recsKillAfterCheckpoint: n } : { aggregationKillAfterCheckpoint: n };
}

/**
 * REDIS_URL in cluster mode: seed nodes, comma-separated, each a redis:// or rediss:// URL; one scheme and
 * one set of credentials for all (the cluster's nodes share them), so TLS and AUTH apply to every node.
 */
function redisSeedList(env: Env, raw: string): string[] {
  const seeds = raw
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  if (seeds.length === 0) throw new ConfigError('REDIS_URL', 'lists no seed node');
  const parsed = seeds.map((u) => {
    try {
      const p = new URL(u);
      if ((p.protocol === 'redis:' || p.protocol === 'rediss:') && p.hostname !== '') return p;
    } catch {
      // reported below
    }
    throw new ConfigError('REDIS_URL', `"${redactUrl(u)}" is not a redis:// or rediss:// URL`);
  });
  const first = parsed[0];
  for (const p of parsed) {
    if (p.protocol !== first.protocol) throw new ConfigError('REDIS_URL', 'seed nodes mix redis:// and rediss://');
    if (p.username !== first.username || p.password !== first.password) throw new ConfigError('REDIS_URL', 'seed nodes carry different credentials');
  }
  return seeds;
}

/** A comma-separated list of http(s) URLs (empty by default). */
function urlList(env: Env, name: string): string[] {
  const raw = str(env, name, '');
  if (raw === '') return [];
  return raw
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '')
    .map((u) => {
      try {
        const p = new URL(u);
        if (p.protocol === 'http:' || p.protocol === 'https:') return u;
      } catch {
        // reported below
      }
      throw new ConfigError(name, `"${u}" is not an http:// or https:// URL`);
    });
}
