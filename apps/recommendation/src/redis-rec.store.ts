/**
 * libs/recommend's RecStore on Redis: a checkpoint — the pre-summed changes of a partition's batches since the
 * last one (RecPending) — and the partition's fence in one Lua call (atomic: all or nothing; a stale one,
 * stored lastSeq ≠ expectedSeq, writes nothing). Reads are one script or single commands, pipelined. Must agree
 * with InMemoryRecStore (test/recs-store.e2e-spec.ts checks both on the same inputs against a real redis-server).
 *
 * Keys (prefix `recs:` by default; docs/recommendations.md "Where the state lives"):
 *   {p<p>}:part                    hash: lastSeq of clean partition p (its last checkpoint; was part:<p>, still read)
 *   {p<p>}:s:<session>             JSON: the visit's recent window; p = the visit's partition (partitionOf its sessionId)
 *   {p<p>}:add                     scratch sorted set of a checkpoint, empty outside it
 *   clock                          the highest event time applied
 *   nb:<product>                   zset: neighbours → stored (forward-decayed) co-occurrence; the product itself = its own count
 *   nbe:<product>, nbl:<product>   that list's epoch; hash neighbour → pair level (1 view, 2 cart, 3 purchase)
 *   tr:all, tr:c:<category>        zsets: trending overall / per category; tre:… their epochs
 *   sq:<product>, sqe:<product>    zset: sequential rules product → next product (forward-decayed; itself = its own count), its epoch
 *   vs:<product>                   zset: visits → last time they touched the product (session-kNN; the knnVisits latest kept)
 *   u:<user>                       zset: product → last time the user touched it (the userRecent latest kept)
 *   bz:<user>                      sorted set: products the user bought, by time; the newest userBought kept
 *   c:<product>                    the product's category
 * The `{p<p>}` keys of a partition share one Redis Cluster slot; the others are shared by every partition (a
 * product's lists get additions from every visit), so a checkpoint writes keys of many slots: one Redis, not
 * Cluster. Every id in a key name (<product>, <category>, <user>, <session>) is encoded with encodeKeyPart
 * (libs/state key-part.ts; the read scripts with its Lua twin for ids they read from Redis): no id holds `:` or
 * a hash-tag brace, so none names another key. Members and values (neighbour ids, a product's category, a
 * user's products) are stored as they are.
 * TTLs (wall clock, refreshed on write): visits RECS_SESSION_TTL_MS, users RECS_USER_TTL_MS, products and
 * per-category trending RECS_ITEM_TTL_MS. Sizes: neighbours and rules ≤ RECS_NEIGHBOURS, trending ≤ RECS_TRENDING_SIZE,
 * visits per product ≤ RECS_KNN_VISITS.
 */
import type Redis from 'ioredis';
import type { Result } from 'ioredis';
import { PARTITION_OF_LUA, partitionOf } from '@tidemark/contracts';
import { KEY_PART_LUA, LUA_KEY_TYPE_CHECK, encodeKeyPart as kp, isWellFormed } from '@tidemark/state';
import {
  MIN_SCORE,
  REBASE_HALF_LIVES,
  ReadContext,
  ReadRequest,
  RecCheckpointResult,
  RecFence,
  RecParams,
  RecPending,
  RecStore,
  SessionContext,
  SessionItem,
  SessionReadRequest,
  StoredList,
  UserState,
  type Level,
  type PendingSegment,
} from '@tidemark/recommend';

export interface RedisRecStoreOptions {
  params: RecParams;
  sessionTtlMs: number;
  userTtlMs: number;
  itemTtlMs: number;
  prefix?: string;
  /** PARTITIONS: a visit's window lives under its partition's hash tag (default 1). */
  partitions?: number;
}

