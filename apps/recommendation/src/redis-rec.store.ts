/**
 * libs/recommend's RecStore on Redis: a batch's ops and its partition fence in one Lua call (atomic: all or
 * nothing, and a redelivered batch — stored lastSeq ≠ expectedSeq — writes nothing). Reads are single
 * commands, pipelined. Must agree with InMemoryRecStore (test/recs-store.e2e-spec.ts checks both on the same
 * inputs against a real redis-server).
 *
 * Keys (prefix `recs:` by default; single Redis, not Cluster — the script names keys it computes):
 *   part:<p>                       hash: lastSeq of clean partition p
 *   clock                          the highest event time applied
 *   nb:<product>                   zset: neighbours → stored (forward-decayed) co-occurrence; the product itself = its own count
 *   nbe:<product>, nbl:<product>   that list's epoch; hash neighbour → pair level (1 view, 2 cart, 3 purchase)
 *   tr:all, tr:c:<category>        zsets: trending overall / per category; tre:… their epochs
 *   sq:<product>, sqe:<product>    zset: sequential rules product → next product (forward-decayed; itself = its own count), its epoch
 *   vs:<product>                   zset: visits → last time they touched the product (session-kNN; the knnVisits latest kept)
 *   u:<user>                       zset: product → last time the user touched it (the userRecent latest kept)
 *   bz:<user>                      sorted set: products the user bought, by time; the newest userBought kept
 *   c:<product>                    the product's category
 *   s:<session>                    JSON: the visit's recent window
 * Every id in a key name (<product>, <category>, <user>, <session>) is encoded with encodeKeyPart (libs/state
 * key-part.ts; the READ script with its Lua twin for ids it reads from Redis): no id holds `:` or a hash-tag
 * brace, so none names another key. Members and values (neighbour ids, a product's category, a user's
 * products) are stored as they are.
 * TTLs (wall clock, refreshed on write): visits RECS_SESSION_TTL_MS, users RECS_USER_TTL_MS, products and
 * per-category trending RECS_ITEM_TTL_MS. Sizes: neighbours and rules ≤ RECS_NEIGHBOURS, trending ≤ RECS_TRENDING_SIZE,
 * visits per product ≤ RECS_KNN_VISITS.
 */
import type Redis from 'ioredis';
import { KEY_PART_LUA, LUA_KEY_TYPE_CHECK, encodeKeyPart as kp } from '@tidemark/state';
import { MIN_SCORE, REBASE_HALF_LIVES, ReadContext, ReadRequest, RecApplyResult, RecFence, RecOp, RecParams, RecStore, SessionContext, SessionItem, SessionReadRequest, StoredList, UserState, type Level } from '@tidemark/recommend';

export interface RedisRecStoreOptions {
  params: RecParams;
  sessionTtlMs: number;
  userTtlMs: number;
  itemTtlMs: number;
  prefix?: string;
}

/**
 * Redis keeps the writes a script made before an error, so APPLY checks everything before its first write and
 * refuses the batch whole (an error reply `refused: …`, the fence unmoved): the JSON decodes (a lone UTF-16
 * surrogate does not; ingestion rejects events holding one), every op is known, its numbers are finite, and
 * every key it reads or writes holds the type it needs or nothing (ids are encoded, so a key cannot be another
 * one's; the check makes it hold whatever the caller passes). `unpack` goes in chunks of 1,000 (Lua's stack
 * holds ~8,000 values: a user may have bought more products than that).
 */
