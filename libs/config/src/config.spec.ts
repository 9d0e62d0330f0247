import { ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    const c = loadConfig({});
    expect(c.natsUrl).toBe('nats://127.0.0.1:4222');
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(c.ports).toEqual({
      ingestion: 8080,
      ingestionTcp: 9000,
      aggregation: 8081,
      recommendation: 8082,
      alerting: 8083,
      dedup: 8084,
      dashboard: 8090,
    });
    expect(c.partitions).toBe(8);
    expect(c.ownedPartitions).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(c.maxOutOfOrdernessMs).toBe(5000);
    expect(c.allowedLatenessMs).toBe(60000);
    expect(c.idleTimeoutMs).toBe(10000);
    expect(c.watermarkIdleAdvance).toBe('wallclock');
    expect(c.dedupTtlMs).toBe(86400000);
    expect(c.metricsFile).toBeUndefined();
  });

  it('points the dashboard at the other services on their ports, or at the given URLs', () => {
    expect(loadConfig({ AGGREGATION_PORT: '9181' }).dashboard).toEqual({
      upstreams: {
        ingestion: 'http://127.0.0.1:8080',
        dedup: 'http://127.0.0.1:8084',
        aggregation: 'http://127.0.0.1:9181',
        recommendation: 'http://127.0.0.1:8082',
        alerting: 'http://127.0.0.1:8083',
      },
      refreshMs: 1000,
    });
    expect(loadConfig({ ALERTING_URL: 'http://alerting:8083' }).dashboard.upstreams.alerting).toBe('http://alerting:8083');
    expect(() => loadConfig({ ALERTING_URL: 'nats://x' })).toThrow(/^invalid ALERTING_URL:/);
    expect(() => loadConfig({ DASHBOARD_REFRESH_MS: '5' })).toThrow(/^invalid DASHBOARD_REFRESH_MS:/);
  });

  it('reads overrides', () => {
    const c = loadConfig({ PARTITIONS: '4', OWNED_PARTITIONS: '0-1', INGESTION_PORT: '0', WATERMARK_IDLE_ADVANCE: 'off' });
    expect(c.partitions).toBe(4);
    expect(c.ownedPartitions).toEqual([0, 1]);
    expect(c.ports.ingestion).toBe(0);
    expect(c.watermarkIdleAdvance).toBe('off');
  });

  it('partition assignment: static by default (OWNED_PARTITIONS, no group), group on demand, with its timings', () => {
    const d = loadConfig({});
    expect(d.partitionAssignment).toBe('static');
    expect(d.group).toEqual({ heartbeatMs: 1000, sessionTimeoutMs: 6000, leaseMs: 6000 });
    const g = loadConfig({ PARTITIONS: '4', PARTITION_ASSIGNMENT: 'group', GROUP_HEARTBEAT_MS: '200', GROUP_SESSION_TIMEOUT_MS: '1500', PARTITION_LEASE_MS: '2000' });
    expect(g.partitionAssignment).toBe('group');
    expect(g.ownedPartitions).toEqual([0, 1, 2, 3]);
    expect(g.group).toEqual({ heartbeatMs: 200, sessionTimeoutMs: 1500, leaseMs: 2000 });
    expect(loadConfig({ OWNED_PARTITIONS: '0-1', PARTITION_ASSIGNMENT: 'static' }).partitionAssignment).toBe('static');
  });

  it.each([
    [{ PARTITION_ASSIGNMENT: 'dynamic' }, 'PARTITION_ASSIGNMENT'],
    [{ PARTITION_ASSIGNMENT: 'group', OWNED_PARTITIONS: '0-1' }, 'PARTITION_ASSIGNMENT'],
    [{ GROUP_HEARTBEAT_MS: '1000', GROUP_SESSION_TIMEOUT_MS: '2000' }, 'GROUP_SESSION_TIMEOUT_MS'],
    [{ GROUP_HEARTBEAT_MS: '1000', PARTITION_LEASE_MS: '1500' }, 'PARTITION_LEASE_MS'],
    [{ PARTITIONS: 'eight' }, 'PARTITIONS'],
    [{ PARTITIONS: '0' }, 'PARTITIONS'],
    [{ INGESTION_PORT: '70000' }, 'INGESTION_PORT'],
    [{ NATS_URL: 'http://x' }, 'NATS_URL'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ OWNED_PARTITIONS: '9' }, 'OWNED_PARTITIONS'],
    [{ OWNED_PARTITIONS: '3-1' }, 'OWNED_PARTITIONS'],
    [{ WATERMARK_IDLE_ADVANCE: 'sometimes' }, 'WATERMARK_IDLE_ADVANCE'],
    [{ DEDUP_TTL_MS: '-5' }, 'DEDUP_TTL_MS'],
  ])('fails fast naming the variable: %j', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^invalid ${name}:`));
  });

  it('Redis Cluster: REDIS_MODE, seed nodes, WAIT settings; standalone unchanged', () => {
    const d = loadConfig({});
    expect(d.redisMode).toBe('standalone');
    expect(d.redisSeeds).toEqual(['redis://127.0.0.1:6379']);
    expect(d.redisWait).toEqual({ replicas: 1, timeoutMs: 100 });
    const c = loadConfig({ REDIS_MODE: 'cluster', REDIS_URL: 'redis://u:pw@h1:7000, redis://u:pw@h2:7001,', REDIS_WAIT_REPLICAS: '2', REDIS_WAIT_TIMEOUT_MS: '250' });
    expect(c.redisMode).toBe('cluster');
    expect(c.redisSeeds).toEqual(['redis://u:pw@h1:7000', 'redis://u:pw@h2:7001']);
    expect(c.redisWait).toEqual({ replicas: 2, timeoutMs: 250 });
    expect(loadConfig({ REDIS_MODE: 'cluster', REDIS_WAIT_REPLICAS: '0' }).redisWait.replicas).toBe(0);
  });

  it.each([
    [{ REDIS_MODE: 'sentinel' }, 'REDIS_MODE', /not one of standalone, cluster/],
    [{ REDIS_MODE: 'cluster', REDIS_URL: 'redis://h1:7000,http://h2:7001' }, 'REDIS_URL', /not a redis/],
    [{ REDIS_MODE: 'cluster', REDIS_URL: 'redis://h1:7000,rediss://h2:7001' }, 'REDIS_URL', /mix/],
    [{ REDIS_MODE: 'cluster', REDIS_URL: 'redis://a:secret@h1:7000,redis://b:other@h2:7001' }, 'REDIS_URL', /different credentials/],
    [{ REDIS_MODE: 'cluster', REDIS_URL: ' , ' }, 'REDIS_URL', /no seed/],
    [{ REDIS_MODE: 'cluster', REDIS_URL: 'redis://h1:7000', REDIS_TLS_CA_FILE: __filename }, 'REDIS_TLS_CA_FILE', /rediss/],
    [{ REDIS_WAIT_REPLICAS: 'x' }, 'REDIS_WAIT_REPLICAS', /whole number/],
    [{ REDIS_WAIT_TIMEOUT_MS: '0' }, 'REDIS_WAIT_TIMEOUT_MS', /outside/],
  ])('Redis Cluster settings fail fast naming the variable: %j', (env, name, why) => {
    expect(() => loadConfig(env)).toThrow(new RegExp(`^invalid ${name}:`));
    expect(() => loadConfig(env)).toThrow(why);
  });

  it('never shows a seed password in a REDIS_URL error', () => {
    expect(() => loadConfig({ REDIS_MODE: 'cluster', REDIS_URL: 'redis://u:hunter2@h1:7000,ftp://u:hunter2@h2' })).toThrow(/ftp:\/\/u:\*\*\*@h2/);
    expect(() => loadConfig({ REDIS_MODE: 'cluster', REDIS_URL: 'redis://u:hunter2@h1:7000,ftp://u:hunter2@h2' })).not.toThrow(/hunter2/);
  });

  it('limits: documented defaults (docs/settings.md "Limits"), overrides, and errors naming the variable', () => {
    const c = loadConfig({});
    expect(c.maxFutureMs).toBe(300_000);
    expect(c.eventLimits).toEqual({ maxOrderItems: 100, maxAttrsBytes: 8192, maxAttrsKeys: 64, maxAttrsDepth: 4 });
    expect(c.tcp).toEqual({ maxConnections: 1024, maxConnectionsPerPeer: 64, idleTimeoutMs: 120_000, maxReplyBufferBytes: 1024 * 1024 });
    expect(c.http).toEqual({ requestTimeoutMs: 30_000, connectionTimeoutMs: 120_000, sseMaxClients: 256, sseMaxBufferBytes: 1024 * 1024 });
    expect(c.streamMaxBytes).toEqual({
      EVENTS_RAW: 8 * 1024 ** 3,
      EVENTS_CLEAN: 8 * 1024 ** 3,
      EVENTS_LATE: 1024 ** 3,
      RESULTS: 2 * 1024 ** 3,
      ALERTS: 1024 ** 3,
      DLQ: 1024 ** 3,
    });
    const o = loadConfig({ INGESTION_TCP_MAX_CONNECTIONS_PER_PEER: '3', STREAM_MAX_BYTES_DLQ: '2097152', INGESTION_MAX_ORDER_ITEMS: '1000' });
    expect(o.tcp.maxConnectionsPerPeer).toBe(3);
    expect(o.streamMaxBytes.DLQ).toBe(2097152);
    expect(o.eventLimits.maxOrderItems).toBe(1000);
    expect(() => loadConfig({ INGESTION_MAX_ORDER_ITEMS: '1001' })).toThrow(/^invalid INGESTION_MAX_ORDER_ITEMS:/);
    expect(() => loadConfig({ INGESTION_TCP_MAX_CONNECTIONS: '0' })).toThrow(/^invalid INGESTION_TCP_MAX_CONNECTIONS:/);
    expect(() => loadConfig({ STREAM_MAX_BYTES_EVENTS_RAW: '10' })).toThrow(/^invalid STREAM_MAX_BYTES_EVENTS_RAW:/);
    expect(() => loadConfig({ SSE_MAX_CLIENTS: 'many' })).toThrow(/^invalid SSE_MAX_CLIENTS:/);
    expect(() => loadConfig({ ALERTING_MAX_SILENCE_DURATION_MS: '5' })).toThrow(/^invalid ALERTING_MAX_SILENCE_DURATION_MS:/);
  });

  it('consumer linger: 50 ms for dedup and aggregation, 100 ms for the recommendation; overrides; bounds', () => {
    const c = loadConfig({});
    expect([c.consumerLingerMs, c.recs.consumerLingerMs]).toEqual([50, 100]);
    const o = loadConfig({ CONSUMER_LINGER_MS: '20', RECS_CONSUMER_LINGER_MS: '0' });
    expect([o.consumerLingerMs, o.recs.consumerLingerMs]).toEqual([20, 0]);
    expect(() => loadConfig({ CONSUMER_LINGER_MS: '1001' })).toThrow(/^invalid CONSUMER_LINGER_MS:/);
    expect(() => loadConfig({ RECS_CONSUMER_LINGER_MS: '-1' })).toThrow(/^invalid RECS_CONSUMER_LINGER_MS:/);
  });

  it('checkpoint interval: 200 ms, the recommendation its own 1,000 ms, set apart; bounds', () => {
    const c = loadConfig({});
    expect([c.checkpointIntervalMs, c.recs.checkpointIntervalMs]).toEqual([200, 1000]);
    const o = loadConfig({ CHECKPOINT_INTERVAL_MS: '50' });
    expect([o.checkpointIntervalMs, o.recs.checkpointIntervalMs]).toEqual([50, 1000]);
    const r = loadConfig({ RECS_CHECKPOINT_INTERVAL_MS: '250' });
    expect([r.checkpointIntervalMs, r.recs.checkpointIntervalMs]).toEqual([200, 250]);
    expect(() => loadConfig({ RECS_CHECKPOINT_INTERVAL_MS: '5' })).toThrow(/^invalid RECS_CHECKPOINT_INTERVAL_MS:/);
    expect(() => loadConfig({ RECS_CHECKPOINT_INTERVAL_MS: '60001' })).toThrow(/^invalid RECS_CHECKPOINT_INTERVAL_MS:/);
  });

  // --- alerting (apps/alerting) ---
  it('alerting: defaults, overrides and errors naming the variable', () => {
    expect(loadConfig({}).alerting).toEqual({
      webhookUrls: [],
      receivers: new Map(),
      defaultReceivers: [],
      webhookAllowlist: [],
      webhookMinSeverity: 'warning',
      webhookMaxAttempts: 12,
      webhookBackoffMs: 500,
      webhookBackoffMaxMs: 60000,
      webhookTimeoutMs: 5000,
      absenceWallclock: true,
      tickMs: 1000,
      retentionMs: 86400000,
      seedDefaultRules: true,
      maxRules: 500,
      maxSilences: 1000,
      maxSilenceDurationMs: 90 * 86400000,
      failedMax: 1000,
    });
    const c = loadConfig({ ALERTING_WEBHOOK_URLS: 'http://a/hook, https://b/x', ALERTING_ABSENCE_WALLCLOCK: 'off', ALERTING_SEED_DEFAULT_RULES: 'off' }).alerting;
    expect(c.webhookUrls).toEqual(['http://a/hook', 'https://b/x']);
    expect(c.absenceWallclock).toBe(false);
    expect(c.seedDefaultRules).toBe(false);
    expect(() => loadConfig({ ALERTING_WEBHOOK_URLS: 'http://a, ftp://b' })).toThrow(/^invalid ALERTING_WEBHOOK_URLS: "ftp:\/\/b"/);
    expect(() => loadConfig({ ALERTING_WEBHOOK_MAX_ATTEMPTS: '0' })).toThrow(/^invalid ALERTING_WEBHOOK_MAX_ATTEMPTS:/);
    expect(() => loadConfig({ ALERTING_ABSENCE_WALLCLOCK: 'maybe' })).toThrow(/^invalid ALERTING_ABSENCE_WALLCLOCK:/);
    expect(loadConfig({ ALERTING_WEBHOOK_MIN_SEVERITY: 'info' }).alerting.webhookMinSeverity).toBe('info');
    expect(() => loadConfig({ ALERTING_WEBHOOK_MIN_SEVERITY: 'loud' })).toThrow(/^invalid ALERTING_WEBHOOK_MIN_SEVERITY:/);
  });
});

// --- recommendation (RECS_*) ---
describe('loadConfig: recommendation settings', () => {
  it('defaults', () => {
    const r = loadConfig({}).recs;
    expect(r.params).toEqual({
      weights: { view: 1, cart: 3, purchase: 5 },
      coocHalfLifeMs: 604_800_000,
      trendingHalfLifeMs: 3_600_000,
      neighbours: 50,
      sessionWindow: 20,
      userRecent: 20,
      userBought: 200,
      trendingSize: 500,
      includeViewed: true,
      sessionAnchors: 10,
      seqSteps: 3,
      knnVisits: 100,
      knnNeighbours: 50,
      signals: { neighbours: true, sequence: true, knn: true, category: true },
    });
    expect([r.sessionTtlMs, r.userTtlMs, r.itemTtlMs]).toEqual([21_600_000, 2_592_000_000, 2_592_000_000]);
  });

  it('reads overrides', () => {
    const r = loadConfig({ RECS_WEIGHTS: 'cart:2, purchase:10', RECS_HALF_LIFE_MS: '60000', RECS_INCLUDE_VIEWED: 'false', RECS_NEIGHBOURS: '5' }).recs;
    expect(r.params.weights).toEqual({ view: 1, cart: 2, purchase: 10 });
    expect(r.params.coocHalfLifeMs).toBe(60000);
    expect(r.params.includeViewed).toBe(false);
    expect(r.params.neighbours).toBe(5);
    const s = loadConfig({ RECS_SIGNALS: 'neighbours,category', RECS_SESSION_ANCHORS: '3', RECS_SEQ_STEPS: '2', RECS_KNN_VISITS: '20', RECS_KNN_NEIGHBOURS: '5' }).recs.params;
    expect([s.signals, s.sessionAnchors, s.seqSteps, s.knnVisits, s.knnNeighbours]).toEqual([{ neighbours: true, sequence: false, knn: false, category: true }, 3, 2, 20, 5]);
  });

  it.each([
    [{ RECS_WEIGHTS: 'view:0' }, 'RECS_WEIGHTS'],
    [{ RECS_WEIGHTS: 'click:1' }, 'RECS_WEIGHTS'],
    [{ RECS_WEIGHTS: 'view:1,view:2' }, 'RECS_WEIGHTS'],
    [{ RECS_HALF_LIFE_MS: '10' }, 'RECS_HALF_LIFE_MS'],
    [{ RECS_TRENDING_HALF_LIFE_MS: 'soon' }, 'RECS_TRENDING_HALF_LIFE_MS'],
    [{ RECS_NEIGHBOURS: '0' }, 'RECS_NEIGHBOURS'],
    [{ RECS_INCLUDE_VIEWED: 'yes' }, 'RECS_INCLUDE_VIEWED'],
    [{ RECS_SIGNALS: 'neighbours,trending' }, 'RECS_SIGNALS'],
    [{ RECS_SIGNALS: 'knn,knn' }, 'RECS_SIGNALS'],
    [{ RECS_SESSION_ANCHORS: '0' }, 'RECS_SESSION_ANCHORS'],
    [{ RECS_SEQ_STEPS: '21' }, 'RECS_SEQ_STEPS'],
    [{ RECS_KNN_VISITS: 'many' }, 'RECS_KNN_VISITS'],
    [{ RECS_KNN_NEIGHBOURS: '0' }, 'RECS_KNN_NEIGHBOURS'],
  ])('fails fast naming the variable: %j', (env, name) => {
    expect(() => loadConfig(env)).toThrow(new RegExp(`^invalid ${name}:`));
  });
});

describe('loadConfig: API keys and protected mode', () => {
  const fs = require('node:fs') as typeof import('node:fs');
  const os = require('node:os') as typeof import('node:os');
  const path = require('node:path') as typeof import('node:path');

  it('is open on loopback without keys', () => {
    expect(loadConfig({}).auth).toEqual({ keys: [], off: false });
    expect(loadConfig({}).dashboardApiKey).toBeUndefined();
    expect(loadConfig({ API_KEYS: 'read:abcdefghijklmnop,ingest+read:bcdefghijklmnopq' }).clientApiKey).toBe('bcdefghijklmnopq');
    expect(loadConfig({ API_KEYS: 'read:abcdefghijklmnop', TIDEMARK_API_KEY: 'given' }).clientApiKey).toBe('given');
  });

  it('refuses to start on a reachable address without keys, naming API_KEYS, unless AUTH=off', () => {
    expect(() => loadConfig({ HOST: '0.0.0.0' })).toThrow(/^invalid API_KEYS: HOST=0.0.0.0 is reachable/);
    expect(() => loadConfig({ HOST: '10.1.2.3' })).toThrow(/invalid API_KEYS/);
    expect(loadConfig({ HOST: '0.0.0.0', AUTH: 'off' }).auth).toEqual({ keys: [], off: true });
    expect(loadConfig({ HOST: '0.0.0.0', API_KEYS: 'read:abcdefghijklmnop' }).auth.keys).toHaveLength(1);
  });

  it('reads API_KEYS and API_KEYS_FILE together; the dashboard takes the first read key unless DASHBOARD_API_KEY says', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tm-keys-'));
    const file = path.join(dir, 'keys');
    fs.writeFileSync(file, '# operators\nadmin+read:filesecret-0000001\n');
    const c = loadConfig({ API_KEYS: 'ingest:inlinesecret-00001', API_KEYS_FILE: file });
    expect(c.auth.keys.map((k) => [...k.scopes].join('+'))).toEqual(['ingest', 'admin+read']);
    expect(c.dashboardApiKey).toBe('filesecret-0000001');
    expect(loadConfig({ API_KEYS: 'ingest:inlinesecret-00001', API_KEYS_FILE: file, DASHBOARD_API_KEY: 'mine' }).dashboardApiKey).toBe('mine');
    expect(() => loadConfig({ API_KEYS_FILE: path.join(dir, 'missing') })).toThrow(/^invalid API_KEYS_FILE: cannot read .*ENOENT/);
    fs.writeFileSync(file, 'admin:short\n');
    expect(() => loadConfig({ API_KEYS_FILE: file })).toThrow(/^invalid API_KEYS_FILE: API_KEYS_FILE entry 1 has a secret shorter/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('names API_KEYS for a bad entry, without its secret', () => {
    expect(() => loadConfig({ API_KEYS: 'read:abcdefghijklmnop,write:abcdefghijklmnoq' })).toThrow(/^invalid API_KEYS: API_KEYS entry 2 has the unknown scope "write"/);
  });
});

/** The variables Kubernetes gives every pod for each Service in its namespace (docs/operations.md "Service links"). */
function serviceLinks(name: string, ip: string, ports: { name: string; port: number }[]): Record<string, string> {
  const N = name.toUpperCase().replace(/-/g, '_');
  const env: Record<string, string> = { [`${N}_SERVICE_HOST`]: ip, [`${N}_SERVICE_PORT`]: String(ports[0].port), [`${N}_PORT`]: `tcp://${ip}:${ports[0].port}` };
  for (const p of ports) {
    env[`${N}_SERVICE_PORT_${p.name.toUpperCase().replace(/-/g, '_')}`] = String(p.port);
    const prefix = `${N}_PORT_${p.port}_TCP`;
    Object.assign(env, { [prefix]: `tcp://${ip}:${p.port}`, [`${prefix}_PROTO`]: 'tcp', [`${prefix}_PORT`]: String(p.port), [`${prefix}_ADDR`]: ip });
  }
  return env;
}