/**
 * A checkpoint (RecPending, libs/recommend pending.ts) and the partition's fence in one call. Redis keeps the
 * writes a script made before an error, so the script reads and checks every argument and the type of every
 * key it will write before its first write, and refuses the checkpoint whole otherwise (an error reply
 * `refused: …`, the fence unmoved): numbers are finite, counts whole, each section as long as it says, every
 * key holds the type it needs or nothing (ids are encoded, so a key cannot be another one's; the check makes it
 * hold whatever the caller passes). Unbounded `unpack` is avoided (Lua's stack holds ~8,000 values): variadic
 * commands take 500 members at a time.
 *
 * KEYS[1] the partition's fence (hash, field lastSeq), KEYS[2] its name before the hash tag (read when KEYS[1]
 * does not exist yet, deleted on the first checkpoint), KEYS[3] a scratch sorted set (deleted after each use).
 * ARGV, flat: expectedSeq, newSeq, prefix, the 12 numbers of CONFIG_FIELDS, then five sections, each a count
 * followed by that many records:
 *   decayed lists   kind (nb | sq | tr), list id (encoded; tr: all | c:<category>), segments, and per segment
 *                   r, tmax, members, and per member: member, sum, level (0: none above a view)
 *   latest sets     kind (vs | u | bz), id (encoded), members, and per member: member, time
 *   categories      product (encoded), category
 *   windows         partition of the visit, visit (encoded), window (JSON)
 *   clock           time
 */
const CHECKPOINT_CONFIG = ['ch', 'th', 'nb', 'ts', 'ur', 'bm', 'kv', 'sttl', 'uttl', 'ittl', 'rebase', 'min'] as const;