const APPLY = `
local current = redis.call('HGET', KEYS[1], 'lastSeq') or '0'
if current ~= ARGV[1] then return {0, current} end
local function refuse(msg) return redis.error_reply('refused: ' .. msg) end
local okc, C = pcall(cjson.decode, ARGV[4])
if not okc or type(C) ~= 'table' then return refuse('config is not valid JSON') end
local oko, ops = pcall(cjson.decode, ARGV[3])
if not oko or type(ops) ~= 'table' then return refuse('ops are not valid JSON (a string that is not well-formed Unicode?)') end
local pre = C.pre
${LUA_KEY_TYPE_CHECK}
local function num(x) return type(x) == 'number' and x == x and x ~= math.huge and x ~= -math.huge end
local function str(x) return type(x) == 'string' end
local function each(list, f)
  if type(list) ~= 'table' then return false end
  for _, x in ipairs(list) do
    if not f(x) then return false end
  end
  return true
end
local function tuple(x) return type(x) == 'table' end
for n, o in ipairs(ops) do
  local op = o[1]
  local ok
  if op == 'P' or op == 'T' or op == 'Q' then
    local base = op == 'P' and 'nb' or (op == 'T' and 'tr' or 'sq')
    ok = str(o[2]) and is(pre .. base .. ':' .. o[2], 'zset') and is(pre .. base .. 'e:' .. o[2], 'string')
      and (op ~= 'P' or is(pre .. base .. 'l:' .. o[2], 'hash'))
      and each(o[3], function(x) return tuple(x) and str(x[1]) and num(x[2]) and num(x[3]) and (x[4] == nil or num(x[4])) end)
  elseif op == 'S' or op == 'V' then
    ok = str(o[2]) and is(pre .. (op == 'S' and 'u:' or 'vs:') .. o[2], 'zset') and each(o[3], function(x) return tuple(x) and str(x[1]) and num(x[2]) end)
  elseif op == 'B' then
    ok = str(o[2]) and is(pre .. 'bz:' .. o[2], 'zset') and each(o[3], function(x) return tuple(x) and str(x[1]) and num(x[2]) end)
  elseif op == 'c' or op == 'w' then
    -- SET replaces a key of any type
    ok = str(o[2]) and str(o[3])
  elseif op == 'k' then
    ok = num(o[2]) and is(pre .. 'clock', 'string')
  else
    return refuse('unknown recs op ' .. tostring(op))
  end
  if not ok then return refuse('op ' .. n .. ' (' .. tostring(op) .. '): bad arguments or a key of another type') end
end
local function chunked(cmd, key, list)
  for i = 1, #list, 1000 do redis.call(cmd, key, unpack(list, i, math.min(i + 999, #list))) end
end
-- A sorted set of (member, latest time): keep each member's latest time, then only the newest \`keep\`.
local function latest(kind, id, xs, keep, ttl)
  local key = pre .. kind .. id
  for _, x in ipairs(xs) do redis.call('ZADD', key, 'GT', x[2], x[1]) end
  local n = redis.call('ZCARD', key)
  if n > keep then redis.call('ZREMRANGEBYRANK', key, 0, n - keep - 1) end
  redis.call('PEXPIRE', key, ttl)
end
-- one decayed list: additions in batch order (rebasing when one is far past the epoch), then one trim, one TTL
local function decayed(base, id, adds, h, keep, ttl, levels)
  local key = pre .. base .. ':' .. id
  local ekey = pre .. base .. 'e:' .. id
  local lkey = pre .. base .. 'l:' .. id
  local e = tonumber(redis.call('GET', ekey))
  local e0 = e
  for _, x in ipairs(adds) do
    local member, w, t = x[1], x[2], x[3]
    if not e then
      e = t
    elseif (t - e) / h > C.rebase then
      local f = 2 ^ ((e - t) / h)
      local all = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
      for i = 1, #all, 2 do
        local v = tonumber(all[i + 1]) * f
        if v < C.min then
          redis.call('ZREM', key, all[i])
          if levels then redis.call('HDEL', lkey, all[i]) end
        else
          redis.call('ZADD', key, v, all[i])
        end
      end
      e = t
    end
    redis.call('ZINCRBY', key, w * 2 ^ ((t - e) / h), member)
    local level = x[4]
    if levels and level and level > 1 then
      local cur = tonumber(redis.call('HGET', lkey, member) or '0')
      if level > cur then redis.call('HSET', lkey, member, level) end
    end
  end
  if e ~= e0 then redis.call('SET', ekey, e) end
  local n = redis.call('ZCARD', key)
  if n > keep then
    if levels then
      chunked('HDEL', lkey, redis.call('ZRANGE', key, 0, n - keep - 1))
    end
    redis.call('ZREMRANGEBYRANK', key, 0, n - keep - 1)
  end
  if ttl > 0 then
    redis.call('PEXPIRE', key, ttl)
    redis.call('PEXPIRE', ekey, ttl)
    if levels then redis.call('PEXPIRE', lkey, ttl) end
  end
end
for _, o in ipairs(ops) do
  local op = o[1]
  if op == 'P' then
    decayed('nb', o[2], o[3], C.ch, C.nb, C.ittl, true)
  elseif op == 'T' then
    decayed('tr', o[2], o[3], C.th, C.ts, o[2] == 'all' and 0 or C.ittl, false)
  elseif op == 'Q' then
    decayed('sq', o[2], o[3], C.ch, C.nb, C.ittl, false)
  elseif op == 'V' then
    latest('vs:', o[2], o[3], C.kv, C.ittl)
  elseif op == 'S' then
    latest('u:', o[2], o[3], C.ur, C.uttl)
  elseif op == 'B' then
    latest('bz:', o[2], o[3], C.bm, C.uttl)
  elseif op == 'c' then
    redis.call('SET', pre .. 'c:' .. o[2], o[3], 'PX', C.ittl)
  elseif op == 'w' then
    redis.call('SET', pre .. 's:' .. o[2], o[3], 'PX', C.sttl)
  elseif op == 'k' then
    local cur = tonumber(redis.call('GET', pre .. 'clock'))
    if (not cur) or o[2] > cur then redis.call('SET', pre .. 'clock', o[2]) end
  end
end
redis.call('HSET', KEYS[1], 'lastSeq', ARGV[2])
return {1, ARGV[2]}
`;

