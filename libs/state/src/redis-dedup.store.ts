import { DedupDecision, DedupItem, DedupStore, claimPlace, claimValue, decide, dedupKey, hourOf, horizonHours } from './dedup';
import { LuaScript, RespArgs } from './lua-script';
import { type RedisClient, type WaitPolicy, execDurable, isCluster, moveKeys, scanKeys } from './redis-client';
import { groupBySlot } from './slots';

/**
 * dedup.ts in Redis. Keys: `<prefix>{d<slot mod 16>}:<slot>`, one small hash per dedup slot, shared by every
 * partition: an id is one id whatever partition (session) it arrives in. The hash tag `{d<g>}` puts the
 * dedup slots into 16 groups, each one Redis Cluster slot: on a standalone Redis one Lua call claims a chunk
 * of ids; on a cluster one call per group the chunk touches (in parallel), each followed by WAIT (durable
 * claims, docs/scale-out.md). Per id one HSETNX, and an HGET only when the id was there already (a duplicate
 * or a redelivery). Keys `<prefix><slot>` (before the hash tag) are renamed once at start (migrateLegacyKeys).
 * KEYS: the slot hashes; ARGV: n fields, then n values (8 bytes each, binary).
 */
const CLAIM = `
local n = #KEYS
local out = {}
for i = 1, n do
  if redis.call('HSETNX', KEYS[i], ARGV[i], ARGV[n + i]) == 1 then
    out[i] = false
  else
    out[i] = redis.call('HGET', KEYS[i], ARGV[i])
  end
end
return out
`;
/** CLAIM, its arguments encoded as they are produced (a thousand ids a call: lua-script.ts says why). */
const CLAIM_SCRIPT = new LuaScript<(Buffer | null)[]>(CLAIM, { reply: 'buffer' });

/** Overwrites expired claims. KEYS: slot hashes; ARGV: n fields, then n values. */
const TAKE_OVER = `
local n = #KEYS
for i = 1, n do redis.call('HSET', KEYS[i], ARGV[i], ARGV[n + i]) end
return n
`;

/**
 * Drops claims older than the horizon. KEYS: slot hashes; ARGV[1]: the current hour (mod 65536), ARGV[2]: the
 * horizon in hours. A value's first two bytes are its hour (big-endian). Deletes in chunks (no unbounded unpack).
 */
const SWEEP = `
local now = tonumber(ARGV[1])
local horizon = tonumber(ARGV[2])
local dropped = 0
for i = 1, #KEYS do
  local all = redis.call('HGETALL', KEYS[i])
  local old = {}
  for j = 1, #all, 2 do
    local v = all[j + 1]
    local h = string.byte(v, 1) * 256 + string.byte(v, 2)
    if (now - h) % 65536 > horizon then
      old[#old + 1] = all[j]
      if #old == 500 then
        redis.call('HDEL', KEYS[i], unpack(old))
        dropped = dropped + #old
        old = {}
      end
    end
  end
  if #old > 0 then
    redis.call('HDEL', KEYS[i], unpack(old))
    dropped = dropped + #old
  end
end
return dropped
`;

const TAKE_OVER_SCRIPT = new LuaScript<number>(TAKE_OVER);
const SWEEP_SCRIPT = new LuaScript<number>(SWEEP);

/** Ids per Lua call at most (a frame holds up to 4096 events; calls stay short for other clients). */
const CHUNK = 1024;
/** Slot hashes per sweep call. */
const SWEEP_CHUNK = 256;
/** Hash-tag groups of the dedup slots (each one Redis Cluster slot). */
export const DEDUP_TAG_GROUPS = 16;

/** The dedup slots in sweep order: group by group (one cluster slot a call), each group's slots ascending (pure). */
export function sweepOrder(slots: number, groups = DEDUP_TAG_GROUPS): number[][] {
  const out: number[][] = [];
  for (let g = 0; g < Math.min(groups, slots); g++) {
    const mine: number[] = [];
    for (let s = g; s < slots; s += groups) mine.push(s);
    for (let at = 0; at < mine.length; at += SWEEP_CHUNK) out.push(mine.slice(at, at + SWEEP_CHUNK));
  }
  return out;
}