const CHECKPOINT = `
local current = redis.call('HGET', KEYS[1], 'lastSeq')
local legacy = not current
if legacy then current = redis.call('HGET', KEYS[2], 'lastSeq') or '0' end
if current ~= ARGV[1] then return {0, current} end
local function refuse(msg) return redis.error_reply('refused: ' .. msg) end
${LUA_KEY_TYPE_CHECK}
local function num(s)
  local x = tonumber(s)
  if x and x == x and x ~= math.huge and x ~= -math.huge then return x end
  return nil
end
local function whole(s)
  local x = num(s)
  if x and x >= 0 and x == math.floor(x) then return x end
  return nil
end
local at = 2
local function arg()
  at = at + 1
  return ARGV[at]
end
if not whole(ARGV[2]) then return refuse('newSeq is not a sequence') end
local pre = arg()
if type(pre) ~= 'string' then return refuse('no prefix') end
local C = {}
for _, name in ipairs({${CHECKPOINT_CONFIG.map((n) => `'${n}'`).join(', ')}}) do
  C[name] = num(arg())
  if not C[name] then return refuse('config ' .. name .. ' is not a number') end
end
if not is(KEYS[1], 'hash') or not is(KEYS[3], 'zset') or not is(pre .. 'clock', 'string') then return refuse('the fence, scratch or clock key holds another type') end
-- read and check everything
local lists = {}
local n = whole(arg())
if not n then return refuse('decayed list count') end
for l = 1, n do
  local kind, id, ns = arg(), arg(), whole(arg())
  if (kind ~= 'nb' and kind ~= 'sq' and kind ~= 'tr') or type(id) ~= 'string' or not ns then return refuse('decayed list ' .. l .. ': bad kind, id or segment count') end
  if not is(pre .. kind .. ':' .. id, 'zset') or not is(pre .. kind .. 'e:' .. id, 'string') or (kind == 'nb' and not is(pre .. 'nbl:' .. id, 'hash')) then
    return refuse('decayed list ' .. kind .. ':' .. id .. ': a key of another type')
  end
  local segs = {}
  for g = 1, ns do
    local r, tmax, nm = num(arg()), num(arg()), whole(arg())
    if not (r and tmax and nm) then return refuse('decayed list ' .. kind .. ':' .. id .. ': bad segment') end
    local members = {}
    for m = 1, nm do
      local member, sum, level = arg(), num(arg()), whole(arg())
      if type(member) ~= 'string' or not sum or not level then return refuse('decayed list ' .. kind .. ':' .. id .. ': bad member') end
      members[m] = {member, sum, level}
    end
    segs[g] = {r, tmax, members}
  end
  lists[l] = {kind, id, segs}
end
local sets = {}
n = whole(arg())
if not n then return refuse('latest set count') end
for l = 1, n do
  local kind, id, nm = arg(), arg(), whole(arg())
  if (kind ~= 'vs' and kind ~= 'u' and kind ~= 'bz') or type(id) ~= 'string' or not nm then return refuse('latest set ' .. l .. ': bad kind, id or member count') end
  if not is(pre .. kind .. ':' .. id, 'zset') then return refuse('latest set ' .. kind .. ':' .. id .. ': a key of another type') end
  local members = {}
  for m = 1, nm do
    local member, t = arg(), num(arg())
    if type(member) ~= 'string' or not t then return refuse('latest set ' .. kind .. ':' .. id .. ': bad member') end
    members[#members + 1] = t
    members[#members + 1] = member
  end
  sets[l] = {kind, id, members}
end
local cats = {}
n = whole(arg())
if not n then return refuse('category count') end
for c = 1, n do
  local item, cat = arg(), arg()
  if type(item) ~= 'string' or type(cat) ~= 'string' then return refuse('category ' .. c) end
  cats[c] = {item, cat}
end
local windows = {}
n = whole(arg())
if not n then return refuse('window count') end
for w = 1, n do
  local p, id, json = whole(arg()), arg(), arg()
  if not p or type(id) ~= 'string' or type(json) ~= 'string' then return refuse('window ' .. w) end
  windows[w] = {pre .. '{p' .. p .. '}:s:' .. id, json}
end
n = whole(arg())
if n ~= 0 and n ~= 1 then return refuse('clock count') end
local clock = nil
if n == 1 then
  clock = num(arg())
  if not clock then return refuse('clock is not a number') end
end
if at ~= #ARGV then return refuse((#ARGV - at) .. ' arguments after the last section') end

-- write
local function chunked(cmd, key, list, extra)
  for i = 1, #list, 1000 do
    if extra then redis.call(cmd, key, extra, unpack(list, i, math.min(i + 999, #list)))
    else redis.call(cmd, key, unpack(list, i, math.min(i + 999, #list))) end
  end
end
local TMP = KEYS[3]
-- one decayed list: each segment summed in (rebasing to its r first when it reaches past the epoch), one trim, one TTL
local function decayed(kind, id, segs, h, keep, ttl)
  local key = pre .. kind .. ':' .. id
  local ekey = pre .. kind .. 'e:' .. id
  local lkey = kind == 'nb' and (pre .. 'nbl:' .. id) or nil
  local e = tonumber(redis.call('GET', ekey))
  local e0 = e
  for _, seg in ipairs(segs) do
    local r, tmax, members = seg[1], seg[2], seg[3]
    if not e then
      e = r
    elseif (tmax - e) / h > C.rebase then
      redis.call('ZUNIONSTORE', key, 1, key, 'WEIGHTS', 2 ^ ((e - r) / h))
      local gone = redis.call('ZRANGEBYSCORE', key, '-inf', '(' .. C.min)
      if #gone > 0 then
        chunked('ZREM', key, gone)
        if lkey then chunked('HDEL', lkey, gone) end
      end
      e = r
    end
    local f = 2 ^ ((r - e) / h)
    local adds, leveled = {}, {}
    for _, x in ipairs(members) do
      adds[#adds + 1] = x[2]
      adds[#adds + 1] = x[1]
      if lkey and x[3] > 1 then leveled[#leveled + 1] = x end
    end
    if #members <= 3 then
      -- a few: one ZINCRBY each (stored + sum·f, the same double arithmetic as the union below)
      for _, x in ipairs(members) do redis.call('ZINCRBY', key, x[2] * f, x[1]) end
    else
      chunked('ZADD', TMP, adds)
      redis.call('ZUNIONSTORE', key, 2, key, TMP, 'WEIGHTS', 1, f)
      redis.call('DEL', TMP)
    end
    if #leveled > 0 then
      local names = {}
      for i, x in ipairs(leveled) do names[i] = x[1] end
      local cur = {}
      for i = 1, #names, 1000 do
        local part = redis.call('HMGET', lkey, unpack(names, i, math.min(i + 999, #names)))
        for j = 1, #part do cur[#cur + 1] = part[j] end
      end
      local raise = {}
      for i, x in ipairs(leveled) do
        if x[3] > (tonumber(cur[i]) or 0) then
          raise[#raise + 1] = x[1]
          raise[#raise + 1] = x[3]
        end
      end
      if #raise > 0 then chunked('HSET', lkey, raise) end
    end
  end
  if e ~= e0 then redis.call('SET', ekey, e) end
  local n = redis.call('ZCARD', key)
  if n > keep then
    if lkey then chunked('HDEL', lkey, redis.call('ZRANGE', key, 0, n - keep - 1)) end
    redis.call('ZREMRANGEBYRANK', key, 0, n - keep - 1)
  end
  if ttl > 0 then
    redis.call('PEXPIRE', key, ttl)
    redis.call('PEXPIRE', ekey, ttl)
    if lkey then redis.call('PEXPIRE', lkey, ttl) end
  end
end
for _, l in ipairs(lists) do
  local kind, id = l[1], l[2]
  if kind == 'nb' then decayed(kind, id, l[3], C.ch, C.nb, C.ittl)
  elseif kind == 'sq' then decayed(kind, id, l[3], C.ch, C.nb, C.ittl)
  else decayed(kind, id, l[3], C.th, C.ts, id == 'all' and 0 or C.ittl) end
end
-- a sorted set of (member, latest time): keep each member's latest time, then only the newest \`keep\`
for _, s in ipairs(sets) do
  local kind, id, members = s[1], s[2], s[3]
  local key = pre .. kind .. ':' .. id
  local keep = kind == 'vs' and C.kv or (kind == 'u' and C.ur or C.bm)
  chunked('ZADD', key, members, 'GT')
  local n = redis.call('ZCARD', key)
  if n > keep then redis.call('ZREMRANGEBYRANK', key, 0, n - keep - 1) end
  redis.call('PEXPIRE', key, kind == 'vs' and C.ittl or C.uttl)
end
for _, c in ipairs(cats) do redis.call('SET', pre .. 'c:' .. c[1], c[2], 'PX', C.ittl) end
for _, w in ipairs(windows) do redis.call('SET', w[1], w[2], 'PX', C.sttl) end
if clock then
  local cur = tonumber(redis.call('GET', pre .. 'clock'))
  if (not cur) or clock > cur then redis.call('SET', pre .. 'clock', clock) end
end
redis.call('HSET', KEYS[1], 'lastSeq', ARGV[2])
if legacy then redis.call('DEL', KEYS[2]) end
return {1, ARGV[2]}
`;