/**
 * Everything one answer needs in one round trip (readContext in libs/recommend, in Lua, read-only).
 * ARGV: prefix, userId (encoded; '' none), userRecent, neighbours, trending n, category, hasCategory ('1'),
 * productIds… Ids it reads from Redis (a user's products, a product's category) and the ids in ARGV are
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
local uid = ARGV[2]
local ur = tonumber(ARGV[3])
local nb = tonumber(ARGV[4])
local tn = tonumber(ARGV[5])
local cat = ARGV[6]
local clock = redis.call('GET', pre .. 'clock') or false
local recent = {}
local bought = {}
local anchors = {}
if uid ~= '' then
  if ur > 0 then recent = redis.call('ZREVRANGE', pre .. 'u:' .. uid, 0, ur - 1, 'WITHSCORES') end
  bought = redis.call('ZRANGE', pre .. 'bz:' .. uid, 0, -1)
  for i = 1, #recent, 2 do anchors[#anchors + 1] = recent[i] end
else
  for i = 8, #ARGV do anchors[#anchors + 1] = ARGV[i] end
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
local trending = read_trending(n, ARGV[7] == '1' and cat or nil)
return { clock, recent, bought, anchors, lists, cats, trending }
`;

/**
 * A session answer's reads in one round trip (readSessionContext in libs/recommend, in Lua, read-only): the
 * visit's window, its most recent products as anchors, their neighbours, rules and categories, the
 * session-kNN visits (posting lists of the anchors, ranked by anchors shared, then latest time, then id) with
 * their windows, and trending. Windows are returned as stored (JSON) and parsed by the caller.
 * ARGV: prefix, sessionId (encoded), sessionId (raw), anchors, neighbours, rules, knn visits, knn neighbours, trending n.
 */
