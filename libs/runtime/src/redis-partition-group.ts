/**
 * A service group in Redis (docs/scale-out.md "Partitions that move"): membership by heartbeat, one lease per
 * (group, partition) with a fencing token, and the member loop that turns partition-group.ts's plan into
 * claims and releases.
 *
 * Keys (every script touches one hash tag, so one Redis Cluster slot):
 *   tm:group:{<group>}:members        hash: member id → last heartbeat (ms, Redis' clock)
 *   tm:group:<group>:{p<N>}:lease     string: the holder's member id, PX = PARTITION_LEASE_MS
 *   tm:group:<group>:{p<N>}:token     the partition's fencing token: INCR on every claim, never lowered
 * A leader lease (the aggregation firer, alerting) is the same pair under the tag `{<name>}`.
 *
 * The fencing token is the point: every write of a partition's state carries the token its writer was
 * handed, and the checkpoint scripts (aggregation, recommendation) refuse a token below the partition's
 * current one, so a member that lost its lease while paused (GC, SIGSTOP, a network partition) cannot write
 * once another has claimed. Time is Redis' (TIME in the heartbeat script), so members' clocks do not matter.
 */
import { LuaScript, pipelinePerSlot, type RedisClient } from '@tidemark/state';
import { plan, type GroupMember, type PartitionLease } from './partition-group';

export const GROUP_KEYS = {
  members: (group: string) => `tm:group:{${group}}:members`,
  lease: (group: string, partition: number) => `tm:group:${group}:{p${partition}}:lease`,
  /** The fencing token of a partition: pass it to checkpoint scripts (same hash tag as the partition's state). */
  token: (group: string, partition: number) => `tm:group:${group}:{p${partition}}:token`,
  leaderLease: (name: string) => `tm:group:{${name}}:lease`,
  leaderToken: (name: string) => `tm:group:{${name}}:token`,
} as const;

/** KEYS[1] members; ARGV member, session timeout. Records the heartbeat, drops dead members; returns {now, id, at, …}. */
const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], now)
local all = redis.call('HGETALL', KEYS[1])
local out = {tostring(now)}
for i = 1, #all, 2 do
  if now - tonumber(all[i + 1]) > tonumber(ARGV[2]) then redis.call('HDEL', KEYS[1], all[i])
  else out[#out + 1] = all[i]; out[#out + 1] = all[i + 1] end
end
return out`;

/** KEYS lease, token; ARGV member, ttl. Claims a free (released or expired) lease: a new token. {1, token} or {0, holder}. */
const CLAIM = `
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return {0, cur} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, tostring(redis.call('INCR', KEYS[2]))}`;

/**
 * KEYS lease, token; ARGV member, token, ttl. Extends the lease while it is still ours with our token; also
 * takes it again when it ran out and nobody claimed since (the token is still ours). 1, or 0: lost.
 */
const RENEW = `
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[3]) return 1 end
if not cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3]) return 1 end
return 0`;

/** KEYS lease, token; ARGV member, token. Deletes the lease if it is still ours. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`;

const HEARTBEAT_SCRIPT = new LuaScript<string[]>(HEARTBEAT);
const CLAIM_SCRIPT = new LuaScript<[number, string]>(CLAIM);
const RENEW_SCRIPT = new LuaScript<number>(RENEW);
const RELEASE_SCRIPT = new LuaScript<number>(RELEASE);

/** The typed repository: one script call (one slot) per operation. */
export class RedisGroupStore {
  constructor(private readonly redis: RedisClient) {}

  /** Records `member`'s heartbeat; the live members (dead ones dropped) and Redis' clock. */
  async heartbeat(group: string, member: string, sessionTimeoutMs: number): Promise<{ now: number; members: GroupMember[] }> {
    const flat = await HEARTBEAT_SCRIPT.call(this.redis, [GROUP_KEYS.members(group)], [member, sessionTimeoutMs]);
    const members: GroupMember[] = [];
    for (let i = 1; i < flat.length; i += 2) members.push({ id: flat[i], heartbeatAt: Number(flat[i + 1]) });
    return { now: Number(flat[0]), members };
  }

  async leave(group: string, member: string): Promise<void> {
    await this.redis.hdel(GROUP_KEYS.members(group), member);
  }

  /**
   * Every partition's lease as of `now` (Redis' clock from the heartbeat): one pipelined round trip (one per
   * slot on a Redis Cluster: each lease is under its partition's hash tag).
   */
  async leases(group: string, partitions: number, now: number): Promise<PartitionLease[]> {
    // Each lease key twice: GET then PTTL (one command per entry, as pipelinePerSlot wants).
    const keys: string[] = [];
    for (let p = 0; p < partitions; p++) keys.push(GROUP_KEYS.lease(group, p), GROUP_KEYS.lease(group, p));
    const replies = await pipelinePerSlot(this.redis, keys, (pipe, i) => (i % 2 === 0 ? pipe.get(keys[i]) : pipe.pttl(keys[i])));
    const out: PartitionLease[] = [];
    for (let p = 0; p < partitions; p++) {
      const owner = replies[2 * p] as string | null;
      const ttl = replies[2 * p + 1];
      if (owner === null) continue;
      const ms = Number(ttl);
      out.push({ partition: p, owner, expiresAt: ms === -1 ? Number.MAX_SAFE_INTEGER : now + Math.max(0, ms) });
    }
    return out;
  }

