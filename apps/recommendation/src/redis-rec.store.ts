/**
 * libs/recommend's RecStore on Redis, as per-partition partials merged at read time (libs/recommend
 * partial.ts; docs/recommendations.md "Where the state lives"). Each partition keeps its partial of every
 * shared list in memory (RecPartial: restored from Redis, the planner writing into it) and a checkpoint writes the
 * fields it changed — one field per product, user or trending list, its encoded partial — with the visits'
 * windows and the fence, in one Lua call on keys of the partition's hash tag alone. Reads take the fields
 * they need from every partition (one pipelined round trip per stage, PartialReader) and merge. Must agree
 * with InMemoryRecStore (test/recs-store.e2e-spec.ts checks both on the same inputs against a real
 * redis-server).
 *
 * Keys (prefix `recs:` by default), all under the partition's hash tag — one Redis Cluster slot a partition:
 *   {p<p>}:part          hash: lastSeq (the partition's last checkpoint; was part:<p>, still read), clock (its highest event time)
 *   {p<p>}:nb            hash: product → epoch, t, category, (neighbour, stored, level)… (the product itself = its own count)
 *   {p<p>}:sq            hash: product → epoch, t, (next product, stored)… (sequential rules; itself = its own count)
 *   {p<p>}:tr            hash: `*` (overall) and `c:<category>` → epoch, t, (product, stored)… (trending)
 *   {p<p>}:vs            hash: product → t, (visit, time)… (session-kNN: the knnVisits latest visits)
 *   {p<p>}:u             hash: user → t, n, (product, time)… (the n recent, then bought)
 *   {p<p>}:s:<session>   the visit's recent window (binary, encodeWindow); p = the visit's partition (partitionOf its sessionId)
 * Partial fields and windows are binary (libs/recommend field-codec.ts; JSON written by earlier versions is still
 * read), so they are read as Buffers (hmgetBuffer, hgetallBuffer, mgetBuffer).
 * A field's t is the event time of its last addition: fields older than their TTL (RECS_ITEM_TTL_MS,
 * RECS_USER_TTL_MS, in event time, against the partition's clock) leave memory and their fields go at the
 * next checkpoint; windows keep a wall-clock TTL (RECS_SESSION_TTL_MS). Fields are ids as they are (a field
 * names no key); the session id in a window key is encoded with encodeKeyPart (libs/state key-part.ts).
 * Sizes: per partial, neighbours and rules ≤ RECS_NEIGHBOURS, trending ≤ RECS_TRENDING_SIZE, visits per
 * product ≤ RECS_KNN_VISITS, a user's ≤ RECS_USER_RECENT and RECS_USER_BOUGHT.
 */
import { partitionOf } from '@tidemark/contracts';
import { LUA_FLAT_ARGS, LUA_KEY_TYPE_CHECK, LuaScript, RespArgs, type RedisClient, type WaitPolicy, encodeKeyPart as kp, execPipeline as exec, execWaited, isCluster, moveKeys, pipelinePerSlot } from '@tidemark/state';
import { GROUP_KEYS } from '@tidemark/runtime';
import {
  FieldRequest,
  FieldWriter,
  decodeWindow,
  writeWindow,
  PARTIAL_HASHES,
  PartialHash,
  PartialReader,
  PartialSource,
  PartialChanges,
  ReadContext,
  ReadRequest,
  RecCheckpointResult,
  RecFence,
  RecParams,
  RecPartial,
  RecStore,
  RecWriter,
  SessionContext,
  SessionItem,
  SessionReadRequest,
  StoredList,
  UserState,
} from '@tidemark/recommend';

/** The service group whose leases own recommendation's partitions (group assignment): its fencing tokens. */
export const RECOMMENDATION_GROUP = 'recommendation';

export interface RedisRecStoreOptions {
  params: RecParams;
  sessionTtlMs: number;
  /** Event-time TTLs of users' and products' (and categories' trending) partials. */
  userTtlMs: number;
  itemTtlMs: number;
  prefix?: string;
  /** PARTITIONS: reads merge this many partitions' partials; a visit's window lives under its partition's hash tag (default 1). */
  partitions?: number;
  /** WAIT after each checkpoint (cluster mode; waitPolicyOf): a checkpoint not replicated is not acknowledged. */
  wait?: WaitPolicy;
}

