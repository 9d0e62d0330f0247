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
 *   u:<user>                       zset: product → last time the user touched it (the userRecent latest kept)
 *   b:<user>                       set: products the user bought
 *   c:<product>                    the product's category
 *   s:<session>                    JSON: the visit's recent window
 * TTLs (wall clock, refreshed on write): visits RECS_SESSION_TTL_MS, users RECS_USER_TTL_MS, products and
 * per-category trending RECS_ITEM_TTL_MS. Sizes: neighbours ≤ RECS_NEIGHBOURS, trending ≤ RECS_TRENDING_SIZE.
 */
import type Redis from 'ioredis';
import { MIN_SCORE, REBASE_HALF_LIVES, RecApplyResult, RecFence, RecOp, RecParams, RecStore, SessionItem, StoredList, UserState, type Level } from '@tidemark/recommend';

export interface RedisRecStoreOptions {
  params: RecParams;
  sessionTtlMs: number;
  userTtlMs: number;
  itemTtlMs: number;
  prefix?: string;
}

const APPLY = `
local current = redis.call('HGET', KEYS[1], 'lastSeq') or '0'
if current ~= ARGV[1] then return {0, current} end
local C = cjson.decode(ARGV[4])
local pre = C.pre
local function decayed_add(base, id, member, w, t, h, keep, ttl, level)
  local key = pre .. base .. ':' .. id
  local ekey = pre .. base .. 'e:' .. id
  local lkey = pre .. base .. 'l:' .. id
  local e = tonumber(redis.call('GET', ekey))
  if not e then
    e = t
    redis.call('SET', ekey, t)
  elseif (t - e) / h > C.rebase then
    local f = 2 ^ ((e - t) / h)
    local all = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
    for i = 1, #all, 2 do
      local v = tonumber(all[i + 1]) * f
      if v < C.min then
        redis.call('ZREM', key, all[i])
        redis.call('HDEL', lkey, all[i])
      else
        redis.call('ZADD', key, v, all[i])
      end
    end
    e = t
    redis.call('SET', ekey, t)
  end
  redis.call('ZINCRBY', key, w * 2 ^ ((t - e) / h), member)
  if level then
    local cur = tonumber(redis.call('HGET', lkey, member) or '0')
    if level > cur then redis.call('HSET', lkey, member, level) end
  end
  local n = redis.call('ZCARD', key)
  if n > keep then
    local gone = redis.call('ZRANGE', key, 0, n - keep - 1)
    redis.call('ZREMRANGEBYRANK', key, 0, n - keep - 1)
    if level then redis.call('HDEL', lkey, unpack(gone)) end
  end
  if ttl > 0 then
    redis.call('PEXPIRE', key, ttl)
    redis.call('PEXPIRE', ekey, ttl)
    if level then redis.call('PEXPIRE', lkey, ttl) end
  end
end
local ops = cjson.decode(ARGV[3])
for _, o in ipairs(ops) do
  local op = o[1]
  if op == 'p' then
    decayed_add('nb', o[2], o[3], o[4], o[5], C.ch, C.nb, C.ittl, o[6])
  elseif op == 't' then
    decayed_add('tr', 'all', o[2], o[4], o[5], C.th, C.ts, 0, nil)
    if o[3] ~= '' then decayed_add('tr', 'c:' .. o[3], o[2], o[4], o[5], C.th, C.ts, C.ittl, nil) end
  elseif op == 's' then
    local key = pre .. 'u:' .. o[2]
    redis.call('ZADD', key, 'GT', o[4], o[3])
    local n = redis.call('ZCARD', key)
    if n > C.ur then redis.call('ZREMRANGEBYRANK', key, 0, n - C.ur - 1) end
    redis.call('PEXPIRE', key, C.uttl)
  elseif op == 'b' then
    local key = pre .. 'b:' .. o[2]
    redis.call('SADD', key, o[3])
    redis.call('PEXPIRE', key, C.uttl)
  elseif op == 'c' then
    redis.call('SET', pre .. 'c:' .. o[2], o[3], 'PX', C.ittl)
  elseif op == 'w' then
    redis.call('SET', pre .. 's:' .. o[2], o[3], 'PX', C.sttl)
  elseif op == 'k' then
    local cur = tonumber(redis.call('GET', pre .. 'clock'))
    if (not cur) or o[2] > cur then redis.call('SET', pre .. 'clock', o[2]) end
  else
    return redis.error_reply('unknown recs op ' .. tostring(op))
  end
end
redis.call('HSET', KEYS[1], 'lastSeq', ARGV[2])
return {1, ARGV[2]}
`;

function encode(o: RecOp): unknown[] {
  switch (o.op) {
    case 'pair':
      return ['p', o.a, o.b, o.w, o.t, o.level];
    case 'trend':
      return ['t', o.item, o.category ?? '', o.w, o.t];
    case 'seen':
      return ['s', o.user, o.item, o.t];
    case 'bought':
      return ['b', o.user, o.item];
    case 'category':
      return ['c', o.item, o.category];
    case 'session':
      return ['w', o.sessionId, JSON.stringify(o.items)];
    case 'clock':
      return ['k', o.t];
  }
}

interface ApplyCommand {
  tidemarkRecsApply(numKeys: 1, key: string, ...args: string[]): Promise<[number, string]>;
}

function scored(flat: string[], epoch: string | null, levels?: Record<string, string>): StoredList {
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
      sttl: options.sessionTtlMs,
      uttl: options.userTtlMs,
      ittl: options.itemTtlMs,
      rebase: REBASE_HALF_LIVES,
      min: MIN_SCORE,
    });
    redis.defineCommand('tidemarkRecsApply', { lua: APPLY });
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
      JSON.stringify(ops.map(encode)),
      this.config,
    );
    return applied === 1 ? { status: 'applied' } : { status: 'conflict', lastSeq: Number(seq) };
  }

  async sessions(ids: readonly string[]): Promise<Map<string, SessionItem[]>> {
    const out = new Map<string, SessionItem[]>();
    if (ids.length === 0) return out;
    const values = await this.redis.mget(ids.map((id) => `${this.pre}s:${id}`));
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
      pipe.zrevrange(`${this.pre}nb:${item}`, 0, n - 1, 'WITHSCORES');
      pipe.get(`${this.pre}nbe:${item}`);
      pipe.hgetall(`${this.pre}nbl:${item}`);
    }
    const res = await exec(pipe);
    items.forEach((item, i) => out.set(item, scored(res[3 * i] as string[], res[3 * i + 1] as string | null, res[3 * i + 2] as Record<string, string>)));
    return out;
  }

  async trending(category: string | null, n: number): Promise<StoredList> {
    const id = category === null ? 'all' : `c:${category}`;
    const res = await exec(this.redis.pipeline().zrevrange(`${this.pre}tr:${id}`, 0, n - 1, 'WITHSCORES').get(`${this.pre}tre:${id}`));
    return scored(res[0] as string[], res[1] as string | null);
  }

  async user(userId: string): Promise<UserState> {
    const res = await exec(this.redis.pipeline().zrevrange(`${this.pre}u:${userId}`, 0, -1, 'WITHSCORES').smembers(`${this.pre}b:${userId}`));
    const flat = res[0] as string[];
    const recent: UserState['recent'] = [];
    for (let i = 0; i < flat.length; i += 2) recent.push({ item: flat[i], t: Number(flat[i + 1]) });
    return { recent, bought: new Set(res[1] as string[]) };
  }

  async categories(items: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (items.length === 0) return out;
    const values = await this.redis.mget(items.map((i) => `${this.pre}c:${i}`));
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
