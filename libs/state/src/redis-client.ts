/**
 * The one Redis client type the repositories use — a standalone `Redis` or a `Cluster` (REDIS_MODE) — and
 * the few helpers that make a call correct on both (docs/scale-out.md "Redis Cluster"):
 *
 *  - `pipelinePerSlot`: a multi-key read (one command per key) as one pipeline on a standalone Redis, one
 *    pipeline per slot on a cluster (in parallel), replies in the keys' order;
 *  - `execWaited`: a write followed, on a cluster, by `WAIT <replicas> <timeout>` in the same pipeline — the
 *    pipeline goes to the node of its keyed command, so WAIT counts the replicas of that very write; it says
 *    whether the write is durable (checkpoints: written but not durable is not acknowledged yet);
 *  - `execDurable`: the same, throwing `NotDurableError` on fewer acknowledgements than asked (the caller
 *    treats the write as not done);
 *  - `scanKeys`: SCAN on the standalone Redis or on every master of a cluster;
 *  - `moveKeys`: the one-time, idempotent renaming of keys from an older layout (RENAME when the old key
 *    exists and the new one does not).
 */
import type { ChainableCommander, Cluster } from 'ioredis';
import type Redis from 'ioredis';
import { groupBySlot, keySlot } from './slots';

export type RedisClient = Redis | Cluster;

export type RedisMode = 'standalone' | 'cluster';

/** After a durable write in cluster mode: `WAIT replicas timeoutMs` (REDIS_WAIT_REPLICAS, REDIS_WAIT_TIMEOUT_MS). */
export interface WaitPolicy {
  replicas: number;
  timeoutMs: number;
}

export function isCluster(redis: RedisClient): redis is Cluster {
  return redis.isCluster;
}

/** A write reached its master but fewer replicas than asked acknowledged it within the timeout. */
export class NotDurableError extends Error {
  constructor(
    readonly acknowledged: number,
    readonly wanted: number,
  ) {
    super(`written, but acknowledged by ${acknowledged} of ${wanted} replica(s) within the WAIT timeout: not durable yet`);
    this.name = 'NotDurableError';
  }
}

/** Whether a WAIT reply makes a write durable under the policy (pure). */
export function isDurable(acknowledged: number, policy: WaitPolicy): boolean {
  return acknowledged >= policy.replicas;
}

/** Replies of a pipeline, throwing its first error. */
export async function execPipeline(pipeline: ChainableCommander): Promise<unknown[]> {
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([err, v]) => {
    if (err) throw err;
    return v;
  });
}

/**
 * One command per key, read in one pipeline (standalone) or one pipeline per slot (cluster, in parallel);
 * replies in the order of `keys`. `add` queues exactly one command for `keys[i]`.
 */
export async function pipelinePerSlot(redis: RedisClient, keys: readonly string[], add: (pipeline: ChainableCommander, i: number) => void): Promise<unknown[]> {
  if (keys.length === 0) return [];
  if (!isCluster(redis)) {
    const pipeline = redis.pipeline();
    keys.forEach((_k, i) => add(pipeline, i));
    return execPipeline(pipeline);
  }
  const out = new Array<unknown>(keys.length);
  await Promise.all(
    groupBySlot(keys).map(async (group) => {
      const pipeline = redis.pipeline();
      for (const i of group) add(pipeline, i);
      const replies = await execPipeline(pipeline);
      group.forEach((i, j) => (out[i] = replies[j]));
    }),
  );
  return out;
}

/**
 * A write (one command: a script call, usually) followed, on a cluster with a wait policy asking for replicas,
 * by `WAIT replicas timeout` in the same pipeline — one pipeline goes to one node, the master of the write's
 * slot, so WAIT waits for that write's replication. Without WAIT (a standalone Redis, or no replicas asked)
 * the write goes on the client alone, without a pipeline around it. `write` sends its command to the target
 * it is given (a pipeline or the client) and returns its reply's promise. Returns the write's reply and
 * whether enough replicas acknowledged it (always true without WAIT). Not durable does not mean not written:
 * the master applied it.
 */