/**
 * A checkpoint: the partition's changed partial fields, the visits' windows and the fence, in one call, on
 * keys of one hash tag. Redis keeps the writes a script made before an error, so the script reads and checks
 * every argument and the type of every hash it will write before its first write, and refuses the checkpoint
 * whole otherwise (an error reply `refused: …`, the fence unmoved). Variadic commands take 500 fields at a time
 * (Lua's stack holds ~8,000 values).
 *
 * KEYS[1] the fence (hash: lastSeq, clock), KEYS[2] its name before the hash tag (read when KEYS[1] does not
 * exist yet, deleted on the first checkpoint), KEYS[3..7] the hashes nb, sq, tr, vs, u, KEYS[8] the partition's
 * fencing token (the group lease's counter, same hash tag).
 * ARGV, flat: expectedSeq, newSeq, prefix, session TTL (ms), clock ('' for none), token ('' none: static
 * ownership, unfenced), then per hash (in KEYS
 * order) the count of fields set, the count of fields deleted, the field/value pairs, the deleted fields; then
 * the count of windows and per window: partition of the visit, visit (encoded), window (encodeWindow).
 */
const CHECKPOINT = `
local tok = ARGV[6]
if tok ~= '' then
  if not string.match(tok, '^%d+$') then return redis.error_reply('refused: the token is not a number') end
  -- fenced: a member with a newer token holds the partition; checked before anything else, nothing written
  local top = math.max(tonumber(redis.call('GET', KEYS[8]) or '0'), tonumber(redis.call('HGET', KEYS[1], 'token') or '0'))
  if tonumber(tok) < top then return {2, tostring(top)} end
end
local current = redis.call('HGET', KEYS[1], 'lastSeq')
local legacy = not current
if legacy then current = redis.call('HGET', KEYS[2], 'lastSeq') or '0' end
if current ~= ARGV[1] then return {0, current} end
local function refuse(msg) return redis.error_reply('refused: ' .. msg) end
${LUA_KEY_TYPE_CHECK}
${LUA_FLAT_ARGS}
if not whole(ARGV[2]) then return refuse('newSeq is not a sequence') end
local pre, sttl, clock = ARGV[3], whole(ARGV[4]), ARGV[5]
if type(pre) ~= 'string' or not sttl then return refuse('no prefix or session TTL') end
if clock ~= '' and not num(clock) then return refuse('clock is not a number') end
if not is(KEYS[1], 'hash') then return refuse('the fence holds another type') end
at = 6
-- read and check everything
local hashes, bad = hash_sections(3, 7)
if not hashes then return refuse(bad) end
local windows = {}
local n = whole(arg())
if not n then return refuse('window count') end
for w = 1, n do
  local p, id, json = whole(arg()), arg(), arg()
  if not p or type(id) ~= 'string' or type(json) ~= 'string' then return refuse('window ' .. w) end
  windows[w] = {pre .. '{p' .. p .. '}:s:' .. id, json}
end
if at ~= #ARGV then return refuse((#ARGV - at) .. ' arguments after the last section') end

-- write
write_hash_sections(hashes)
for _, w in ipairs(windows) do redis.call('SET', w[1], w[2], 'PX', sttl) end
if clock ~= '' then redis.call('HSET', KEYS[1], 'lastSeq', ARGV[2], 'clock', clock)
else redis.call('HSET', KEYS[1], 'lastSeq', ARGV[2]) end
if tok ~= '' then redis.call('HSET', KEYS[1], 'token', tok) end
if legacy then redis.call('DEL', KEYS[2]) end
return {1, ARGV[2]}
`;

/** CHECKPOINT, its arguments encoded as they are produced (libs/state lua-script.ts). */
export const RECS_CHECKPOINT = new LuaScript<[number, string]>(CHECKPOINT);

/**
 * Writes the checkpoint script's ARGV after the header (see CHECKPOINT): per hash the fields a checkpoint sets
 * and deletes, then the visits' windows planned since the last checkpoint. An id that is not well-formed Unicode is refused (RespArgs:
 * `refused: … lone surrogate`; ids reach the buffer from events, which ingestion already refuses with one);
 * values are binary fields (libs/recommend field-codec.ts), copied as they are.
 */
export function checkpointArgs(changed: PartialChanges, partitions: number, out: RespArgs, scratch?: FieldWriter): RespArgs {
  // one scratch buffer for the encoded fields and windows, which `out` then frames (copies): a store passes its
  // own, which keeps the size the largest checkpoint needed instead of growing to it again every time
  const w = scratch?.reset() ?? new FieldWriter(16_384);
  changed.write(w, {
    section: (_h, set, deleted) => void out.num(set).num(deleted),
    set: (_h, field) => void w.endInto(out.str(field)),
    deleted: (_h, field) => void out.str(field),
  });
  out.num(changed.windows.size);
  changed.windows.forEach((items, id) => {
    out.num(partitionOf(id, partitions)).str(kp(id));
    writeWindow(items, w);
    w.endInto(out);
  });
  return out;
}

