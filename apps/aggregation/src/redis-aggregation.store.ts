/**
 * The partitioned operator's state in Redis (the AggregationStore of libs/streaming; docs/checkpoints.md
 * "State layout"). A partition's keys share the hash tag `{p<N>}`, so its checkpoint — one Lua call — touches
 * one Redis Cluster slot:
 *
 *   tm:agg:{pN}:cp               hash: seq and n (the fence: sequence, checkpoints written), maxTs, lastEventAt, seen (the watermark it decided
 *                                with), wm and hz (operator watermark and purge horizon, raised by the firer),
 *                                rf (set by a raise that found wm below the watermark raised before: a failover
 *                                lost writes; the firer merges fired windows after it again), outbox (session
 *                                results to publish)
 *   tm:agg:{pN}:c:<metric>:<pane> hash: <key>[:<from>] → encoded accumulator (a pane's cells); `:r` set when
 *                                the pane holds restricted (`:<from>`) cells, so a key's read looks for them
 *   tm:agg:{pN}:panes            sorted set: <metric>:<pane> by pane start
 *   tm:agg:{pN}:m                hash: <metric>:<pane>:<key>[:<from>] → token (cells to re-fire)
 *   tm:agg:{pN}:s:<metric>       hash: <key> → the key's sessions (JSON)
 *   tm:agg:{pN}:j:<metric>       hash: <key> → the key's join state here (JSON)
 *   tm:agg:{pN}:jd               sorted set: <metric>:<key> by when the firer must look at it
 *   tm:agg:{pN}:r:<metric>       hash: [key,start,end] → session result;  …:ri:<metric> its index by start
 * The firer's (global), under one hash tag `{agg}` — one Redis Cluster slot, so a pipeline of results and
 * their indexes of several metrics is one call:
 *   tm:agg:{agg}:wm, …:hz        operator watermark, purge horizon (never lowered)
 *   tm:agg:{agg}:fired           hash: metric → the last window end fired
 *   tm:agg:{agg}:res:<metric>    hash: [key,start,end] → published result;  …:idx:<metric> by start
 *   tm:agg:{agg}:em:<metric>     hash: key → last join emission (version, status, left)
 *   tm:group:{aggregation-firer}:lease  the firer's leader lease (libs/runtime LeaderLease)
 * (Before the hash tag they were tm:agg:wm, tm:agg:res:<metric>…: migrateLegacyKeys renames them once.)
 * `<key>` is encoded with encodeKeyPart (no `:`, `{`, `}`), so no value can name another key or field.
 */
import { LUA_KEY_TYPE_CHECK, LuaScript, RespArgs, type RedisClient, type WaitPolicy, decodeKeyPart, encodeKeyPart, execDurable, execPipeline as exec, execWaited, moveKeys, pipelinePerSlot } from '@tidemark/state';
import { GROUP_KEYS } from '@tidemark/runtime';
import type {
  MetricSet,
  AggregationStore,
  CheckpointReply,
  JoinDue,
  Mark,
  PartitionCheckpoint,
  PartitionSnapshot,
  PartitionStatus,
  StoredResult,
  StoredCell,
} from '@tidemark/streaming';
import { MAX_CELL_PARTS, maxNullable, partsDeleted, REFIRE_ALL } from '@tidemark/streaming';

const PREFIX = 'tm:agg:';
/** The service group whose leases own the aggregation's partitions (group assignment): its fencing tokens. */
export const AGGREGATION_GROUP = 'aggregation';
const part = (p: number) => `${PREFIX}{p${p}}:`;
const GLOBAL = `${PREFIX}{agg}:`;

/** Results per HSET / ZADD / HDEL / ZREM when results are recorded. */
const RESULT_CHUNK = 1000;

export const AGG_KEYS = {
  checkpoint: (p: number) => `${part(p)}cp`,
  pane: (p: number, metric: string, pane: number) => `${part(p)}c:${metric}:${pane}`,
  panes: (p: number) => `${part(p)}panes`,
  marks: (p: number) => `${part(p)}m`,
  sessions: (p: number, metric: string) => `${part(p)}s:${metric}`,
  joins: (p: number, metric: string) => `${part(p)}j:${metric}`,
  joinDue: (p: number) => `${part(p)}jd`,
  sessionResults: (p: number, metric: string) => `${part(p)}r:${metric}`,
  sessionIndex: (p: number, metric: string) => `${part(p)}ri:${metric}`,
  watermark: `${GLOBAL}wm`,
  horizon: `${GLOBAL}hz`,
  fired: `${GLOBAL}fired`,
  results: (metric: string) => `${GLOBAL}res:${metric}`,
  index: (metric: string) => `${GLOBAL}idx:${metric}`,
  emitted: (metric: string) => `${GLOBAL}em:${metric}`,
  /** The partition's current fencing token (the group's lease counter, same hash tag). */
  fencingToken: (p: number) => GROUP_KEYS.token(AGGREGATION_GROUP, p),
} as const;