/**
 * Everything one answer needs in one round trip (readContext in libs/recommend, in Lua, read-only).
 * ARGV: prefix, userRecent, neighbours, trending n, then 0 (no category) or 1 and the category, then 0 (no
 * user) or 1 and the userId (encoded), then the productIds (the anchors when there is no user). Ids it reads from Redis (a user's products, a product's category) and the ids in ARGV are
 * encoded with `keypart` before they name a key.
 */
/**
 * Lua shared by READ and READ_SESSION (after `pre`, `anchors` and `cats` are set): the top `n` trending
 * products of a category given first (if any), then of each anchor's category, then overall.
 */
const TRENDING_READ = `local function read_trending(n, first)
  local trending, seen = {}, {}
  local function tr(id, name)
    local z = {}
    if n > 0 then z = redis.call('ZREVRANGE', pre .. 'tr:' .. id, 0, n - 1, 'WITHSCORES') end
    trending[#trending + 1] = { name, z, redis.call('GET', pre .. 'tre:' .. id) or false }
  end
  if first then
    seen[first] = true
    tr('c:' .. keypart(first), first)
  end
  for i = 1, #anchors do
    local c = cats[i]
    if c and not seen[c] then
      seen[c] = true
      tr('c:' .. keypart(c), c)
    end
  end
  tr('all', false)
  return trending
end`;

const READ = `${KEY_PART_LUA}
local pre = ARGV[1]
local ur = tonumber(ARGV[2])
local nb = tonumber(ARGV[3])
local tn = tonumber(ARGV[4])
local at = 5
local cat = nil
if ARGV[at] == '1' then
  cat = ARGV[at + 1]
  at = at + 1
end
at = at + 1
local uid = nil
if ARGV[at] == '1' then
  uid = ARGV[at + 1]
  at = at + 1
end
at = at + 1
local clock = redis.call('GET', pre .. 'clock') or false
local recent = {}
local bought = {}
local anchors = {}
if uid then
  if ur > 0 then recent = redis.call('ZREVRANGE', pre .. 'u:' .. uid, 0, ur - 1, 'WITHSCORES') end
  bought = redis.call('ZRANGE', pre .. 'bz:' .. uid, 0, -1)
  for i = 1, #recent, 2 do anchors[#anchors + 1] = recent[i] end
else
  for i = at, #ARGV do anchors[#anchors + 1] = ARGV[i] end
end
local lists = {}
local cats = {}
for i, a in ipairs(anchors) do
  local z = {}
  local ka = keypart(a)
  if nb > 0 then z = redis.call('ZREVRANGE', pre .. 'nb:' .. ka, 0, nb - 1, 'WITHSCORES') end
  lists[i] = { z, redis.call('GET', pre .. 'nbe:' .. ka) or false, redis.call('HGETALL', pre .. 'nbl:' .. ka) }
  cats[i] = redis.call('GET', pre .. 'c:' .. ka) or false
end
local n = tn + #bought + #anchors
${TRENDING_READ}
local trending = read_trending(n, cat)
return { clock, recent, bought, anchors, lists, cats, trending }
`;