  claim(lease: string, tokenKey: string, member: string, ttlMs: number): Promise<number | undefined> {
    return CLAIM_SCRIPT.call(this.redis, [lease, tokenKey], [member, ttlMs]).then(([won, token]) => (won === 1 ? Number(token) : undefined));
  }

  async renew(lease: string, tokenKey: string, member: string, token: number, ttlMs: number): Promise<boolean> {
    return (await RENEW_SCRIPT.call(this.redis, [lease, tokenKey], [member, token, ttlMs])) === 1;
  }

  async release(lease: string, tokenKey: string, member: string, token: number): Promise<boolean> {
    return (await RELEASE_SCRIPT.call(this.redis, [lease, tokenKey], [member, token])) === 1;
  }

  claimPartition(group: string, partition: number, member: string, ttlMs: number): Promise<number | undefined> {
    return this.claim(GROUP_KEYS.lease(group, partition), GROUP_KEYS.token(group, partition), member, ttlMs);
  }

  renewPartition(group: string, partition: number, member: string, token: number, ttlMs: number): Promise<boolean> {
    return this.renew(GROUP_KEYS.lease(group, partition), GROUP_KEYS.token(group, partition), member, token, ttlMs);
  }

  releasePartition(group: string, partition: number, member: string, token: number): Promise<boolean> {
    return this.release(GROUP_KEYS.lease(group, partition), GROUP_KEYS.token(group, partition), member, token);
  }
}

export interface GroupTimings {
  /** GROUP_HEARTBEAT_MS: heartbeat and lease renewal period. */
  heartbeatMs: number;
  /** GROUP_SESSION_TIMEOUT_MS: a member without a heartbeat this long is dead. */
  sessionTimeoutMs: number;
  /** PARTITION_LEASE_MS: a lease not renewed this long is free. */
  leaseMs: number;
}

export interface PartitionHooks {
  /** A partition won, with its fencing token: restore its state, start consuming. Throwing gives it back. */
  acquire(partition: number, token: number): Promise<void>;
  /**
   * Stop consuming it, write a last checkpoint (refused by the token fence if another member claimed it
   * meanwhile), forget its state. `lost`: the lease is gone already (renewal failed).
   */
  release(partition: number, lost: boolean): Promise<void>;
}

export interface GroupLogger {
  log?(message: string): unknown;
  warn(message: string): unknown;
}

/**
 * One member of a service group. Heartbeats and renews on a timer of its own (never blocked by a slow
 * restore), and after each heartbeat reconciles: plan → release what goes (hooks first, then the lease),
 * claim what is free and ours (lease, then hooks). `stop()` releases everything at once and leaves.
 */
export class PartitionGroup {
  private readonly held = new Map<number, number>();
  /** Held and taken on (acquire hook done): what the instance consumes now. */
  private readonly active = new Set<number>();
  private readonly lost = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> | undefined;
  private last: { now: number; members: GroupMember[] } | undefined;
  private stopped = false;
  private beating = false;
  /** When the last heartbeat and renewals went through (local clock). */
  private lastBeatOk = Date.now();

  constructor(
    private readonly store: RedisGroupStore,
    readonly group: string,
    readonly member: string,
    private readonly partitions: number,
    private readonly timings: GroupTimings,
    private readonly hooks: PartitionHooks,
    private readonly logger?: GroupLogger,
  ) {}

  /** Partition → fencing token, for the partitions this member holds (claimed and not released). */
  get owned(): ReadonlyMap<number, number> {
    return this.held;
  }

  /** The partitions this member consumes now: claimed and restored, not given back. */
  ownedPartitions(): number[] {
    return [...this.active].sort((a, b) => a - b);
  }