/** The firer's keys before the `{agg}` hash tag → their names now (renamed once at start). */
export function legacyAggMoves(metrics: readonly string[]): { from: string; to: string }[] {
  const moves: { from: string; to: string }[] = [
    { from: `${PREFIX}wm`, to: AGG_KEYS.watermark },
    { from: `${PREFIX}hz`, to: AGG_KEYS.horizon },
    { from: `${PREFIX}fired`, to: AGG_KEYS.fired },
  ];
  for (const m of metrics) {
    moves.push({ from: `${PREFIX}res:${m}`, to: AGG_KEYS.results(m) }, { from: `${PREFIX}idx:${m}`, to: AGG_KEYS.index(m) }, { from: `${PREFIX}em:${m}`, to: AGG_KEYS.emitted(m) });
  }
  return moves;
}

const cellField = (key: string, from: number | null) => (from === null ? encodeKeyPart(key) : `${encodeKeyPart(key)}:${from}`);

/**
 * A cell's part k (1…MAX_CELL_PARTS) is the field `<cell field>*<k>` beside the base's: `*` is never in an
 * encoded key part (encodeKeyPart escapes it), so no key's field can be another's part.
 */
const PART = '*';
const partField = (field: string, part: number) => (part === 0 ? field : `${field}${PART}${part}`);

function parseCellField(f: string): { key: string; from: number | null; part?: number } {
  const star = f.indexOf(PART);
  const part = star < 0 ? 0 : Number(f.slice(star + 1));
  const cell = star < 0 ? f : f.slice(0, star);
  const i = cell.indexOf(':');
  const out: { key: string; from: number | null; part?: number } = i < 0 ? { key: decodeKeyPart(cell), from: null } : { key: decodeKeyPart(cell.slice(0, i)), from: Number(cell.slice(i + 1)) };
  if (part > 0) out.part = part;
  return out;
}

/** The field that marks a pane holding restricted cells (set by the checkpoint script): not a cell. */
const RESTRICTED_MARK = ':r';

/**
 * Appends the cells of a pane's hash as read to `out`: every field but the restricted mark. (Appended one by
 * one: a pane can hold more cells than a spread onto the stack takes.)
 */
function addPaneCells(out: StoredCell[], metric: string, pane: number, hash: Record<string, string>): void {
  for (const [f, value] of Object.entries(hash)) if (f !== RESTRICTED_MARK) out.push({ metric, pane, ...parseCellField(f), value });
}

export const resultMember = (key: string, start: number, end: number) => JSON.stringify([key, start, end]);

/**
 * The checkpoint. KEYS[1] the partition's checkpoint hash, KEYS[2] the partition's fencing token (the group
 * lease's counter); ARGV: key prefix, expected seq, seq, maxTs, lastEventAt, seen, outbox, token ('' none:
 * static ownership, unfenced), expected epoch (checkpoints written; `n`, written + 1), then sections, each a
 * count and flat entries:
 *   cells:     n groups of (metric, pane, m, m × (field, value ('' deletes), firstEnd))
 *   drops:     n × (metric, pane)
 *   sessions:  n groups of (metric, m, m × (field, value ('' deletes)))
 *   joins:     n groups of (metric, m, m × (field, value ('' deletes), due ('' none)))
 *   results:   n groups of (metric, m, m × (member, value ('' deletes), start))
 * Everything is read and checked (numbers, key types) before the first write, so it never fails half way.
 * Returns {'ok', wm, hz} ('' when none), {'conflict', seq}, or {'fenced', token} when the write's token is below
 * the partition's current one (the lease counter, or the token stored beside the checkpoint by the last write):
 * checked before anything else, so a member that lost the partition writes nothing.
 */
