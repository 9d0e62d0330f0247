import { Inject, Injectable } from '@nestjs/common';
import type { AlertRule, EngineSnapshot, FingerprintState, Notification, Silence } from '@tidemark/alerting';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import type { CheckpointResult } from '@tidemark/runtime';
import { LUA_FLAT_ARGS, LUA_KEY_TYPE_CHECK, LuaScript, REDIS, RespArgs, type RedisClient, type WaitPolicy, execDurable, moveKeys, waitPolicyOf } from '@tidemark/state';

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

/** One checkpoint of the alerting state: written only if the stored one is still at `expectedSeq` and `expectedEpoch`. */
export interface Commit {
  expectedSeq: number;
  /**
   * Checkpoints written so far (meta `n`, written as this + 1). A rule change or a tick keeps the sequence: a
   * failover that lost such a checkpoint is a conflict too, not a write the next checkpoint silently lacks.
   */
  expectedEpoch: number;
  /** The last results-stream sequence applied. */
  lastSeq: number;
  clock: number | null;
  outboxSeq: number;
  changed: FingerprintState[];
  removed: string[];
  outbox: OutboxEntry[];
  rulesPut: AlertRule[];
  rulesDeleted: string[];
}

/**
 * The fenced checkpoint: KEYS meta, state, outbox, rules; ARGV expectedSeq, lastSeq, clock ('' for none),
 * outboxSeq, expectedEpoch, then for state, outbox and rules in turn: a count of field/value pairs to set, a
 * count of fields to delete, the pairs, the fields. Everything is read and checked before the first write.
 */
const COMMIT = `
local current = redis.call('HGET', KEYS[1], 'lastSeq') or '0'
if current ~= ARGV[1] or (redis.call('HGET', KEYS[1], 'n') or '0') ~= ARGV[5] then return {0, current} end
local function refuse(msg) return redis.error_reply('refused: ' .. msg) end
${LUA_KEY_TYPE_CHECK}
${LUA_FLAT_ARGS}
if not whole(ARGV[2]) or not whole(ARGV[4]) or not whole(ARGV[5]) then return refuse('lastSeq, outboxSeq and epoch must be sequences') end
if ARGV[3] ~= '' and not num(ARGV[3]) then return refuse('clock is not a number') end
if not is(KEYS[1], 'hash') then return refuse(KEYS[1] .. ': a key of another type') end
at = 5
local hashes, bad = hash_sections(2, 4)
if not hashes then return refuse(bad) end
if at ~= #ARGV then return refuse((#ARGV - at) .. ' arguments after the last section') end
write_hash_sections(hashes)
redis.call('HSET', KEYS[1], 'lastSeq', ARGV[2], 'clock', ARGV[3], 'outboxSeq', ARGV[4], 'n', tostring(tonumber(ARGV[5]) + 1))
return {1, ARGV[2]}
`;

/** COMMIT, its arguments encoded as they are produced (libs/state lua-script.ts): [1, lastSeq] written, or [0, the stored sequence] (the fence moved; nothing written). */
const ALERTING_COMMIT = new LuaScript<[number, string]>(COMMIT);

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
  /** Checkpoints written (Commit.expectedEpoch). */
  epoch: number;
  outboxSeq: number;
  outbox: OutboxEntry[];
  silences: Silence[];
}

/**
 * Everything the alerting service keeps in Redis. A checkpoint's state changes, rule changes, notifications
 * (outbox) and last applied stream sequence are written by one fenced script, so a crash leaves either all
 * or none of them, and a second writer (a zombie instance) is refused.
 */
@Injectable()
export class AlertStore {
  private readonly failedMax: number;
  private readonly wait: WaitPolicy | undefined;

  constructor(
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(CONFIG) config: TidemarkConfig,
  ) {
    this.failedMax = config.alerting.failedMax;
    this.wait = waitPolicyOf(config);
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
      epoch: Number(meta.n ?? 0),
      outboxSeq: Number(meta.outboxSeq ?? 0),
      outbox: parse<OutboxEntry>(outbox).sort((a, b) => a.seq - b.seq),
      silences: parse<Silence>(silences).sort((a, b) => a.createdAt - b.createdAt),
    };
  }

  /** One checkpoint, fenced on the stored sequence; a conflict names the stored one. */
  async commit(c: Commit): Promise<CheckpointResult> {
    const args = new RespArgs(8_192)
      .num(c.expectedSeq)
      .num(c.lastSeq)
      .str(c.clock === null ? '' : String(c.clock))
      .num(c.outboxSeq)
      .num(c.expectedEpoch);
    const section = <T>(sets: readonly T[], set: (x: T) => [string, string], dels: readonly string[]) => {
      args.num(sets.length).num(dels.length);
      for (const x of sets) {
        const [field, value] = set(x);
        args.str(field).str(value);
      }
      for (const d of dels) args.str(d);
    };
    section(c.changed, (s) => [s.fingerprint, JSON.stringify(s)], c.removed);
    section(c.outbox, (e) => [e.id, JSON.stringify(e)], []);
    section(c.rulesPut, (r) => [r.id, JSON.stringify(r)], c.rulesDeleted);
    // In cluster mode WAIT follows on the same node: a commit its replica did not acknowledge throws (not
    // durable: the rule change fails, events are not acked), and the next one finds it written or lost.
    const [ok, stored] = await execDurable<[number, string]>(this.redis, this.wait, (pipe) => ALERTING_COMMIT.call(pipe, [KEYS.meta, KEYS.state, KEYS.outbox, KEYS.rules], args));
    return ok === 1 ? { status: 'ok' } : { status: 'conflict', lastSeq: Number(stored) };
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