  /** Joins the group: the first heartbeat and claims now, then every GROUP_HEARTBEAT_MS. */
  async start(): Promise<void> {
    await this.beat();
    await this.reconciling;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.beat().finally(() => this.schedule());
    }, this.timings.heartbeatMs);
  }

  /** One heartbeat: membership, lease renewals, then a reconcile round if none is running. */
  async beat(): Promise<void> {
    if (this.stopped || this.beating) return;
    this.beating = true;
    try {
      this.last = await this.store.heartbeat(this.group, this.member, this.timings.sessionTimeoutMs);
      await Promise.all(
        [...this.held].map(async ([p, token]) => {
          if (this.lost.has(p)) return;
          const ok = await this.store.renewPartition(this.group, p, this.member, token, this.timings.leaseMs);
          if (!ok) {
            this.logger?.warn(`group ${this.group}: lost the lease of partition ${p} (token ${token})`);
            this.lost.add(p);
          }
        }),
      );
      this.lastBeatOk = Date.now();
    } catch (e) {
      this.logger?.warn(`group ${this.group}: heartbeat failed: ${(e as Error).message}`);
      // Cut off from Redis for longer than a lease: others may hold our partitions by now. Let them go (their
      // writes would be fenced anyway; this also stops consuming them).
      if (Date.now() - this.lastBeatOk <= this.timings.leaseMs || this.held.size === this.lost.size) return;
      this.logger?.warn(`group ${this.group}: no heartbeat for over PARTITION_LEASE_MS; letting partitions ${[...this.held.keys()].join(', ')} go`);
      for (const p of this.held.keys()) this.lost.add(p);
    } finally {
      this.beating = false;
    }
    if (!this.reconciling) {
      this.reconciling = this.reconcile()
        .catch((e) => void this.logger?.warn(`group ${this.group}: reconcile failed: ${(e as Error).message}`))
        .finally(() => {
          this.reconciling = undefined;
        });
    }
  }

  private async reconcile(): Promise<void> {
    for (const p of [...this.lost]) {
      this.held.delete(p);
      this.lost.delete(p);
      this.active.delete(p);
      await this.hooks.release(p, true).catch((e) => this.logger?.warn(`group ${this.group}: dropping lost partition ${p} failed: ${(e as Error).message}`));
    }
    if (this.stopped || !this.last) return;
    const { now, members } = this.last;
    const leases = await this.store.leases(this.group, this.partitions, now);
    const todo = plan(this.member, { members, partitions: this.partitions, leases, sessionTimeoutMs: this.timings.sessionTimeoutMs, now });
    for (const p of todo.release) {
      if (this.stopped) return;
      await this.give(p);
    }
    for (const p of todo.claim) {
      if (this.stopped) return;
      const token = await this.store.claimPartition(this.group, p, this.member, this.timings.leaseMs);
      if (token === undefined) continue;
      this.held.set(p, token);
      try {
        await this.hooks.acquire(p, token);
        this.active.add(p);
        this.logger?.log?.(`group ${this.group}: took partition ${p} (token ${token})`);
      } catch (e) {
        this.logger?.warn(`group ${this.group}: taking partition ${p} failed: ${(e as Error).message}; giving it back`);
        await this.give(p);
      }
    }
  }

  /** Hooks first (stop, last checkpoint), then the lease: the next owner starts after our last write. */
  private async give(p: number): Promise<void> {
    const token = this.held.get(p);
    if (token === undefined) {
      // Held in Redis by this member id but not known here: just free it (the token is unknown: read it).
      return;
    }
    this.active.delete(p);
    await this.hooks.release(p, false).catch((e) => this.logger?.warn(`group ${this.group}: releasing partition ${p} failed: ${(e as Error).message}`));
    this.held.delete(p);
    await this.store.releasePartition(this.group, p, this.member, token).catch((e) => this.logger?.warn(`group ${this.group}: releasing the lease of ${p} failed: ${(e as Error).message}`));
    this.logger?.log?.(`group ${this.group}: released partition ${p}`);
  }

  /** Graceful stop: every partition released at once (hooks, then leases), membership left. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    await this.reconciling;
    await Promise.all([...this.held.keys()].map((p) => this.give(p)));
    await this.store.leave(this.group, this.member).catch(() => undefined);
  }
}

/**
 * A single leader among instances (the aggregation firer, alerting): the same lease and token, under the tag
 * `{<name>}`. `hold()` claims it when free or expired and renews it while held; `release()` gives it up at
 * once (a graceful stop hands over without waiting for the TTL).
 */
export class LeaderLease {
  private token: number | undefined;

  constructor(
    private readonly store: RedisGroupStore,
    readonly name: string,
    readonly member: string,
    private readonly ttlMs: number,
  ) {}

  get isLeader(): boolean {
    return this.token !== undefined;
  }

  /** The fencing token while leader. */
  get fencingToken(): number | undefined {
    return this.token;
  }

  /** Renew or claim; true while this instance leads. */
  async hold(): Promise<boolean> {
    const lease = GROUP_KEYS.leaderLease(this.name);
    const tokenKey = GROUP_KEYS.leaderToken(this.name);
    if (this.token !== undefined) {
      if (await this.store.renew(lease, tokenKey, this.member, this.token, this.ttlMs)) return true;
      this.token = undefined;
    }
    this.token = await this.store.claim(lease, tokenKey, this.member, this.ttlMs);
    return this.token !== undefined;
  }

  async release(): Promise<void> {
    const token = this.token;
    this.token = undefined;
    if (token !== undefined) await this.store.release(GROUP_KEYS.leaderLease(this.name), GROUP_KEYS.leaderToken(this.name), this.member, token);
  }
}

/** A readable, unique member id: host, pid and a random suffix. */
export function memberId(hostname: string, pid: number): string {
  return `${hostname}-${pid}-${Math.random().toString(36).slice(2, 8)}`;
}