/** The partials of every partition in Redis: HMGETs of every partition's hashes, pipelined (one pipeline per slot on a cluster). */
class RedisPartialSource implements PartialSource {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: (partition: number, rest: string) => string,
    private readonly partitions: number,
    private readonly windowKey: (sessionId: string) => string,
  ) {}

  async fields(reqs: readonly FieldRequest[]): Promise<(Buffer | null)[][][]> {
    const live = reqs.filter((r) => r.fields.length > 0);
    if (live.length === 0) return reqs.map(() => []);
    const reads: { key: string; fields: readonly string[] }[] = [];
    for (const r of live) for (let p = 0; p < this.partitions; p++) reads.push({ key: this.key(p, r.hash), fields: r.fields });
    const keys = reads.map((r) => r.key);
    const res = (await pipelinePerSlot(this.redis, keys, (pipe, i) => pipe.hmgetBuffer(keys[i], ...reads[i].fields))) as (Buffer | null)[][];
    let at = 0;
    return reqs.map((r) => {
      if (r.fields.length === 0) return [];
      const byPartition = res.slice(at, at + this.partitions);
      at += this.partitions;
      return r.fields.map((_f, k) => byPartition.map((vals) => vals[k]));
    });
  }

  async clock(): Promise<number | null> {
    const keys = Array.from({ length: this.partitions }, (_, p) => this.key(p, 'part'));
    let c: number | null = null;
    for (const v of (await pipelinePerSlot(this.redis, keys, (pipe, p) => pipe.hget(keys[p], 'clock'))) as (string | null)[]) if (v !== null && (c === null || Number(v) > c)) c = Number(v);
    return c;
  }

  async sessions(ids: readonly string[]): Promise<Map<string, SessionItem[]>> {
    const out = new Map<string, SessionItem[]>();
    if (ids.length === 0) return out;
    // A visit's window lives under its partition's hash tag: one MGET on a standalone Redis, a GET per key
    // grouped per slot on a cluster.
    const keys = ids.map((id) => this.windowKey(id));
    const values = isCluster(this.redis) ? ((await pipelinePerSlot(this.redis, keys, (pipe, i) => pipe.getBuffer(keys[i]))) as (Buffer | null)[]) : await this.redis.mgetBuffer(keys);
    ids.forEach((id, i) => {
      if (values[i] !== null) out.set(id, decodeWindow(values[i]!));
    });
    return out;
  }
}

export class RedisRecStore implements RecStore {
  private readonly pre: string;
  private readonly partitions: number;
  private readonly reader: PartialReader;
  /** The partitions this process writes: their partials, as of their last checkpoint. */
  private readonly partials = new Map<number, RecPartial>();
  /** The checkpoints' scratch for encoded fields (checkpointArgs; a checkpoint encodes synchronously, one at a time). */
  private readonly scratch = new FieldWriter(16_384);

  constructor(
    private readonly redis: RedisClient,
    private readonly options: RedisRecStoreOptions,
  ) {
    this.pre = options.prefix ?? 'recs:';
    this.partitions = options.partitions ?? 1;
    this.reader = new PartialReader(
      new RedisPartialSource(redis, (p, rest) => this.partitionKey(p, rest), this.partitions, (id) => this.windowKey(id)),
      options.params,
    );
  }

  /** Keys of a partition: its fence, its partial hashes, its visits' windows — one hash tag, one Cluster slot. */
  private partitionKey(partition: number, rest: string): string {
    return `${this.pre}{p${partition}}:${rest}`;
  }

  private windowKey(sessionId: string): string {
    return this.partitionKey(partitionOf(sessionId, this.partitions), `s:${kp(sessionId)}`);
  }

  /** The fence's name before the hash tag (`part:<p>`), still read on a standalone Redis. */
  private legacyFence(partition: number): string {
    return `${this.pre}part:${partition}`;
  }

  /**
   * The second fence the checkpoint script reads when the fence does not exist yet: the old name on a
   * standalone Redis; on a cluster (one slot a call) a name under the partition's hash tag that is never
   * written — migrateLegacyKeys moved any old fence to its tagged name at start.
   */
  private fallbackFence(partition: number): string {
    return isCluster(this.redis) ? this.partitionKey(partition, 'part:none') : this.legacyFence(partition);
  }

  /** Renames fences of the layout before the hash tag (`part:<p>` → `{p<p>}:part`) when the new one does not exist (once). */
  migrateLegacyKeys(): Promise<number> {
    return moveKeys(
      this.redis,
      Array.from({ length: this.partitions }, (_, p) => ({ from: this.legacyFence(p), to: this.partitionKey(p, 'part') })),
    );
  }