/**
 * A session answer's reads in one round trip (readSessionContext in libs/recommend, in Lua, read-only): the
 * visit's window, its most recent products as anchors, their neighbours, rules and categories, the
 * session-kNN visits (posting lists of the anchors, ranked by anchors shared, then latest time, then id) with
 * their windows, and trending. Windows are returned as stored (JSON) and parsed by the caller.
 * A visit's window lives under its partition's hash tag: the script finds the partition of a visit it read
 * from a posting list with partition_of (libs/contracts).
 * ARGV: prefix, sessionId, partitions, anchors, neighbours, rules, knn visits, knn neighbours, trending n.
 */
const READ_SESSION = `${KEY_PART_LUA}
${PARTITION_OF_LUA}
local pre = ARGV[1]
local raw = ARGV[2]
local parts = tonumber(ARGV[3])
local function window_key(id) return pre .. '{p' .. partition_of(id, parts) .. '}:s:' .. keypart(id) end
local na, nb, ns, kv, kn, tn = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local clock = redis.call('GET', pre .. 'clock') or false
local wjson = redis.call('GET', window_key(raw)) or false
local window = {}
if wjson then window = cjson.decode(wjson) end
local anchors = {}
for i = #window, 1, -1 do
  if #anchors >= na then break end
  anchors[#anchors + 1] = window[i].p
end
local lists, seqs, cats = {}, {}, {}
for i, a in ipairs(anchors) do
  local ka = keypart(a)
  if nb > 0 then
    lists[i] = { redis.call('ZREVRANGE', pre .. 'nb:' .. ka, 0, nb - 1, 'WITHSCORES'), redis.call('GET', pre .. 'nbe:' .. ka) or false, redis.call('HGETALL', pre .. 'nbl:' .. ka) }
  else
    lists[i] = { {}, false, {} }
  end
  if ns > 0 then
    seqs[i] = { redis.call('ZREVRANGE', pre .. 'sq:' .. ka, 0, ns - 1, 'WITHSCORES'), redis.call('GET', pre .. 'sqe:' .. ka) or false }
  else
    seqs[i] = { {}, false }
  end
  cats[i] = redis.call('GET', pre .. 'c:' .. ka) or false
end
local visits = {}
if kv > 0 and kn > 0 then
  local cand, order = {}, {}
  for _, a in ipairs(anchors) do
    local z = redis.call('ZREVRANGE', pre .. 'vs:' .. keypart(a), 0, kv - 1, 'WITHSCORES')
    for j = 1, #z, 2 do
      local id, t = z[j], tonumber(z[j + 1])
      if id ~= raw then
        local c = cand[id]
        if not c then
          c = { id = id, n = 1, t = t }
          cand[id] = c
          order[#order + 1] = c
        else
          c.n = c.n + 1
          if t > c.t then c.t = t end
        end
      end
    end
  end
  table.sort(order, function(x, y)
    if x.n ~= y.n then return x.n > y.n end
    if x.t ~= y.t then return x.t > y.t end
    return x.id < y.id
  end)
  for j = 1, math.min(kn, #order) do
    local w = redis.call('GET', window_key(order[j].id))
    if w then visits[#visits + 1] = { order[j].id, w } end
  end
end
local n = tn + #window
${TRENDING_READ}
local trending = read_trending(n, nil)
return { clock, wjson, anchors, lists, seqs, cats, visits, trending }
`;

type SessionReply = [string | null, string | null, string[], [string[], string | null, string[]][], [string[], string | null][], (string | null)[], [string, string][], [string | null, string[], string | null][]];