const CHECKPOINT = `
local cp = KEYS[1]
local pre = ARGV[1]
local function int(s) return type(s) == 'string' and string.match(s, '^%-?%d+$') ~= nil end
local function fail(msg) return redis.error_reply('ERR tidemark checkpoint: ' .. msg) end
${LUA_KEY_TYPE_CHECK}
if not is(cp, 'hash') then return fail('checkpoint is not a hash') end
local tok = ARGV[8]
if tok ~= '' then
  if not int(tok) then return fail('bad token') end
  local top = math.max(tonumber(redis.call('GET', KEYS[2]) or '0'), tonumber(redis.call('HGET', cp, 'token') or '0'))
  if tonumber(tok) < top then return {'fenced', tostring(top)} end
end
local cur = redis.call('HGET', cp, 'seq') or '0'
if cur ~= ARGV[2] or (redis.call('HGET', cp, 'n') or '0') ~= ARGV[9] then return {'conflict', cur} end
if not int(ARGV[9]) or not int(ARGV[3]) or (ARGV[4] ~= '' and not int(ARGV[4])) or not int(ARGV[5]) or (ARGV[6] ~= '' and not int(ARGV[6])) then return fail('bad header') end
local wm = redis.call('HGET', cp, 'wm')
local wmn = wm and tonumber(wm)
local i = 10
local function take() local v = ARGV[i]; i = i + 1; if v == nil then error('short arguments') end return v end
local function count() local v = take(); if not int(v) then error('bad count') end return tonumber(v) end
local ok, err = pcall(function()
  -- parse and check everything first
  local cells = {}
  for g = 1, count() do
    local metric, pane = take(), take()
    if not int(pane) then error('bad pane') end
    local grp = { key = pre .. 'c:' .. metric .. ':' .. pane, member = metric .. ':' .. pane, pane = pane, sets = {}, dels = {}, marks = {} }
    if not is(grp.key, 'hash') then error('pane is not a hash') end
    for k = 1, count() do
      local f, v, fe = take(), take(), take()
      if not int(fe) then error('bad firstEnd') end
      if v == '' then grp.dels[#grp.dels + 1] = f else grp.sets[#grp.sets + 1] = f; grp.sets[#grp.sets + 1] = v end
      if v ~= '' and string.find(f, ':', 1, true) then grp.restricted = true end
      -- a part (field '<cell>*<k>') marks its cell
      if wmn and tonumber(fe) <= wmn then grp.marks[#grp.marks + 1] = grp.member .. ':' .. string.match(f, '^[^*]*') end
    end
    cells[#cells + 1] = grp
  end
  local drops = {}
  for d = 1, count() do
    local metric, pane = take(), take()
    if not int(pane) then error('bad pane') end
    drops[#drops + 1] = { pre .. 'c:' .. metric .. ':' .. pane, metric .. ':' .. pane }
  end
  local function keyed(kind, withExtra)
    local out = {}
    for g = 1, count() do
      local metric = take()
      local grp = { key = pre .. kind .. metric, metric = metric, sets = {}, dels = {}, extra = {} }
      if not is(grp.key, 'hash') then error(kind .. metric .. ' is not a hash') end
      for k = 1, count() do
        local f, v = take(), take()
        local x = withExtra and take() or nil
        if x and x ~= '' and not int(x) then error('bad number') end
        if v == '' then grp.dels[#grp.dels + 1] = f else grp.sets[#grp.sets + 1] = f; grp.sets[#grp.sets + 1] = v end
        grp.extra[#grp.extra + 1] = { f, v, x }
      end
      out[#out + 1] = grp
    end
    return out
  end
  local sessions = keyed('s:', false)
  local joins = keyed('j:', true)
  local results = keyed('r:', true)
  if not is(pre .. 'panes', 'zset') or not is(pre .. 'm', 'hash') or not is(pre .. 'jd', 'zset') then error('index keys of the wrong type') end
  for _, g in ipairs(results) do if not is(pre .. 'ri:' .. g.metric, 'zset') then error('result index of the wrong type') end end
  -- write
  local function hset(key, flat)
    for s = 1, #flat, 7000 do redis.call('HSET', key, unpack(flat, s, math.min(#flat, s + 6999))) end
  end
  local function hdel(key, fields)
    for s = 1, #fields, 7000 do redis.call('HDEL', key, unpack(fields, s, math.min(#fields, s + 6999))) end
  end
  local token = ARGV[3]
  for _, g in ipairs(cells) do
    if #g.sets > 0 then hset(g.key, g.sets); redis.call('ZADD', pre .. 'panes', g.pane, g.member) end
    if g.restricted then redis.call('HSET', g.key, '${RESTRICTED_MARK}', '1') end
    if #g.dels > 0 then hdel(g.key, g.dels) end
    if #g.marks > 0 then
      local flat = {}
      for _, m in ipairs(g.marks) do flat[#flat + 1] = m; flat[#flat + 1] = token end
      hset(pre .. 'm', flat)
    end
  end
  for _, d in ipairs(drops) do redis.call('DEL', d[1]); redis.call('ZREM', pre .. 'panes', d[2]) end
  for _, g in ipairs(sessions) do
    if #g.sets > 0 then hset(g.key, g.sets) end
    if #g.dels > 0 then hdel(g.key, g.dels) end
  end
  for _, g in ipairs(joins) do
    if #g.sets > 0 then hset(g.key, g.sets) end
    if #g.dels > 0 then hdel(g.key, g.dels) end
    for _, e in ipairs(g.extra) do
      local member = g.metric .. ':' .. e[1]
      if e[2] == '' then redis.call('ZREM', pre .. 'jd', member)
      elseif e[3] and e[3] ~= '' then
        local at = redis.call('ZSCORE', pre .. 'jd', member)
        if (not at) or tonumber(e[3]) < tonumber(at) then redis.call('ZADD', pre .. 'jd', e[3], member) end
      end
    end
  end
  for _, g in ipairs(results) do
    local idx = pre .. 'ri:' .. g.metric
    if #g.sets > 0 then hset(g.key, g.sets) end
    if #g.dels > 0 then hdel(g.key, g.dels) end
    for _, e in ipairs(g.extra) do
      if e[2] == '' then redis.call('ZREM', idx, e[1]) else redis.call('ZADD', idx, e[3], e[1]) end
    end
  end
end)
if not ok then return fail(tostring(err)) end
redis.call('HSET', cp, 'seq', ARGV[3], 'n', tostring(tonumber(ARGV[9]) + 1), 'maxTs', ARGV[4], 'lastEventAt', ARGV[5], 'seen', ARGV[6], 'outbox', ARGV[7])
if tok ~= '' then redis.call('HSET', cp, 'token', tok) end
return {'ok', wm or '', redis.call('HGET', cp, 'hz') or ''}`;
/** CHECKPOINT, its arguments encoded as they are produced (libs/state lua-script.ts). */
const AGG_CHECKPOINT = new LuaScript<[string, string, string?]>(CHECKPOINT);