  async lastSeq(partition: number): Promise<number> {
    const [now, before] = await exec(this.redis.pipeline().hget(this.partitionKey(partition, 'part'), 'lastSeq').hget(this.fallbackFence(partition), 'lastSeq'));
    return Number(now ?? before ?? 0);
  }

  /** Reads the partition's partials and checkpoint into memory (one pipelined round trip), dropping what was not checkpointed; its sequence. */
  async restore(partition: number): Promise<number> {
    const pipe = this.redis.pipeline().hmget(this.partitionKey(partition, 'part'), 'lastSeq', 'clock').hget(this.fallbackFence(partition), 'lastSeq');
    for (const h of PARTIAL_HASHES) pipe.hgetallBuffer(this.partitionKey(partition, h));
    const [[seq, clock], before, ...hashes] = (await exec(pipe)) as [[string | null, string | null], string | null, ...Record<string, Buffer>[]];
    const fields: Partial<Record<PartialHash, Record<string, Buffer>>> = {};
    PARTIAL_HASHES.forEach((h, i) => (fields[h] = hashes[i]));
    this.partials.set(partition, RecPartial.decode(this.options.params, this.expiry(), fields, clock === null ? null : Number(clock)));
    return Number(seq ?? before ?? 0);
  }

  private expiry() {
    return { itemMs: this.options.itemTtlMs, userMs: this.options.userTtlMs };
  }

  /** The partition's partials, which the planner writes into (after `restore`; again after a checkpoint that was not `ok`). */
  writer(partition: number): RecWriter {
    const partial = this.partials.get(partition);
    if (!partial) throw new Error(`recommendation partition ${partition} is not restored`);
    return partial;
  }

  async checkpoint(fence: RecFence): Promise<RecCheckpointResult> {
    const p = fence.partition;
    const partial = this.partials.get(p);
    if (!partial) throw new Error(`recommendation partition ${p} is not restored`);
    const changed = partial.changes();
    const keys = [this.partitionKey(p, 'part'), this.fallbackFence(p), ...PARTIAL_HASHES.map((h) => this.partitionKey(p, h)), GROUP_KEYS.token(RECOMMENDATION_GROUP, p)];
    const args = new RespArgs(32_768)
      .num(fence.expectedSeq)
      .num(fence.newSeq)
      .str(this.pre)
      .num(this.options.sessionTtlMs)
      .str(changed.clock === null ? '' : String(changed.clock))
      .str(fence.token === undefined ? '' : String(fence.token));
    checkpointArgs(changed, this.partitions, args, this.scratch);
    // In cluster mode WAIT follows on the same node; a checkpoint not replicated in time is written but not
    // durable (docs/scale-out.md "Durability on failover"). A call that throws keeps the changes: the next
    // checkpoint writes every changed field again, whole.
    const { reply, durable } = await execWaited<[number, string]>(this.redis, this.options.wait, (pipe) => RECS_CHECKPOINT.call(pipe, keys, args));
    const [written, seq] = reply;
    if (written === 1) {
      partial.committed();
      return durable ? { status: 'ok' } : { status: 'ok', durable: false };
    }
    // Not taken: the partial holds changes Redis does not, and is read again by the next restore.
    this.partials.delete(p);
    return written === 2 ? { status: 'fenced', token: Number(seq) } : { status: 'conflict', lastSeq: Number(seq) };
  }

  context(req: ReadRequest): Promise<ReadContext> {
    return this.reader.context(req);
  }

  sessionContext(req: SessionReadRequest): Promise<SessionContext> {
    return this.reader.sessionContext(req);
  }

  sessions(ids: readonly string[]): Promise<Map<string, SessionItem[]>> {
    return this.reader.sessions(ids);
  }

  clock(): Promise<number | null> {
    return this.reader.clock();
  }

  neighbours(items: readonly string[], n: number): Promise<Map<string, StoredList>> {
    return this.reader.neighbours(items, n);
  }

  sequences(items: readonly string[], n: number): Promise<Map<string, StoredList>> {
    return this.reader.sequences(items, n);
  }

  postings(item: string, n: number): Promise<StoredList['items']> {
    return this.reader.postings(item, n);
  }

  trending(category: string | null, n: number): Promise<StoredList> {
    return this.reader.trending(category, n);
  }

  user(userId: string): Promise<UserState> {
    return this.reader.user(userId);
  }

  categories(items: readonly string[]): Promise<Map<string, string>> {
    return this.reader.categories(items);
  }
}
