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