/** Raise a string key holding a number, never lowering. KEYS[1] the key; ARGV[1] the value. */
const RAISE_STRING = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or tonumber(cur) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1`;

/**
 * Raise a number field of a hash, never lowering. KEYS[1] the hash; ARGV: field, value, and for the watermark
 * the value raised before ('' none) and what to note when the field is missing: a field found below the value
 * raised before (the slot lost writes in a failover) lowers `rf` to it (AggregationStore.raiseWatermark).
 */
const RAISE_FIELD = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[3] and ARGV[3] ~= '' and ((not cur) or tonumber(cur) < tonumber(ARGV[3])) then
  local from = cur or ARGV[4]
  local rf = redis.call('HGET', KEYS[1], 'rf')
  if (not rf) or tonumber(from) < tonumber(rf) then redis.call('HSET', KEYS[1], 'rf', from) end
end
if (not cur) or tonumber(cur) < tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1`;

/** Delete hash fields still holding the values read. KEYS[1] the hash; ARGV field, value pairs. */
const CLEAR_IF = `
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 1`;

/** Settle join due entries still at the score read: remove, or move (new score ~= ''). ARGV: member, score read, new score. */
const SETTLE = `
for i = 1, #ARGV, 3 do
  local at = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if at and tonumber(at) == tonumber(ARGV[i + 1]) then
    if ARGV[i + 2] == '' then redis.call('ZREM', KEYS[1], ARGV[i]) else redis.call('ZADD', KEYS[1], ARGV[i + 2], ARGV[i]) end
  end
end
return 1`;

