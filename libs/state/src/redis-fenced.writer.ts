import type Redis from 'ioredis';
import { Fence, FenceResult, FencedWriter, StateOp } from './fenced-batch';

/**
 * fenced-batch.ts in one Lua script: check the fence, apply every op, store the new sequence — atomically.
 * ARGV[1] expectedSeq, ARGV[2] newSeq, ARGV[3] JSON of the partition fields, ARGV[4] JSON of the ops,
 * ARGV[5] guard key ('' for none), ARGV[6] guard bound.
 * Numbers that must stay exact travel as strings (Lua numbers are doubles).
 * Keys are named in ARGV, so this needs a single Redis (not Redis Cluster).
 *
 * Redis keeps the writes a script made before an error, so the script must never fail after its first write:
 * a failure half-way would leave part of the batch applied without the fence moving, and the retried batch
 * would apply it again. So it checks everything first and writes nothing on a refusal (an error reply whose
 * message starts with `refused:`):
 *   - the JSON decodes (a lone UTF-16 surrogate does not; ingestion rejects events holding one);
 *   - every op is known and its numbers parse (HINCRBY amounts are integers);
 *   - every key an op writes holds the type the op needs, or nothing (the types a batch names agree too;
 *     `del` and `pexpire` take any type). User-supplied key parts are encoded (key-part.ts), so a key name
 *     cannot be another key's, but a check per distinct key is cheap and makes it hold whatever the caller does;
 *   - an HINCRBY of |by| >= 2^31, and a merged sum, stays within ±9.2e18 (HINCRBY refuses int64 overflow).
 *     An increment below 2^31 is not checked: it would take over 2^31 batches to the same window field to
 *     come near the limit.
 * Unbounded `unpack` is avoided (Lua's stack holds ~8,000 values): PFADD goes in chunks of 1,000.
 * InMemoryFencedWriter makes the same checks.
 */
/**
 * Lua, shared by the fenced scripts that validate before their first write: `is(key, type)` says whether `key`
 * holds that Redis type or nothing yet, and remembers the answer, so that every op of one call on a key
 * must agree on its type (a key read as absent is claimed for the first type asked). One TYPE per key.
 */
export const LUA_KEY_TYPE_CHECK = `local want = {}
local function is(key, t)
  if type(key) ~= 'string' then return false end
  local w = want[key]
  if w == nil then
    w = redis.call('TYPE', key).ok
    if w == 'none' then w = t end
    want[key] = w
  end
  return w == t
end`;

const APPLY = `
local current = redis.call('HGET', KEYS[1], 'lastSeq') or '0'
if current ~= ARGV[1] then return {0, current} end
local function refuse(msg) return redis.error_reply('refused: ' .. msg) end
if not tonumber(ARGV[2]) then return refuse('newSeq is not a number') end
if ARGV[5] ~= '' then
  if not tonumber(ARGV[6]) then return refuse('guard bound is not a number') end
  local g = redis.call('GET', ARGV[5])
  if g and tonumber(g) >= tonumber(ARGV[6]) then return {2, g} end
end
local okf, fields = pcall(cjson.decode, ARGV[3])
if not okf or type(fields) ~= 'table' then return refuse('fields are not valid JSON') end
local oko, ops = pcall(cjson.decode, ARGV[4])
if not oko or type(ops) ~= 'table' then return refuse('ops are not valid JSON (a string that is not well-formed Unicode?)') end
for k, v in pairs(fields) do
  if type(k) ~= 'string' or type(v) ~= 'string' then return refuse('partition fields must be strings') end
end
local LIMIT = 9.2e18
${LUA_KEY_TYPE_CHECK}
local function int(s) return type(s) == 'string' and string.match(s, '^%-?%d+$') ~= nil end
local function num(x)
  local v = tonumber(x)
  return v ~= nil and v == v and v ~= math.huge and v ~= -math.huge
end
local function str(x) return type(x) == 'string' end
local modes = { sum = true, max = true, min = true }
local bad = nil
for n, o in ipairs(ops) do
  local op = o[1]
  local ok
  if op == 'i' then
    ok = is(o[2], 'hash') and str(o[3]) and int(o[4])
    if ok and math.abs(tonumber(o[4])) >= 2147483648 then
      ok = math.abs(tonumber(redis.call('HGET', o[2], o[3]) or '0') + tonumber(o[4])) < LIMIT
    end
  elseif op == 'x' or op == 'n' then
    ok = is(o[2], 'hash') and str(o[3]) and str(o[4]) and num(o[4])
  elseif op == 's' or op == 'hd' then
    ok = is(o[2], 'hash') and str(o[3]) and (op == 'hd' or str(o[4]))
  elseif op == 'p' then
    ok = is(o[2], 'string') and type(o[3]) == 'table' and #o[3] > 0
    if ok then for _, m in ipairs(o[3]) do ok = ok and str(m) end end
  elseif op == 'z' then
    ok = is(o[2], 'zset') and str(o[3]) and num(o[4])
  elseif op == 'a' then
    ok = is(o[2], 'zset') and str(o[3]) and num(o[4]) and (o[5] == nil or o[5] == 'LT' or o[5] == 'GT')
  elseif op == 'r' then
    ok = is(o[2], 'zset') and str(o[3])
  elseif op == 'd' then
    ok = str(o[2])
  elseif op == 'hm' then
    ok = is(o[2], 'hash') and is(o[3], 'hash') and type(o[4]) == 'table' and (o[5] == false or modes[o[5]] ~= nil)
    if ok then for _, m in pairs(o[4]) do ok = ok and modes[m] ~= nil end end
    if ok then
      local src = redis.call('HGETALL', o[2])
      for i = 1, #src, 2 do
        if (o[4][src[i]] or o[5]) == 'sum' then
          local cur = redis.call('HGET', o[3], src[i]) or '0'
          ok = ok and int(src[i + 1]) and int(cur) and math.abs(tonumber(src[i + 1]) + tonumber(cur)) < LIMIT
        end
      end
    end
  elseif op == 'pm' then
    ok = is(o[2], 'string') and is(o[3], 'string')
  elseif op == 'zm' then
    ok = is(o[2], 'zset') and is(o[3], 'zset')
  elseif op == 'el' then
    ok = is(o[2], 'hash') and num(o[3]) and str(o[4]) and type(o[5]) == 'table'
    if ok then for k, v in pairs(o[5]) do ok = ok and str(k) and str(v) end end
  elseif op == 'e' then
    ok = str(o[2]) and int(o[3]) and tonumber(o[3]) > 0
  else
    return refuse('unknown op ' .. tostring(op))
  end
  if not ok then return refuse('op ' .. n .. ' (' .. tostring(op) .. ' ' .. tostring(o[2]) .. '): bad arguments or a key of another type') end
end
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
    local m = o[3]
    for i = 1, #m, 1000 do redis.call('PFADD', o[2], unpack(m, i, math.min(i + 999, #m))) end
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
  end
end
redis.call('HSET', KEYS[1], 'lastSeq', ARGV[2])
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