export async function execWaited<T>(redis: RedisClient, policy: WaitPolicy | undefined, write: (target: RedisClient | ChainableCommander) => Promise<unknown>): Promise<{ reply: T; durable: boolean; acknowledged?: number }> {
  const waits = isCluster(redis) && policy !== undefined && policy.replicas > 0;
  if (!waits) return { reply: (await write(redis)) as T, durable: true };
  const pipeline = redis.pipeline();
  // Its reply (or error) comes with the pipeline's.
  write(pipeline).catch(() => undefined);
  pipeline.call('WAIT', String(policy.replicas), String(policy.timeoutMs));
  const replies = await execPipeline(pipeline);
  const acknowledged = Number(replies[replies.length - 1]);
  return { reply: replies[0] as T, durable: isDurable(acknowledged, policy), acknowledged };
}

/** `execWaited` for a write that counts only once replicated: throws NotDurableError when it was not. */
export async function execDurable<T>(redis: RedisClient, policy: WaitPolicy | undefined, write: (target: RedisClient | ChainableCommander) => Promise<unknown>): Promise<T> {
  const r = await execWaited<T>(redis, policy, write);
  if (!r.durable) throw new NotDurableError(r.acknowledged ?? 0, policy?.replicas ?? 0);
  return r.reply;
}

/** Every key matching `match`: SCAN on a standalone Redis, on every master of a cluster. */
export async function scanKeys(redis: RedisClient, match: string, count = 1000): Promise<string[]> {
  const nodes: Redis[] = isCluster(redis) ? redis.nodes('master') : [redis];
  const out: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', count);
      out.push(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
  return out;
}

/** A key to move from an older layout to the current one. */
export interface KeyMove {
  from: string;
  to: string;
}

/** What moving a key does, given which of the two exist (pure): only an old key without a new one moves. */
export function planKeyMove(fromExists: boolean, toExists: boolean): 'move' | 'keep' {
  return fromExists && !toExists ? 'move' : 'keep';
}

/** RENAME when the old key exists and the new does not — atomic on one node (same slot, or standalone). */
const MOVE_IN_SLOT = `
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('RENAME', KEYS[1], KEYS[2])
  return 1
end
return 0`;

/**
 * Moves keys of an older layout to their new names (planKeyMove), idempotent and safe to run from several
 * instances at once: on one node an atomic script RENAMEs; across two slots of a cluster (a standalone data
 * set imported into a cluster) DUMP + RESTORE (which refuses an existing key) + DEL. Returns how many moved.
 */
export async function moveKeys(redis: RedisClient, moves: readonly KeyMove[]): Promise<number> {
  let moved = 0;
  for (let at = 0; at < moves.length; at += 500) {
    const chunk = moves.slice(at, at + 500);
    const exists = (await pipelinePerSlot(redis, chunk.map((m) => m.from), (p, i) => p.exists(chunk[i].from))) as number[];
    for (let i = 0; i < chunk.length; i++) {
      if (exists[i] !== 1) continue;
      const { from, to } = chunk[i];
      if (!isCluster(redis) || keySlot(from) === keySlot(to)) {
        moved += Number(await redis.eval(MOVE_IN_SLOT, 2, from, to));
        continue;
      }
      if (planKeyMove(true, (await redis.exists(to)) === 1) !== 'move') continue;
      const [dump, pttl] = (await execPipeline(redis.pipeline().dumpBuffer(from).pttl(from))) as [Buffer | null, number];
      if (dump === null) continue; // moved meanwhile by another instance
      try {
        await redis.restore(to, pttl > 0 ? pttl : 0, dump);
      } catch (e) {
        if (/BUSYKEY/.test((e as Error).message)) continue; // another instance moved it first
        throw e;
      }
      await redis.del(from);
      moved++;
    }
  }
  return moved;
}