type ReadReply = [string | null, string[], string[], string[], [string[], string | null, string[]][], (string | null)[], [string | null, string[], string | null][]];

/** A string that cannot travel to Redis as it is (a lone UTF-16 surrogate has no UTF-8 form): refused whole. */
function sendable(x: string, what: string): string {
  if (!isWellFormed(x)) throw new Error(`refused: ${what} is not well-formed Unicode (a lone surrogate)`);
  return x;
}

/**
 * The checkpoint script's ARGV after the header (see CHECKPOINT): the pending buffer's five sections, flat.
 * Ids in key names are encoded; members, categories and windows are checked to be well-formed Unicode (ids
 * reach the buffer from events, which ingestion already refuses with a lone surrogate).
 */
export function checkpointArgs(pending: RecPending, partitions: number): string[] {
  const out: string[] = [];
  const lists: [string, string, PendingSegment[]][] = [];
  for (const [id, segs] of pending.neighbours) lists.push(['nb', kp(id), segs]);
  for (const [id, segs] of pending.sequences) lists.push(['sq', kp(id), segs]);
  for (const [c, segs] of pending.trending) lists.push(['tr', c === null ? 'all' : `c:${kp(c)}`, segs]);
  out.push(String(lists.length));
  for (const [kind, id, segs] of lists) {
    out.push(kind, id, String(segs.length));
    for (const seg of segs) {
      out.push(String(seg.r), String(seg.tmax), String(seg.members.size));
      for (const [member, x] of seg.members) out.push(sendable(member, 'a product id'), String(x.sum), String(x.level));
    }
  }
  const sets: [string, Map<string, Map<string, number>>][] = [
    ['vs', pending.postings],
    ['u', pending.recent],
    ['bz', pending.bought],
  ];
  out.push(String(sets.reduce((n, [, m]) => n + m.size, 0)));
  for (const [kind, m] of sets) {
    for (const [id, members] of m) {
      out.push(kind, kp(id), String(members.size));
      for (const [member, t] of members) out.push(sendable(member, 'an id'), String(t));
    }
  }
  out.push(String(pending.categories.size));
  for (const [item, c] of pending.categories) out.push(kp(item), sendable(c, 'a category'));
  out.push(String(pending.windows.size));
  for (const [id, items] of pending.windows) out.push(String(partitionOf(id, partitions)), kp(id), sendable(JSON.stringify(items), 'a visit window'));
  if (pending.clock === null) out.push('0');
  else out.push('1', String(pending.clock));
  return out;
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** CHECKPOINT: [1, newSeq] written, or [0, the stored sequence] (the fence moved; nothing written). */
    tidemarkRecsCheckpoint(fence: string, legacyFence: string, scratch: string, ...args: string[]): Result<[number, string], Context>;
    tidemarkRecsRead(...args: string[]): Result<ReadReply, Context>;
    tidemarkRecsReadSession(...args: string[]): Result<SessionReply, Context>;
  }
}

/** A list from ZREVRANGE … WITHSCORES, its epoch, and its levels (HGETALL: an object via ioredis, a flat array from Lua). */
function scored(flat: string[], epoch: string | null, levelReply?: Record<string, string> | string[]): StoredList {
  let levels = levelReply as Record<string, string> | undefined;
  if (Array.isArray(levelReply)) {
    levels = {};
    for (let i = 0; i < levelReply.length; i += 2) levels[levelReply[i]] = levelReply[i + 1];
  }
  if (epoch === null) return { epoch: null, items: [] };
  const items: StoredList['items'] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const level = levels?.[flat[i]];
    items.push({ item: flat[i], stored: Number(flat[i + 1]), ...(level ? { level: Number(level) as Level } : {}) });
  }
  return { epoch: Number(epoch), items };
}

/** The sorted set a checkpoint script may fill and empty again (one per partition, under its hash tag). */
const SCRATCH = 'add';

