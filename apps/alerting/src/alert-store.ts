import { Inject, Injectable } from '@nestjs/common';
import type { AlertRule, EngineSnapshot, FingerprintState, Notification, Silence } from '@tidemark/alerting';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { REDIS, type RedisClient, moveKeys } from '@tidemark/state';

/** Delivery progress of one target (NATS or one webhook URL) of a notification. */
export interface TargetProgress {
  done: boolean;
  attempts: number;
  /** Wall clock of the next attempt. */
  nextAt: number;
  lastError?: string;
}

/** One notification waiting in the durable outbox: written in the same transaction as the state change. */
export interface OutboxEntry {
  /** The idempotency key. */
  id: string;
  /** Global order of the outbox. */
  seq: number;
  notification: Notification;
  nats: TargetProgress;
  webhooks: Record<string, TargetProgress>;
}

export interface Commit {
  lastSeq?: number;
  clock: number | null;
  outboxSeq: number;
  changed: FingerprintState[];
  removed: string[];
  outbox: OutboxEntry[];
  rules?: { put?: AlertRule; delete?: string };
}

/**
 * Under one hash tag `{a}`: a transaction names several of them (state, outbox, rules, meta; outbox and
 * failed), so on a Redis Cluster they must share a slot. Before the tag they were `alerting:<name>`
 * (LEGACY_KEYS, renamed once at start).
 */
export const KEYS = {
  rules: 'alerting:{a}:rules',
  seeded: 'alerting:{a}:rules:seeded',
  state: 'alerting:{a}:state',
  meta: 'alerting:{a}:meta',
  outbox: 'alerting:{a}:outbox',
  silences: 'alerting:{a}:silences',
  failed: 'alerting:{a}:failed',
} as const;

/** The keys' names before the hash tag. */
export const LEGACY_KEYS: Record<keyof typeof KEYS, string> = {
  rules: 'alerting:rules',
  seeded: 'alerting:rules:seeded',
  state: 'alerting:state',
  meta: 'alerting:meta',
  outbox: 'alerting:outbox',
  silences: 'alerting:silences',
  failed: 'alerting:failed',
};

export interface Loaded {
  rules: AlertRule[];
  snapshot: EngineSnapshot;
  lastSeq: number;
  outboxSeq: number;
  outbox: OutboxEntry[];
  silences: Silence[];
}

/**
 * Everything the alerting service keeps in Redis. A batch's state changes, its notifications (outbox) and its
 * last applied stream sequence are written in one MULTI/EXEC, so a crash leaves either all or none of them.
 */
@Injectable()
export class AlertStore {
  private readonly failedMax: number;

  constructor(
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(CONFIG) config: TidemarkConfig,
  ) {
    this.failedMax = config.alerting.failedMax;
  }

  /** Renames the keys of the layout before the `{a}` hash tag, once (idempotent; several instances may run it). */
  migrateLegacyKeys(): Promise<number> {
    return moveKeys(
      this.redis,
      (Object.keys(KEYS) as (keyof typeof KEYS)[]).map((k) => ({ from: LEGACY_KEYS[k], to: KEYS[k] })),
    );
  }

  /** Seeds `rules` once, ever (a marker key), so deleted defaults stay deleted. Returns true when seeded now. */
  async seedOnce(rules: AlertRule[]): Promise<boolean> {
    const first = await this.redis.set(KEYS.seeded, String(Date.now()), 'NX');
    if (first !== 'OK') return false;
    const existing = await this.redis.hlen(KEYS.rules);
    if (existing > 0) return false;
    if (rules.length > 0) await this.redis.hset(KEYS.rules, Object.fromEntries(rules.map((r) => [r.id, JSON.stringify(r)])));
    return true;
  }

  async load(): Promise<Loaded> {
    const [rules, states, meta, outbox, silences] = await Promise.all([
      this.redis.hgetall(KEYS.rules),
      this.redis.hgetall(KEYS.state),
      this.redis.hgetall(KEYS.meta),
      this.redis.hgetall(KEYS.outbox),
      this.redis.hgetall(KEYS.silences),
    ]);
    const parse = <T>(m: Record<string, string>) => Object.values(m).map((v) => JSON.parse(v) as T);
    return {
      rules: parse<AlertRule>(rules).sort((a, b) => a.id.localeCompare(b.id)),
      snapshot: { clock: meta.clock !== undefined && meta.clock !== '' ? Number(meta.clock) : null, states: parse<FingerprintState>(states) },
      lastSeq: Number(meta.lastSeq ?? 0),
      outboxSeq: Number(meta.outboxSeq ?? 0),
      outbox: parse<OutboxEntry>(outbox).sort((a, b) => a.seq - b.seq),
      silences: parse<Silence>(silences).sort((a, b) => a.createdAt - b.createdAt),
    };
  }

  async commit(c: Commit): Promise<void> {
    const m = this.redis.multi();
    if (c.changed.length > 0) m.hset(KEYS.state, Object.fromEntries(c.changed.map((s) => [s.fingerprint, JSON.stringify(s)])));
    if (c.removed.length > 0) m.hdel(KEYS.state, ...c.removed);
    if (c.outbox.length > 0) m.hset(KEYS.outbox, Object.fromEntries(c.outbox.map((e) => [e.id, JSON.stringify(e)])));
    if (c.rules?.put) m.hset(KEYS.rules, c.rules.put.id, JSON.stringify(c.rules.put));
    if (c.rules?.delete) m.hdel(KEYS.rules, c.rules.delete);
    const meta: Record<string, string> = { clock: c.clock === null ? '' : String(c.clock), outboxSeq: String(c.outboxSeq) };
    if (c.lastSeq !== undefined) meta.lastSeq = String(c.lastSeq);
    m.hset(KEYS.meta, meta);
    const res = await m.exec();
    const failed = res?.find(([err]) => err);
    if (!res || failed) throw new Error(`Redis transaction failed: ${failed ? (failed[0] as Error).message : 'aborted'}`);
  }

  /** One round of delivery progress in one transaction: entries still going, and entries done (with given-up targets). */
  async saveProgress(going: OutboxEntry[], done: { entry: OutboxEntry; failures: string[] }[]): Promise<void> {
    if (going.length === 0 && done.length === 0) return;
    const m = this.redis.multi();
    if (going.length > 0) m.hset(KEYS.outbox, Object.fromEntries(going.map((e) => [e.id, JSON.stringify(e)])));
    if (done.length > 0) m.hdel(KEYS.outbox, ...done.map((d) => d.entry.id));
    const now = Date.now();
    let pushed = 0;
    for (const { entry, failures } of done)
      for (const f of failures) {
        m.rpush(KEYS.failed, JSON.stringify({ id: entry.id, target: f, notification: entry.notification, at: now }));
        pushed++;
      }
    // Only the newest ALERTING_FAILED_MAX given-up deliveries are kept (docs/settings.md "Limits").
    if (pushed > 0) m.ltrim(KEYS.failed, -this.failedMax, -1);
    const res = await m.exec();
    const failed = res?.find(([err]) => err);
    if (!res || failed) throw new Error(`Redis transaction failed: ${failed ? (failed[0] as Error).message : 'aborted'}`);
  }

  async putSilence(s: Silence): Promise<void> {
    await this.redis.hset(KEYS.silences, s.id, JSON.stringify(s));
  }

  async deleteSilences(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.redis.hdel(KEYS.silences, ...ids);
  }

  async deleteSilence(id: string): Promise<boolean> {
    return (await this.redis.hdel(KEYS.silences, id)) > 0;
  }
}