export interface RedisDedupStoreOptions {
  /** Dedup slots (DEDUP_SLOTS, default 65 536). */
  slots?: number;
  /** Key prefix (default `tm:dedup:`). */
  prefix?: string;
  /** WAIT after each claim call (cluster mode; waitPolicyOf). */
  wait?: WaitPolicy;
}

export class RedisDedupStore implements DedupStore {
  private readonly slots: number;
  private readonly prefix: string;
  private readonly wait: WaitPolicy | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly ttlMs: number,
    options: RedisDedupStoreOptions = {},
  ) {
    this.slots = options.slots ?? 65_536;
    this.prefix = options.prefix ?? 'tm:dedup:';
    this.wait = options.wait;
  }

  /** The Redis key of a slot hash. */
  slotKey(slot: number): string {
    return `${this.prefix}{d${slot % DEDUP_TAG_GROUPS}}:${slot}`;
  }

  /** Its name before the hash tag (moved by migrateLegacyKeys). */
  legacySlotKey(slot: number): string {
    return `${this.prefix}${slot}`;
  }

  /** Renames slot hashes of the layout before the hash tag, once (idempotent; several instances may run it). */
  async migrateLegacyKeys(): Promise<number> {
    const legacy = new RegExp(`^${this.prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\d+)$`);
    const moves: { from: string; to: string }[] = [];
    for (const key of await scanKeys(this.redis, `${this.prefix}*`)) {
      const m = legacy.exec(key);
      if (m) moves.push({ from: key, to: this.slotKey(Number(m[1])) });
    }
    return moveKeys(this.redis, moves);
  }

  /** Indices of the names, one group per call: all at once on a standalone Redis, per cluster slot on a cluster. */
  private calls(names: readonly string[]): number[][] {
    return isCluster(this.redis) ? groupBySlot(names) : [names.map((_n, i) => i)];
  }

  async claim(items: readonly DedupItem[], nowMs: number): Promise<DedupDecision[]> {
    const out: DedupDecision[] = [];
    for (let at = 0; at < items.length; at += CHUNK) {
      const chunk = items.slice(at, at + CHUNK);
      const keys = chunk.map((i) => dedupKey(i.id, this.slots));
      const values = chunk.map((i) => claimValue(i.seq, i.index, i.timeMs));
      const names = keys.map((k) => this.slotKey(k.slot));
      // One call per slot group of the chunk's ids at `idx` (KEYS their slot hashes, ARGV their fields then
      // their values): for the claims, then for the expired ones taken over.
      const perSlot = <T>(script: LuaScript<T>, idx: readonly number[]) =>
        Promise.all(
          this.calls(idx.map((i) => names[i])).map(async (group) => {
            const ids = group.map((g) => idx[g]);
            const args = new RespArgs(ids.length * 28);
            for (const i of ids) args.bulk(keys[i].field);
            for (const i of ids) args.bulk(values[i]);
            return { ids, reply: await execDurable<T>(this.redis, this.wait, (p) => script.call(p, ids.map((i) => names[i]), args)) };
          }),
        );
      const found = new Array<Buffer | null>(chunk.length);
      for (const { ids, reply } of await perSlot(CLAIM_SCRIPT, chunk.map((_c, i) => i))) ids.forEach((i, j) => (found[i] = reply[j]));
      const { decisions, overwrite } = decide(keys, values, found, nowMs, this.ttlMs);
      if (overwrite.length > 0) await perSlot(TAKE_OVER_SCRIPT, overwrite);
      for (const d of decisions) out.push(d);
    }
    return out;
  }

  /** Where an id's claim points (null: no claim), for diagnosis (`tidemark chaos`). */
  async placeOf(id: Buffer | string): Promise<{ seq: number; index: number } | null> {
    const key = dedupKey(id, this.slots);
    const value = await this.redis.hgetBuffer(this.slotKey(key.slot), key.field);
    return value ? claimPlace(value) : null;
  }

  async sweep(nowMs: number): Promise<number> {
    let dropped = 0;
    const args = [hourOf(nowMs) & 0xffff, horizonHours(this.ttlMs)];
    for (const slots of sweepOrder(this.slots)) {
      const names = slots.map((s) => this.slotKey(s));
      dropped += await SWEEP_SCRIPT.call(this.redis, names, args);
    }
    return dropped;
  }
}
