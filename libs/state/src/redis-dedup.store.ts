import type Redis from 'ioredis';
import type { Result } from 'ioredis';
import { DedupDecision, DedupItem, DedupStore, claimValue, decide, dedupKey, hourOf, horizonHours } from './dedup';

/**
 * dedup.ts in Redis. Keys: `<prefix><slot>`, one small hash per slot, shared by every partition: an id is
 * one id whatever partition (session) it arrives in. (A call names keys of many slots: one Redis, not a
 * Redis Cluster; scale-out routes ids to dedup shards instead.) One Lua call claims a chunk of ids: per id one
 * HSETNX, and an HGET only when the id was there already (a duplicate or a redelivery).
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

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** ioredis' `<name>Buffer` variant of a defined command answers Buffers (the values are binary). */
    tidemarkDedupClaimBuffer(numKeys: number, ...args: (string | Buffer)[]): Result<(Buffer | null)[], Context>;
    tidemarkDedupTakeOver(numKeys: number, ...args: (string | Buffer)[]): Result<number, Context>;
    tidemarkDedupSweep(numKeys: number, ...args: (string | Buffer)[]): Result<number, Context>;
  }
}

/** Ids per Lua call at most (a frame holds up to 4096 events; calls stay short for other clients). */
const CHUNK = 1024;
/** Slot hashes per sweep call. */
const SWEEP_CHUNK = 256;

export class RedisDedupStore implements DedupStore {
  constructor(
    private readonly redis: Redis,
    private readonly ttlMs: number,
    private readonly slots = 65_536,
    private readonly prefix = 'tm:dedup:',
  ) {
    redis.defineCommand('tidemarkDedupClaim', { lua: CLAIM });
    redis.defineCommand('tidemarkDedupTakeOver', { lua: TAKE_OVER });
    redis.defineCommand('tidemarkDedupSweep', { lua: SWEEP });
  }

  /** The Redis key of a slot hash. */
  slotKey(slot: number): string {
    return `${this.prefix}${slot}`;
  }

  async claim(items: readonly DedupItem[], nowMs: number): Promise<DedupDecision[]> {
    const out: DedupDecision[] = [];
    for (let at = 0; at < items.length; at += CHUNK) {
      const chunk = items.slice(at, at + CHUNK);
      const keys = chunk.map((i) => dedupKey(i.id, this.slots));
      const values = chunk.map((i) => claimValue(i.seq, i.index, i.timeMs));
      const names = keys.map((k) => this.slotKey(k.slot));
      const found = await this.redis.tidemarkDedupClaimBuffer(names.length, ...names, ...keys.map((k) => k.field), ...values);
      const { decisions, overwrite } = decide(keys, values, found, nowMs, this.ttlMs);
      if (overwrite.length > 0) {
        await this.redis.tidemarkDedupTakeOver(
          overwrite.length,
          ...overwrite.map((i) => names[i]),
          ...overwrite.map((i) => keys[i].field),
          ...overwrite.map((i) => values[i]),
        );
      }
      for (const d of decisions) out.push(d);
    }
    return out;
  }

  async sweep(nowMs: number): Promise<number> {
    let dropped = 0;
    const args = [String(hourOf(nowMs) & 0xffff), String(horizonHours(this.ttlMs))];
    for (let at = 0; at < this.slots; at += SWEEP_CHUNK) {
      const names: string[] = [];
      for (let s = at; s < Math.min(this.slots, at + SWEEP_CHUNK); s++) names.push(this.slotKey(s));
      dropped += await this.redis.tidemarkDedupSweep(names.length, ...names, ...args);
    }
    return dropped;
  }
}