export class RedisRecStore implements RecStore {
  private readonly pre: string;
  /** The script's prefix and numbers (CHECKPOINT_CONFIG order). */
  private readonly config: string[];
  private readonly partitions: number;

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisRecStoreOptions,
  ) {
    this.pre = options.prefix ?? 'recs:';
    this.partitions = options.partitions ?? 1;
    const p = options.params;
    const numbers: Record<(typeof CHECKPOINT_CONFIG)[number], number> = {
      ch: p.coocHalfLifeMs,
      th: p.trendingHalfLifeMs,
      nb: p.neighbours,
      ts: p.trendingSize,
      ur: p.userRecent,
      bm: p.userBought,
      kv: p.knnVisits,
      sttl: options.sessionTtlMs,
      uttl: options.userTtlMs,
      ittl: options.itemTtlMs,
      rebase: REBASE_HALF_LIVES,
      min: MIN_SCORE,
    };
    this.config = [this.pre, ...CHECKPOINT_CONFIG.map((k) => String(numbers[k]))];
    redis.defineCommand('tidemarkRecsCheckpoint', { numberOfKeys: 3, lua: CHECKPOINT });
    redis.defineCommand('tidemarkRecsRead', { numberOfKeys: 0, lua: READ });
    redis.defineCommand('tidemarkRecsReadSession', { numberOfKeys: 0, lua: READ_SESSION });
  }

  /** Keys of a partition: its fence, its scratch set, its visits' windows — one hash tag, one Cluster slot. */
  private partitionKey(partition: number, rest: string): string {
    return `${this.pre}{p${partition}}:${rest}`;
  }

  private windowKey(sessionId: string): string {
    return this.partitionKey(partitionOf(sessionId, this.partitions), `s:${kp(sessionId)}`);
  }

  async context(req: ReadRequest): Promise<ReadContext> {
    const category = req.category === undefined ? ['0'] : ['1', req.category];
    const user = req.userId === undefined ? ['0'] : ['1', kp(req.userId)];
    const [clock, recentFlat, bought, anchors, lists, cats, trending] = await this.redis.tidemarkRecsRead(
      this.pre,
      String(req.userId === undefined ? 0 : req.userRecent),
      String(req.neighbours),
      String(req.trending),
      ...category,
      ...user,
      ...(req.userId === undefined ? (req.productIds ?? []) : []),
    );
    const recent: UserState['recent'] = [];
    for (let i = 0; i < recentFlat.length; i += 2) recent.push({ item: recentFlat[i], t: Number(recentFlat[i + 1]) });
    const ctx: ReadContext = { now: clock === null ? null : Number(clock), user: { recent, bought: new Set(bought) }, lists: new Map(), categories: new Map(), trending: new Map() };
    anchors.forEach((a, i) => {
      ctx.lists.set(a, scored(lists[i][0], lists[i][1], lists[i][2]));
      if (cats[i] !== null) ctx.categories.set(a, cats[i]!);
    });
    for (const [name, flat, epoch] of trending) ctx.trending.set(name, scored(flat, epoch));
    return ctx;
  }

  async lastSeq(partition: number): Promise<number> {
    const [now, before] = await exec(this.redis.pipeline().hget(this.partitionKey(partition, 'part'), 'lastSeq').hget(`${this.pre}part:${partition}`, 'lastSeq'));
    return Number(now ?? before ?? 0);
  }

  async checkpoint(fence: RecFence, pending: RecPending): Promise<RecCheckpointResult> {
    const [written, seq] = await this.redis.tidemarkRecsCheckpoint(
      this.partitionKey(fence.partition, 'part'),
      `${this.pre}part:${fence.partition}`,
      this.partitionKey(fence.partition, SCRATCH),
      String(fence.expectedSeq),
      String(fence.newSeq),
      ...this.config,
      ...checkpointArgs(pending, this.partitions),
    );
    return written === 1 ? { status: 'ok' } : { status: 'conflict', lastSeq: Number(seq) };
  }

  async sessions(ids: readonly string[]): Promise<Map<string, SessionItem[]>> {
    const out = new Map<string, SessionItem[]>();
    if (ids.length === 0) return out;
    const values = await this.redis.mget(ids.map((id) => this.windowKey(id)));
    ids.forEach((id, i) => {
      if (values[i] !== null) out.set(id, JSON.parse(values[i]!) as SessionItem[]);
    });
    return out;
  }

  async clock(): Promise<number | null> {
    const v = await this.redis.get(`${this.pre}clock`);
    return v === null ? null : Number(v);
  }

  async neighbours(items: readonly string[], n: number): Promise<Map<string, StoredList>> {
    const out = new Map<string, StoredList>();
    if (items.length === 0) return out;
    const pipe = this.redis.pipeline();
    for (const item of items) {
      const k = kp(item);
      pipe.zrevrange(`${this.pre}nb:${k}`, 0, n - 1, 'WITHSCORES');
      pipe.get(`${this.pre}nbe:${k}`);
      pipe.hgetall(`${this.pre}nbl:${k}`);
    }
    const res = await exec(pipe);
    items.forEach((item, i) => out.set(item, scored(res[3 * i] as string[], res[3 * i + 1] as string | null, res[3 * i + 2] as Record<string, string>)));
    return out;
  }

  async sessionContext(req: SessionReadRequest): Promise<SessionContext> {
    const [clock, wjson, anchors, lists, seqs, cats, visits, trending] = await this.redis.tidemarkRecsReadSession(
      this.pre,
      req.sessionId,
      String(this.partitions),
      ...[req.anchors, req.neighbours, req.sequences, req.knnVisits, req.knnNeighbours, req.trending].map((x) => String(Math.max(0, x))),
    );
    const ctx: SessionContext = {
      now: clock === null ? null : Number(clock),
      window: wjson === null ? [] : (JSON.parse(wjson) as SessionItem[]),
      anchors,
      lists: new Map(),
      sequences: new Map(),
      categories: new Map(),
      visits: visits.map(([sessionId, w]) => ({ sessionId, items: JSON.parse(w) as SessionItem[] })),
      trending: new Map(),
    };
    anchors.forEach((a, i) => {
      ctx.lists.set(a, scored(lists[i][0], lists[i][1], lists[i][2]));
      ctx.sequences.set(a, scored(seqs[i][0], seqs[i][1]));
      if (cats[i] !== null) ctx.categories.set(a, cats[i]!);
    });
    for (const [name, flat, epoch] of trending) ctx.trending.set(name, scored(flat, epoch));
    return ctx;
  }

  async sequences(items: readonly string[], n: number): Promise<Map<string, StoredList>> {
    const out = new Map<string, StoredList>();
    if (items.length === 0) return out;
    const pipe = this.redis.pipeline();
    for (const item of items) pipe.zrevrange(`${this.pre}sq:${kp(item)}`, 0, n - 1, 'WITHSCORES').get(`${this.pre}sqe:${kp(item)}`);
    const res = await exec(pipe);
    items.forEach((item, i) => out.set(item, scored(res[2 * i] as string[], res[2 * i + 1] as string | null)));
    return out;
  }

  async postings(item: string, n: number): Promise<StoredList['items']> {
    const flat = await this.redis.zrevrange(`${this.pre}vs:${kp(item)}`, 0, n - 1, 'WITHSCORES');
    const out: StoredList['items'] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ item: flat[i], stored: Number(flat[i + 1]) });
    return out;
  }

  async trending(category: string | null, n: number): Promise<StoredList> {
    const id = category === null ? 'all' : `c:${kp(category)}`;
    const res = await exec(this.redis.pipeline().zrevrange(`${this.pre}tr:${id}`, 0, n - 1, 'WITHSCORES').get(`${this.pre}tre:${id}`));
    return scored(res[0] as string[], res[1] as string | null);
  }

  async user(userId: string): Promise<UserState> {
    const u = kp(userId);
    const res = await exec(this.redis.pipeline().zrevrange(`${this.pre}u:${u}`, 0, -1, 'WITHSCORES').zrange(`${this.pre}bz:${u}`, 0, -1));
    const flat = res[0] as string[];
    const recent: UserState['recent'] = [];
    for (let i = 0; i < flat.length; i += 2) recent.push({ item: flat[i], t: Number(flat[i + 1]) });
    return { recent, bought: new Set(res[1] as string[]) };
  }

  async categories(items: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (items.length === 0) return out;
    const values = await this.redis.mget(items.map((i) => `${this.pre}c:${kp(i)}`));
    items.forEach((item, i) => {
      if (values[i] !== null) out.set(item, values[i]!);
    });
    return out;
  }
}

async function exec(pipe: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
  const res = (await pipe.exec()) ?? [];
  const failed = res.find(([err]) => err);
  if (failed) throw failed[0];
  return res.map(([, v]) => v);
}
