import type Redis from 'ioredis';
import { Fence, FenceResult, FencedWriter, StateOp } from './fenced-batch';

/**
 * fenced-batch.ts in one Lua script: check the fence, apply every op, store the new sequence — atomically.
 * ARGV[1] expectedSeq, ARGV[2] newSeq, ARGV[3] JSON of the partition fields, ARGV[4] JSON of the ops,
 * ARGV[5] guard key ('' for none), ARGV[6] guard bound.
 * Numbers that must stay exact travel as strings (Lua numbers are doubles).
 * Keys are named in ARGV, so this needs a single Redis (not Redis Cluster).
 */
const APPLY = `
local current = redis.call('HGET', KEYS[1], 'lastSeq') or '0'
if current ~= ARGV[1] then return {0, current} end
if ARGV[5] ~= '' then
  local g = redis.call('GET', ARGV[5])
  if g and tonumber(g) >= tonumber(ARGV[6]) then return {2, g} end
end
local ops = cjson.decode(ARGV[4])
for _, o in ipairs(ops) do
  local op = o[1]
  if op == 'i' then
    redis.call('HINCRBY', o[2], o[3], o[4])
  elseif op == 'x' or op == 'n' then
    local cur = redis.call('HGET', o[2], o[3])
    local v = tonumber(o[4])
    if (not cur) or (op == 'x' and v > tonumber(cur)) or (op == 'n' and v < tonumber(cur)) then
      redis.call('HSET', o[2], o[3], o[4])
    end
  elseif op == 's' then
    redis.call('HSET', o[2], o[3], o[4])
  elseif op == 'p' then
    redis.call('PFADD', o[2], unpack(o[3]))
  elseif op == 'z' then
    redis.call('ZINCRBY', o[2], o[4], o[3])
  elseif op == 'a' then
    if o[5] then redis.call('ZADD', o[2], o[5], o[4], o[3]) else redis.call('ZADD', o[2], o[4], o[3]) end
  elseif op == 'r' then
    redis.call('ZREM', o[2], o[3])
  elseif op == 'hd' then
    redis.call('HDEL', o[2], o[3])
  elseif op == 'd' then
    redis.call('DEL', o[2])
  elseif op == 'hm' then
    local src = redis.call('HGETALL', o[2])
    for i = 1, #src, 2 do
      local f, v = src[i], src[i + 1]
      local mode = o[4][f] or o[5]
      if mode == 'sum' then
        redis.call('HINCRBY', o[3], f, v)
      elseif mode == 'max' or mode == 'min' then
        local cur = redis.call('HGET', o[3], f)
        local a, b = tonumber(v), tonumber(cur)
        if (not cur) or (a and b and ((mode == 'max' and a > b) or (mode == 'min' and a < b))) then
          redis.call('HSET', o[3], f, v)
        end
      end
    end
    if #src > 0 then redis.call('DEL', o[2]) end
  elseif op == 'pm' then
    if redis.call('EXISTS', o[2]) == 1 then
      redis.call('PFMERGE', o[3], o[3], o[2])
      redis.call('DEL', o[2])
    end
  elseif op == 'zm' then
    if redis.call('EXISTS', o[2]) == 1 then
      redis.call('ZUNIONSTORE', o[3], 2, o[3], o[2])
      redis.call('DEL', o[2])
    end
  elseif op == 'el' then
    local cur = redis.call('HMGET', o[2], 'ts', 'id')
    local ts = tonumber(o[3])
    if (not cur[1]) or ts < tonumber(cur[1]) or (ts == tonumber(cur[1]) and o[4] < cur[2]) then
      for k, v in pairs(o[5]) do redis.call('HSET', o[2], k, v) end
      redis.call('HSET', o[2], 'ts', o[3], 'id', o[4])
    end
  elseif op == 'e' then
    redis.call('PEXPIRE', o[2], o[3])
  else
    return redis.error_reply('unknown op ' .. tostring(op))
  end
end
redis.call('HSET', KEYS[1], 'lastSeq', ARGV[2])
local fields = cjson.decode(ARGV[3])
for k, v in pairs(fields) do redis.call('HSET', KEYS[1], k, v) end
return {1, ARGV[2]}
`;

function encode(o: StateOp): unknown[] {
  switch (o.op) {
    case 'hincrby':
      return ['i', o.key, o.field, o.by];
    case 'hmax':
      return ['x', o.key, o.field, String(o.value)];
    case 'hmin':
      return ['n', o.key, o.field, String(o.value)];
    case 'hset':
      return ['s', o.key, o.field, o.value];
    case 'pfadd':
      return ['p', o.key, o.members];
    case 'zincrby':
      return ['z', o.key, o.member, String(o.by)];
    case 'zadd':
      return o.only ? ['a', o.key, o.member, String(o.score), o.only.toUpperCase()] : ['a', o.key, o.member, String(o.score)];
    case 'zrem':
      return ['r', o.key, o.member];
    case 'hdel':
      return ['hd', o.key, o.field];
    case 'del':
      return ['d', o.key];
    case 'hmerge':
      // An empty table would encode as a JSON array; Lua indexing it still yields nil, which is what we want.
      return ['hm', o.src, o.dst, o.fields, o.others ?? false];
    case 'pfmerge':
      return ['pm', o.src, o.dst];
    case 'zmerge':
      return ['zm', o.src, o.dst];
    case 'hearliest':
      return ['el', o.key, String(o.ts), o.id, o.values];
    case 'pexpire':
      return ['e', o.key, String(Math.max(1, Math.round(o.ms)))];
  }
}

interface ApplyCommand {
  tidemarkFencedApply(numKeys: 1, key: string, ...args: string[]): Promise<[number, string]>;
}

export class RedisFencedWriter implements FencedWriter {
  constructor(private readonly redis: Redis) {
    redis.defineCommand('tidemarkFencedApply', { lua: APPLY });
  }

  async apply(fence: Fence, ops: StateOp[]): Promise<FenceResult> {
    // PFADD with no members is a no-op that still creates the key: keep ops meaningful.
    const encoded = ops.filter((o) => o.op !== 'pfadd' || o.members.length > 0).map(encode);
    const [applied, seq] = await (this.redis as unknown as ApplyCommand).tidemarkFencedApply(
      1,
      fence.key,
      String(fence.expectedSeq),
      String(fence.newSeq),
      JSON.stringify(fence.fields ?? {}),
      JSON.stringify(encoded),
      fence.guard?.key ?? '',
      String(fence.guard?.below ?? 0),
    );
    if (applied === 1) return { status: 'applied' };
    if (applied === 2) return { status: 'guarded', value: Number(seq) };
    return { status: 'conflict', lastSeq: Number(seq) };
  }

  async lastSeq(fenceKey: string): Promise<number> {
    return Number((await this.redis.hget(fenceKey, 'lastSeq')) ?? 0);
  }
}