const READ_SESSION = `${KEY_PART_LUA}
local pre = ARGV[1]
local raw = ARGV[3]
local na, nb, ns, kv, kn, tn = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local clock = redis.call('GET', pre .. 'clock') or false
local wjson = redis.call('GET', pre .. 's:' .. ARGV[2]) or false
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
    local w = redis.call('GET', pre .. 's:' .. keypart(order[j].id))
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

/**
 * The batch's ops grouped for the script, by encoded id: per neighbour list, per trending list and per user, in batch order
 * within each (so each list sees its additions in the same order as InMemoryRecStore); categories and visit
 * windows last-wins; one clock.
 */
export function encodeOps(ops: readonly RecOp[]): unknown[] {
  const pairs = new Map<string, unknown[][]>();
  const trends = new Map<string, unknown[][]>();
  const rules = new Map<string, unknown[][]>();
  const visits = new Map<string, unknown[][]>();
  const seen = new Map<string, unknown[][]>();
  const bought = new Map<string, (string | number)[][]>();
  const cats = new Map<string, string>();
  const windows = new Map<string, string>();
  let clock: number | undefined;
  const push = <T>(m: Map<string, T[]>, k: string, v: T) => (m.get(k) ?? m.set(k, []).get(k)!).push(v);
  for (const o of ops) {
    switch (o.op) {
      case 'pair':
        push(pairs, kp(o.a), [o.b, o.w, o.t, o.level]);
        break;
      case 'seq':
        push(rules, kp(o.a), [o.b, o.w, o.t]);
        break;
      case 'visit':
        push(visits, kp(o.item), [o.sessionId, o.t]);
        break;
      case 'trend':
        push(trends, 'all', [o.item, o.w, o.t]);
        if (o.category !== undefined) push(trends, `c:${kp(o.category)}`, [o.item, o.w, o.t]);
        break;
      case 'seen':
        push(seen, kp(o.user), [o.item, o.t]);
        break;
      case 'bought':
        push(bought, kp(o.user), [o.item, o.t]);
        break;
      case 'category':
        cats.set(kp(o.item), o.category);
        break;
      case 'session':
        windows.set(kp(o.sessionId), JSON.stringify(o.items));
        break;
      case 'clock':
        clock = Math.max(clock ?? -Infinity, o.t);
        break;
    }
  }
  const out: unknown[] = [];
  for (const [a, adds] of pairs) out.push(['P', a, adds]);
  for (const [id, adds] of trends) out.push(['T', id, adds]);
  for (const [a, adds] of rules) out.push(['Q', a, adds]);
  for (const [item, xs] of visits) out.push(['V', item, xs]);
  for (const [u, xs] of seen) out.push(['S', u, xs]);
  for (const [u, xs] of bought) out.push(['B', u, xs]);
  for (const [p, c] of cats) out.push(['c', p, c]);
  for (const [id, w] of windows) out.push(['w', id, w]);
  if (clock !== undefined) out.push(['k', clock]);
  return out;
}

interface ApplyCommand {
  tidemarkRecsApply(numKeys: 1, key: string, ...args: string[]): Promise<[number, string]>;
  tidemarkRecsRead(numKeys: 0, ...args: string[]): Promise<ReadReply>;
  tidemarkRecsReadSession(numKeys: 0, ...args: string[]): Promise<SessionReply>;
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

export class RedisRecStore implements RecStore {
  private readonly pre: string;
  private readonly config: string;

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisRecStoreOptions,
  ) {
    this.pre = options.prefix ?? 'recs:';
    const p = options.params;
    this.config = JSON.stringify({
      pre: this.pre,
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
    });
    redis.defineCommand('tidemarkRecsApply', { lua: APPLY });
    redis.defineCommand('tidemarkRecsRead', { lua: READ });
    redis.defineCommand('tidemarkRecsReadSession', { lua: READ_SESSION });
  }

  async context(req: ReadRequest): Promise<ReadContext> {
    const [clock, recentFlat, bought, anchors, lists, cats, trending] = await (this.redis as unknown as ApplyCommand).tidemarkRecsRead(
      0,
      this.pre,
      req.userId === undefined ? '' : kp(req.userId),
      String(req.userId === undefined ? 0 : req.userRecent),
      String(req.neighbours),
      String(req.trending),
      req.category ?? '',
      req.category === undefined ? '0' : '1',
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
    return Number((await this.redis.hget(`${this.pre}part:${partition}`, 'lastSeq')) ?? 0);
  }

  async apply(fence: RecFence, ops: readonly RecOp[]): Promise<RecApplyResult> {
    const [applied, seq] = await (this.redis as unknown as ApplyCommand).tidemarkRecsApply(
      1,
      `${this.pre}part:${fence.partition}`,
      String(fence.expectedSeq),
      String(fence.newSeq),
      JSON.stringify(encodeOps(ops)),
      this.config,
    );
    return applied === 1 ? { status: 'applied' } : { status: 'conflict', lastSeq: Number(seq) };
  }

  async sessions(ids: readonly string[]): Promise<Map<string, SessionItem[]>> {
    const out = new Map<string, SessionItem[]>();
    if (ids.length === 0) return out;
    const values = await this.redis.mget(ids.map((id) => `${this.pre}s:${kp(id)}`));
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
    const [clock, wjson, anchors, lists, seqs, cats, visits, trending] = await (this.redis as unknown as ApplyCommand).tidemarkRecsReadSession(
      0,
      this.pre,
      kp(req.sessionId),
      req.sessionId,
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
