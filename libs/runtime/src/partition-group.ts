/**
 * Which partitions a member of a service group should hold — pure, framework-free, time an argument
 * (docs/scale-out.md "Partitions that move"). The Redis side (membership, leases, fencing tokens) is
 * redis-partition-group.ts; this file only decides.
 *
 * The assignment is **sticky with balanced quotas** (like Kafka's sticky assignor), computed by every member
 * from the same shared inputs — the live members and the current leases — so they agree:
 *
 *   1. Live members: heartbeat within the session timeout; sorted by id. n of them, P partitions: q = ⌊P/n⌋,
 *      r = P mod n. The r members holding the most live leases get quota q + 1 (ties: by id), the others q.
 *   2. Each member keeps up to its quota of the partitions it holds (the ones it ranks highest by rendezvous
 *      hash first); the rest of what it holds is over quota and goes.
 *   3. Partitions nobody keeps (free, expired, held by a dead member, over quota) go, in partition order, to the
 *      member with room that ranks the partition highest by rendezvous hash.
 *
 * Why not plain rendezvous hashing or round robin over sorted members: neither depends on who holds what, so
 * a join or leave moves more than it must (round robin: almost everything; bounded rendezvous: a cascade of
 * overflow). Sticky quotas move exactly the minimum: when a member leaves, only its partitions move; when one
 * joins, only the partitions it must get (⌊P/n⌋ or one more), taken from members over their new quota. Once
 * the leases match the assignment, computing it again gives the same answer (a fixed point), so nothing
 * flaps. Counts differ by at most one. The rendezvous hash only breaks ties deterministically.
 *
 * A member claims only a partition whose lease is free (released) or expired; a partition still leased to
 * someone else is waited for, even when the assignment says it is ours (the holder releases it on its next
 * round, or its lease runs out when it is dead).
 */
import { createHash } from 'node:crypto';

export interface GroupMember {
  id: string;
  /** Last heartbeat, ms (one clock: the store's). */
  heartbeatAt: number;
}

export interface PartitionLease {
  partition: number;
  /** The member holding it; null when free. */
  owner: string | null;
  /** When the lease runs out unless renewed, ms (same clock); ignored when free. */
  expiresAt: number;
}

export interface GroupView {
  members: readonly GroupMember[];
  /** Number of partitions (0 … partitions − 1). */
  partitions: number;
  /** The current leases; a partition missing here is free. */
  leases: readonly PartitionLease[];
  /** A member whose last heartbeat is older than this is dead (GROUP_SESSION_TIMEOUT_MS). */
  sessionTimeoutMs: number;
  now: number;
}

export interface MemberPlan {
  /** The partitions this member should hold, ascending. */
  target: number[];
  /** Held now (a live lease of ours) and in the target: keep renewing. */
  keep: number[];
  /** Held now and not in the target: release (after a last checkpoint). */
  release: number[];
  /** In the target and free or expired: claim now. */
  claim: number[];
  /** In the target but still leased to another member: wait for its release or expiry. */
  wait: number[];
}

/** The live members, sorted by id. */
export function liveMembers(members: readonly GroupMember[], now: number, sessionTimeoutMs: number): string[] {
  return [...new Set(members.filter((m) => now - m.heartbeatAt <= sessionTimeoutMs).map((m) => m.id))].sort();
}

/** Rendezvous score of (member, partition): a stable pseudo-random 48-bit number. */
export function rendezvous(member: string, partition: number): number {
  return createHash('sha256').update(`${member}\u0000${partition}`).digest().readUIntBE(0, 6);
}

/** A lease that counts: held by a live member and not expired. */
function liveOwner(lease: PartitionLease | undefined, live: ReadonlySet<string>, now: number): string | null {
  if (!lease || lease.owner === null || lease.expiresAt <= now || !live.has(lease.owner)) return null;
  return lease.owner;
}

/** The whole group's assignment: member → partitions (ascending). Every live member has an entry. */
export function assign(view: GroupView): Map<string, number[]> {
  const members = liveMembers(view.members, view.now, view.sessionTimeoutMs);
  const out = new Map<string, number[]>(members.map((m) => [m, []]));
  if (members.length === 0) return out;
  const live = new Set(members);
  const byPartition = new Map<number, PartitionLease>();
  for (const l of view.leases) if (l.partition >= 0 && l.partition < view.partitions) byPartition.set(l.partition, l);
  const held = new Map<string, number[]>(members.map((m) => [m, []]));
  for (let p = 0; p < view.partitions; p++) {
    const owner = liveOwner(byPartition.get(p), live, view.now);
    if (owner !== null) held.get(owner)!.push(p);
  }
  // Quotas: q each, one more for the r members holding the most (ties by id).
  const q = Math.floor(view.partitions / members.length);
  const r = view.partitions % members.length;
  const quota = new Map<string, number>(members.map((m) => [m, q]));
  [...members].sort((a, b) => held.get(b)!.length - held.get(a)!.length || (a < b ? -1 : 1)).slice(0, r).forEach((m) => quota.set(m, q + 1));
  // Keep what is held, up to the quota, best-ranked first.
  const taken = new Set<number>();
  for (const m of members) {
    const mine = [...held.get(m)!].sort((a, b) => rendezvous(m, b) - rendezvous(m, a) || a - b);
    for (const p of mine.slice(0, quota.get(m)!)) {
      out.get(m)!.push(p);
      taken.add(p);
    }
  }
  // The rest, in partition order, to the member with room ranking it highest.
  for (let p = 0; p < view.partitions; p++) {
    if (taken.has(p)) continue;
    let best: string | undefined;
    let bestScore = -1;
    for (const m of members) {
      if (out.get(m)!.length >= quota.get(m)!) continue;
      const s = rendezvous(m, p);
      if (s > bestScore || (s === bestScore && best !== undefined && m < best)) {
        best = m;
        bestScore = s;
      }
    }
    out.get(best!)!.push(p);
  }
  for (const list of out.values()) list.sort((a, b) => a - b);
  return out;
}

/**
 * What `self` should do now. Its own heartbeat counts as live even when the view is older than it (a member
 * always plans as a member). Partitions held by `self` are those whose live lease names it.
 */
export function plan(self: string, view: GroupView): MemberPlan {
  const members = view.members.some((m) => m.id === self) ? view.members : [...view.members, { id: self, heartbeatAt: view.now }];
  const full = { ...view, members };
  const target = assign(full).get(self) ?? [];
  const targetSet = new Set(target);
  const byPartition = new Map(view.leases.map((l) => [l.partition, l]));
  const keep: number[] = [];
  const release: number[] = [];
  const claim: number[] = [];
  const wait: number[] = [];
  for (let p = 0; p < view.partitions; p++) {
    const lease = byPartition.get(p);
    const owner = lease && lease.owner !== null && lease.expiresAt > view.now ? lease.owner : null;
    if (owner === self) (targetSet.has(p) ? keep : release).push(p);
    else if (targetSet.has(p)) {
      // Free, expired: claim. Leased to a dead member but not expired yet: still wait (never two holders).
      if (owner === null) claim.push(p);
      else wait.push(p);
    }
  }
  return { target, keep, release, claim, wait };
}