describe('loadConfig in a Kubernetes pod (service links present)', () => {
  // Every Service of deploy/k8s, with the cluster IPs Kubernetes would hand out.
  const pod: Record<string, string> = {
    ...serviceLinks('kubernetes', '10.96.0.1', [{ name: 'https', port: 443 }]),
    ...serviceLinks('nats', '10.96.0.10', [{ name: 'client', port: 4222 }, { name: 'monitor', port: 8222 }]),
    ...serviceLinks('redis', '10.96.0.11', [{ name: 'redis', port: 6379 }]),
    ...serviceLinks('ingestion', '10.96.0.20', [{ name: 'http', port: 8080 }, { name: 'tcp', port: 9000 }]),
    ...serviceLinks('aggregation', '10.96.0.21', [{ name: 'http', port: 8081 }]),
    ...serviceLinks('recommendation', '10.96.0.22', [{ name: 'http', port: 8082 }]),
    ...serviceLinks('alerting', '10.96.0.23', [{ name: 'http', port: 8083 }]),
    ...serviceLinks('dedup', '10.96.0.24', [{ name: 'http', port: 8084 }]),
    ...serviceLinks('dashboard', '10.96.0.25', [{ name: 'http', port: 8090 }]),
    ...serviceLinks('ingestion-tcp', '10.96.0.26', [{ name: 'tcp', port: 9001 }]),
    NATS_URL: 'nats://nats:4222',
    REDIS_URL: 'redis://redis:6379',
    HOST: '0.0.0.0',
    API_KEYS: 'admin+read:from-the-k8s-secret-01',
  };

  it('the links are what the pod would see', () => {
    expect(pod.INGESTION_PORT).toBe('tcp://10.96.0.20:8080');
    expect(pod.INGESTION_TCP_PORT).toBe('tcp://10.96.0.26:9001');
    expect(pod.DEDUP_PORT_8084_TCP_ADDR).toBe('10.96.0.24');
  });

  it('ignores them: every port keeps its default and the config loads', () => {
    const c = loadConfig(pod);
    expect(c.ports).toEqual({ ingestion: 8080, ingestionTcp: 9000, aggregation: 8081, recommendation: 8082, alerting: 8083, dedup: 8084, dashboard: 8090 });
    expect(c.natsUrl).toBe('nats://nats:4222');
    expect(c.host).toBe('0.0.0.0');
    expect(c.dashboard.upstreams.ingestion).toBe('http://127.0.0.1:8080');
  });

  it('ignores an IPv6 link too', () => {
    expect(loadConfig({ ALERTING_PORT: 'tcp://[fd00:10:96::23]:8083' }).ports.alerting).toBe(8083);
  });

  it('still reads a port set as a number among the links', () => {
    expect(loadConfig({ ...pod, AGGREGATION_PORT: '9181' }).ports.aggregation).toBe(9181);
  });

  it.each([
    ['INGESTION_PORT', 'tcp://10.0.0.1'],
    ['INGESTION_PORT', 'http://10.0.0.1:8080'],
    ['DEDUP_PORT', 'tcp://10.0.0.1:8084/x'],
    ['DASHBOARD_PORT', '80x'],
    ['ALERTING_PORT', 'tcp://:8083'],
  ])('still rejects a malformed %s=%s, naming the variable', (name, value) => {
    expect(() => loadConfig({ ...pod, [name]: value })).toThrow(new RegExp(`^invalid ${name}:`));
    expect(() => loadConfig({ ...pod, [name]: value })).toThrow(ConfigError);
  });
});