/** Set the fired-through end of a metric, never lowering it. */
const FIRED = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if (not cur) or tonumber(cur) < tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1`;

const RAISE_STRING_SCRIPT = new LuaScript<number>(RAISE_STRING);
const RAISE_FIELD_SCRIPT = new LuaScript<number>(RAISE_FIELD);
const CLEAR_IF_SCRIPT = new LuaScript<number>(CLEAR_IF);
const SETTLE_SCRIPT = new LuaScript<number>(SETTLE);
const FIRED_SCRIPT = new LuaScript<number>(FIRED);

const num = (s: string | null | undefined): number | null => (s === null || s === undefined || s === '' ? null : Number(s));

export interface RedisAggregationStoreOptions {
  /** WAIT after each checkpoint and each raise of the watermark and horizon (cluster mode; waitPolicyOf): not replicated = failed. */
  wait?: WaitPolicy;
}

export class RedisAggregationStore implements AggregationStore {
  private readonly sessionMetrics: string[];
  private readonly joinMetrics: string[];

  private readonly metricNames: string[];
  private readonly wait: WaitPolicy | undefined;

  constructor(
    private readonly redis: RedisClient,
    metrics: MetricSet,
    options: RedisAggregationStoreOptions = {},
  ) {
    this.metricNames = metrics.metrics.map((m) => m.name);
    this.wait = options.wait;
    this.sessionMetrics = metrics.metrics.filter((m) => m.kind === 'window' && m.window.type === 'session').map((m) => m.name);
    this.joinMetrics = metrics.metrics.filter((m) => m.kind === 'join').map((m) => m.name);
  }

  /** Renames the firer's keys of the layout before the `{agg}` hash tag, once (idempotent, any instance). */
  migrateLegacyKeys(): Promise<number> {
    return moveKeys(this.redis, legacyAggMoves(this.metricNames));
  }

  async restore(p: number): Promise<PartitionSnapshot> {
    // The global purge horizon (another slot) too: after a failover that lost the firer's last raises into
    // this partition's record, other partitions may have dropped what is past it, so the partition decides
    // lateness with at least it (a replayed event for a purged window goes late, not lost) and purges with it.
    const [[cp, panes], ghz] = await Promise.all([
      exec(this.redis.pipeline().hgetall(AGG_KEYS.checkpoint(p)).zrange(AGG_KEYS.panes(p), 0, -1)) as Promise<[Record<string, string>, string[]]>,
      this.redis.get(AGG_KEYS.horizon),
    ]);
    const refs = panes.map((member) => {
      const i = member.indexOf(':');
      return { metric: member.slice(0, i), pane: Number(member.slice(i + 1)) };
    });
    const reads = this.redis.pipeline();
    for (const r of refs) reads.hgetall(AGG_KEYS.pane(p, r.metric, r.pane));
    const hashes = refs.length ? ((await exec(reads)) as Record<string, string>[]) : [];
    const cells: PartitionSnapshot['cells'] = [];
    refs.forEach((r, i) => addPaneCells(cells, r.metric, r.pane, hashes[i]));
    const sessions: PartitionSnapshot['sessions'] = [];
    const joins: PartitionSnapshot['joins'] = [];
    const keyed = this.redis.pipeline();
    for (const m of this.sessionMetrics) keyed.hgetall(AGG_KEYS.sessions(p, m));
    for (const m of this.joinMetrics) keyed.hgetall(AGG_KEYS.joins(p, m));
    const lists = (await exec(keyed)) as Record<string, string>[];
    this.sessionMetrics.forEach((metric, i) => {
      for (const [f, value] of Object.entries(lists[i])) sessions.push({ metric, key: decodeKeyPart(f), value });
    });
    this.joinMetrics.forEach((metric, i) => {
      for (const [f, value] of Object.entries(lists[this.sessionMetrics.length + i])) joins.push({ metric, key: decodeKeyPart(f), value });
    });
    return {
      seq: Number(cp.seq ?? 0),
      epoch: Number(cp.n ?? 0),
      maxTs: num(cp.maxTs),
      lastEventAt: Number(cp.lastEventAt ?? 0),
      watermark: maxNullable(num(cp.wm), num(ghz)),
      horizon: maxNullable(num(cp.hz), num(ghz)),
      outbox: cp.outbox ?? '',
      cells,
      sessions,
      joins,
    };
  }

  async checkpoint(p: number, cp: PartitionCheckpoint): Promise<CheckpointReply> {
    const args = new RespArgs(16_384)
      .str(part(p))
      .num(cp.expectedSeq)
      .num(cp.seq)
      .str(cp.maxTs === null ? '' : String(cp.maxTs))
      .num(cp.lastEventAt)
      .str(cp.seenWatermark === null ? '' : String(cp.seenWatermark))
      .str(cp.outbox)
      .str(cp.token === undefined ? '' : String(cp.token))
      .num(cp.expectedEpoch);
    const groups = new Map<string, typeof cp.cells>();
    for (const c of cp.cells) {
      const id = `${c.metric}:${c.pane}`;
      const g = groups.get(id);
      if (g) g.push(c);
      else groups.set(id, [c]);
    }
    args.num(groups.size);
    for (const list of groups.values()) {
      let entries = 0;
      for (const c of list) entries += 1 + partsDeleted(c);
      args.str(list[0].metric).num(list[0].pane).num(entries);
      for (const c of list) {
        const field = cellField(c.key, c.from);
        args.str(partField(field, c.part ?? 0)).str(c.value ?? '').num(c.firstEnd);
        for (let k = 1, n = partsDeleted(c); k <= n; k++) args.str(partField(field, k)).str('').num(c.firstEnd);
      }
    }
    args.num(cp.dropPanes.length);
    for (const d of cp.dropPanes) args.str(d.metric).num(d.pane);
    const keyed = <T extends { metric: string }>(items: readonly T[], row: (x: T) => void) => {
      const by = new Map<string, T[]>();
      for (const x of items) {
        const list = by.get(x.metric);
        if (list) list.push(x);
        else by.set(x.metric, [x]);
      }
      args.num(by.size);
      for (const [metric, list] of by) {
        args.str(metric).num(list.length);
        for (const x of list) row(x);
      }
    };
    keyed(cp.sessions, (s) => args.str(encodeKeyPart(s.key)).str(s.value ?? ''));
    keyed(cp.joins, (j) => args.str(encodeKeyPart(j.key)).str(j.value ?? '').str(j.due === null ? '' : String(j.due)));
    keyed(cp.results, (r) => args.str(resultMember(r.key, r.windowStart, r.windowEnd)).str(r.value ?? '').num(r.windowStart));
    // In cluster mode WAIT follows on the same node: a checkpoint its replicas did not acknowledge is written
    // but not durable — the next one is fenced on it, and nothing it covers is acknowledged on the stream until
    // a later one is durable; if a failover loses it, that next one conflicts and the partition restores what
    // survived — docs/scale-out.md "Durability on failover".
    const { reply, durable } = await execWaited<[string, string, string?]>(this.redis, this.wait, (pipe) => AGG_CHECKPOINT.call(pipe, [AGG_KEYS.checkpoint(p), AGG_KEYS.fencingToken(p)], args));
    if (reply[0] === 'conflict') return { status: 'conflict', seq: Number(reply[1]) };
    if (reply[0] === 'fenced') return { status: 'fenced', token: Number(reply[1]) };
    return { status: 'ok', watermark: num(reply[1]), horizon: num(reply[2]), ...(durable ? {} : { durable: false as const }) };
  }

  async statuses(partitions: number): Promise<PartitionStatus[]> {
    const keys = Array.from({ length: partitions }, (_, p) => AGG_KEYS.checkpoint(p));
    const rows = (await pipelinePerSlot(this.redis, keys, (pipe, p) => pipe.hmget(keys[p], 'seq', 'maxTs', 'lastEventAt', 'seen', 'wm', 'rf'))) as (string | null)[][];
    const out: PartitionStatus[] = [];
    rows.forEach(([seq, maxTs, lastEventAt, seen, wm, rf], p) => {
      if (seq === null) return; // no checkpoint yet
      out.push({ partition: p, seq: Number(seq), maxTs: num(maxTs), lastEventAt: Number(lastEventAt ?? 0), seenWatermark: num(seen), watermark: num(wm), refireFrom: num(rf) });
    });
    return out;
  }

  async watermark(): Promise<number | null> {
    return num(await this.redis.get(AGG_KEYS.watermark));
  }

  async horizon(): Promise<number | null> {
    return num(await this.redis.get(AGG_KEYS.horizon));
  }

  /**
   * Raises a field of every partition's checkpoint record: one call per partition (one slot each), in
   * parallel; in cluster mode each followed by WAIT, so the order below also holds across a failover.
   */
  private async raiseInPartitions(field: 'wm' | 'hz', partitions: number, value: number, expected: number | null = null): Promise<void> {
    const args = expected === null ? [field, value] : [field, value, expected, REFIRE_ALL];
    await Promise.all(Array.from({ length: partitions }, (_, p) => execDurable(this.redis, this.wait, (pipe) => RAISE_FIELD_SCRIPT.call(pipe, [AGG_KEYS.checkpoint(p)], args))));
  }

  /**
   * The operator watermark goes into every partition's record first, into the global key last. The global
   * key is the firer's note of "raised everywhere": a round raises only above it, and fires windows up to the
   * new watermark only after this returns. Were the global key written first, a round that crashed half way
   * would leave partitions on an older watermark that no later round raises (not above the global value) while
   * windows past it fire: a cell those partitions then write for a fired window would not be marked for
   * re-firing. Partitions first, a crash only means the next round raises them again (never lowering).
   */
  async raiseWatermark(partitions: number, watermark: number, expected: number | null = null): Promise<void> {
    await this.raiseInPartitions('wm', partitions, watermark, expected);
    await RAISE_STRING_SCRIPT.call(this.redis, [AGG_KEYS.watermark], [watermark]);
  }

  async clearRefireFrom(p: number, from: number): Promise<void> {
    await CLEAR_IF_SCRIPT.call(this.redis, [AGG_KEYS.checkpoint(p)], ['rf', from]);
  }

  /**
   * The purge horizon goes the other way: the global key first, the partitions' records after. A partition
   * purges past the horizon in its own record; a round reads the global key at its start and re-fires only
   * windows past it. Global first keeps every partition's horizon at or below the global one at every moment,
   * so "a round never reads purged state" still holds when the calls are one per partition (and a round that
   * crashed half way leaves some partitions on a lower horizon: they purge later, never too early). The
   * horizon is still raised at the end of a round, after everything the round read. In cluster mode the global
   * key is on another master than most partitions: it is replicated (WAIT) before any partition is raised, so
   * a failover of its master cannot bring back a lower global horizon under partitions that purged past it.
   */
  async raiseHorizon(partitions: number, horizon: number): Promise<void> {
    await execDurable(this.redis, this.wait, (pipe) => RAISE_STRING_SCRIPT.call(pipe, [AGG_KEYS.horizon], [horizon]));
    await this.raiseInPartitions('hz', partitions, horizon);
  }

  async panes(p: number, metric: string, from: number, to: number): Promise<number[]> {
    const members = await this.redis.zrangebyscore(AGG_KEYS.panes(p), Number.isFinite(from) ? String(from) : '-inf', `(${to}`);
    const prefix = `${metric}:`;
    return members.filter((m) => m.startsWith(prefix)).map((m) => Number(m.slice(prefix.length)));
  }

  async readPanes(p: number, metric: string, panes: readonly number[]): Promise<StoredCell[]> {
    if (panes.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const pane of panes) pipeline.hgetall(AGG_KEYS.pane(p, metric, pane));
    const hashes = (await exec(pipeline)) as Record<string, string>[];
    const out: StoredCell[] = [];
    panes.forEach((pane, i) => addPaneCells(out, metric, pane, hashes[i]));
    return out;
  }

  /** One key's cells: its field in each pane (one HMGET round trip), and its restricted cells where a pane has any (rare). */
  async readKeyCells(p: number, metric: string, key: string, panes: readonly number[]): Promise<StoredCell[]> {
    if (panes.length === 0) return [];
    const enc = encodeKeyPart(key);
    const fields = [RESTRICTED_MARK];
    for (let k = 0; k <= MAX_CELL_PARTS; k++) fields.push(partField(enc, k));
    const pipeline = this.redis.pipeline();
    for (const pane of panes) pipeline.hmget(AGG_KEYS.pane(p, metric, pane), ...fields);
    const rows = (await exec(pipeline)) as (string | null)[][];
    const out: StoredCell[] = [];
    for (let i = 0; i < panes.length; i++) {
      const [restricted, ...parts] = rows[i];
      parts.forEach((value, part) => {
        if (value !== null) out.push({ metric, pane: panes[i], key, from: null, value, ...(part > 0 ? { part } : {}) });
      });
      if (restricted === null) continue;
      for await (const flat of this.redis.hscanStream(AGG_KEYS.pane(p, metric, panes[i]), { match: `${enc}:*`, count: 1000 }) as AsyncIterable<string[]>) {
        for (let j = 0; j < flat.length; j += 2) {
          const c = parseCellField(flat[j]);
          if (c.key === key && c.from !== null) out.push({ metric, pane: panes[i], ...c, value: flat[j + 1] });
        }
      }
    }
    return out;
  }

  /** The operator watermark and purge horizon as the firer last raised them into a partition's checkpoint record. */
  async watermarkOf(p: number): Promise<{ watermark: number | null; horizon: number | null }> {
    const [wm, hz] = await this.redis.hmget(AGG_KEYS.checkpoint(p), 'wm', 'hz');
    return { watermark: num(wm), horizon: num(hz) };
  }

  async marks(p: number): Promise<Mark[]> {
    const h = await this.redis.hgetall(AGG_KEYS.marks(p));
    return Object.entries(h).map(([f, token]) => {
      const [metric, pane, enc, from] = f.split(':');
      return { metric, pane: Number(pane), key: decodeKeyPart(enc), from: from === undefined ? null : Number(from), token };
    });
  }

  async clearMarks(p: number, marks: readonly Mark[]): Promise<void> {
    const args = new RespArgs();
    for (const m of marks) args.str(`${m.metric}:${m.pane}:${cellField(m.key, m.from)}`).str(m.token);
    if (args.count) await CLEAR_IF_SCRIPT.call(this.redis, [AGG_KEYS.marks(p)], args);
  }

  async joinDue(p: number, upTo: number): Promise<JoinDue[]> {
    const flat = await this.redis.zrangebyscore(AGG_KEYS.joinDue(p), '-inf', String(upTo), 'WITHSCORES');
    const out: JoinDue[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const j = flat[i].indexOf(':');
      out.push({ metric: flat[i].slice(0, j), key: decodeKeyPart(flat[i].slice(j + 1)), due: Number(flat[i + 1]) });
    }
    return out;
  }

  async settleJoinDue(p: number, done: readonly JoinDue[], reschedule: readonly { entry: JoinDue; due: number }[]): Promise<void> {
    const args = new RespArgs();
    const member = (d: JoinDue) => `${d.metric}:${encodeKeyPart(d.key)}`;
    for (const d of done) args.str(member(d)).num(d.due).str('');
    for (const r of reschedule) args.str(member(r.entry)).num(r.entry.due).num(r.due);
    if (args.count) await SETTLE_SCRIPT.call(this.redis, [AGG_KEYS.joinDue(p)], args);
  }

  async readJoins(p: number, metric: string, keys: readonly string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return [];
    return this.redis.hmget(AGG_KEYS.joins(p, metric), ...keys.map(encodeKeyPart));
  }

  async firedThrough(metric: string): Promise<number | null> {
    return num(await this.redis.hget(AGG_KEYS.fired, metric));
  }

  async firedThroughAll(): Promise<Map<string, number>> {
    return new Map(Object.entries(await this.redis.hgetall(AGG_KEYS.fired)).map(([k, v]) => [k, Number(v)]));
  }

  async setFiredThrough(metric: string, end: number): Promise<void> {
    await FIRED_SCRIPT.call(this.redis, [AGG_KEYS.fired], [metric, end]);
  }

  async readResults(metric: string, refs: readonly { key: string; windowStart: number; windowEnd: number }[]): Promise<(string | null)[]> {
    if (refs.length === 0) return [];
    return this.redis.hmget(AGG_KEYS.results(metric), ...refs.map((r) => resultMember(r.key, r.windowStart, r.windowEnd)));
  }

  /**
   * Records results: per metric one HSET and one ZADD of every result set, one HDEL and one ZREM of every one
   * deleted (not two commands a result), in one pipeline. A window written twice in one call keeps its last.
   */
  async writeResults(results: readonly StoredResult[]): Promise<void> {
    if (results.length === 0) return;
    // metric → member → the last write of it
    const last = new Map<string, Map<string, StoredResult>>();
    for (const r of results) {
      let m = last.get(r.metric);
      if (!m) last.set(r.metric, (m = new Map()));
      const member = resultMember(r.key, r.windowStart, r.windowEnd);
      m.delete(member); // (re)inserted last: writes keep their order
      m.set(member, r);
    }
    const pipeline = this.redis.pipeline();
    for (const [metric, byMember] of last) {
      const sets: string[] = [];
      const scored: (string | number)[] = [];
      const dels: string[] = [];
      for (const [member, r] of byMember) {
        if (r.value === null) dels.push(member);
        else {
          sets.push(member, r.value);
          scored.push(r.windowStart, member);
        }
      }
      // Bounded commands: a firing round can publish tens of thousands of results.
      for (let at = 0; at < sets.length; at += 2 * RESULT_CHUNK) {
        pipeline.hset(AGG_KEYS.results(metric), ...sets.slice(at, at + 2 * RESULT_CHUNK));
        pipeline.zadd(AGG_KEYS.index(metric), ...scored.slice(at, at + 2 * RESULT_CHUNK));
      }
      for (let at = 0; at < dels.length; at += RESULT_CHUNK) {
        pipeline.hdel(AGG_KEYS.results(metric), ...dels.slice(at, at + RESULT_CHUNK));
        pipeline.zrem(AGG_KEYS.index(metric), ...dels.slice(at, at + RESULT_CHUNK));
      }
    }
    await exec(pipeline);
  }

  async readEmitted(metric: string, keys: readonly string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return [];
    return this.redis.hmget(AGG_KEYS.emitted(metric), ...keys);
  }

  async writeEmitted(metric: string, entries: readonly { key: string; value: string }[]): Promise<void> {
    if (entries.length === 0) return;
    await this.redis.hset(AGG_KEYS.emitted(metric), ...entries.flatMap((e) => [e.key, e.value]));
  }

  async purgeResults(metrics: readonly string[], before: number): Promise<void> {
    for (const metric of metrics) {
      const old = await this.redis.zrangebyscore(AGG_KEYS.index(metric), '-inf', `(${before}`, 'LIMIT', 0, 1000);
      if (old.length === 0) continue;
      const keys = old.map((m) => (JSON.parse(m) as [string])[0]);
      await exec(this.redis.pipeline().hdel(AGG_KEYS.results(metric), ...old).zrem(AGG_KEYS.index(metric), ...old).hdel(AGG_KEYS.emitted(metric), ...keys));
    }
  }
}
