import type Redis from 'ioredis';
import { DedupDecision, DedupItem, DedupStore } from './dedup';

/** `classify` of dedup.ts, in Lua: one round trip claims a whole batch, in order. */
const CLAIM = `
local ttl = ARGV[1]
local out = {}
for i = 1, #KEYS do
  local seq = ARGV[i + 1]
  -- Redis >= 7.0: sets only when absent and answers the previous value (nil when it was absent).
  local v = redis.call('SET', KEYS[i], seq, 'NX', 'PX', ttl, 'GET')
  if not v then
    out[i] = 0
  elseif v == seq then
    out[i] = 1
  elseif v == 'f' .. seq then
    out[i] = 2
  else
    out[i] = 3
  end
end
return out
`;

const CODES: DedupDecision[] = ['first', 'retry', 'forwarded', 'duplicate'];

export class RedisDedupStore implements DedupStore {
  constructor(
    private readonly redis: Redis,
    private readonly ttlMs: number,
    private readonly prefix = 'tm:dedup:',
  ) {
    redis.defineCommand('tidemarkDedupClaim', { lua: CLAIM });
  }

  async claim(items: DedupItem[]): Promise<DedupDecision[]> {
    if (items.length === 0) return [];
    const keys = items.map((i) => this.prefix + i.id);
    const args = [String(this.ttlMs), ...items.map((i) => String(i.seq))];
    const codes = (await (this.redis as unknown as ClaimCommand).tidemarkDedupClaim(keys.length, ...keys, ...args)) as number[];
    return codes.map((c) => CODES[c]);
  }

  async markForwarded(items: DedupItem[]): Promise<void> {
    if (items.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const i of items) pipeline.set(this.prefix + i.id, `f${i.seq}`, 'PX', this.ttlMs);
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (failed) throw failed[0];
  }
}

interface ClaimCommand {
  tidemarkDedupClaim(numKeys: number, ...args: string[]): Promise<unknown>;
}
