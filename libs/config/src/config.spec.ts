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

  it.each([
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

  it('limits: documented defaults (README "Limits"), overrides, and errors naming the variable', () => {
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

  // --- alerting (apps/alerting) ---
  it('alerting: defaults, overrides and errors naming the variable', () => {
    expect(loadConfig({}).alerting).toEqual({
      webhookUrls: [],
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
      trendingSize: 500,
      includeViewed: true,
    });
    expect([r.sessionTtlMs, r.userTtlMs, r.itemTtlMs]).toEqual([21_600_000, 2_592_000_000, 2_592_000_000]);
  });

  it('reads overrides', () => {
    const r = loadConfig({ RECS_WEIGHTS: 'cart:2, purchase:10', RECS_HALF_LIFE_MS: '60000', RECS_INCLUDE_VIEWED: 'false', RECS_NEIGHBOURS: '5' }).recs;
    expect(r.params.weights).toEqual({ view: 1, cart: 2, purchase: 10 });
    expect(r.params.coocHalfLifeMs).toBe(60000);
    expect(r.params.includeViewed).toBe(false);
    expect(r.params.neighbours).toBe(5);
  });

  it.each([
    [{ RECS_WEIGHTS: 'view:0' }, 'RECS_WEIGHTS'],
    [{ RECS_WEIGHTS: 'click:1' }, 'RECS_WEIGHTS'],
    [{ RECS_WEIGHTS: 'view:1,view:2' }, 'RECS_WEIGHTS'],
    [{ RECS_HALF_LIFE_MS: '10' }, 'RECS_HALF_LIFE_MS'],
    [{ RECS_TRENDING_HALF_LIFE_MS: 'soon' }, 'RECS_TRENDING_HALF_LIFE_MS'],
    [{ RECS_NEIGHBOURS: '0' }, 'RECS_NEIGHBOURS'],
    [{ RECS_INCLUDE_VIEWED: 'yes' }, 'RECS_INCLUDE_VIEWED'],
  ])('fails fast naming the variable: %j', (env, name) => {
    expect(() => loadConfig(env)).toThrow(new RegExp(`^invalid ${name}:`));
  });
});
