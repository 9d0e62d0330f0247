import { PartitionGroup, type RedisGroupStore } from './redis-partition-group';

/** The group store's semantics in memory (the Redis scripts are checked in test/partition-fencing.e2e-spec.ts), with an outage switch. */
class MemoryGroupStore {
  down = false;
  now = 1_000_000;
  members = new Map<string, number>();
  leases = new Map<number, { owner: string; until: number }>();
  tokens = new Map<number, number>();
  private check() {
    if (this.down) throw new Error('connection lost');
  }
  async heartbeat(_g: string, member: string) {
    this.check();
    this.members.set(member, this.now);
    return { now: this.now, members: [...this.members].map(([id, heartbeatAt]) => ({ id, heartbeatAt })) };
  }
  async leave(_g: string, member: string) {
    this.members.delete(member);
  }
  async leases_(partitions: number) {
    return [...this.leases].filter(([p, l]) => p < partitions && l.until > this.now).map(([partition, l]) => ({ partition, owner: l.owner, expiresAt: l.until }));
  }
  async claimPartition(_g: string, p: number, member: string, ttl: number) {
    this.check();
    const l = this.leases.get(p);
    if (l && l.until > this.now && l.owner !== member) return undefined;
    this.leases.set(p, { owner: member, until: this.now + ttl });
    const t = (this.tokens.get(p) ?? 0) + 1;
    this.tokens.set(p, t);
    return t;
  }
  async renewPartition(_g: string, p: number, member: string, token: number, ttl: number) {
    this.check();
    if (this.tokens.get(p) !== token) return false;
    const l = this.leases.get(p);
    if (l && l.until > this.now && l.owner !== member) return false;
    this.leases.set(p, { owner: member, until: this.now + ttl });
    return true;
  }
  async releasePartition(_g: string, p: number, member: string, token: number) {
    this.check();
    const l = this.leases.get(p);
    if (!l || l.owner !== member || this.tokens.get(p) !== token) return false;
    this.leases.delete(p);
    return true;
  }
}

function asStore(m: MemoryGroupStore): RedisGroupStore {
  return Object.assign(Object.create(null), {
    heartbeat: m.heartbeat.bind(m),
    leave: m.leave.bind(m),
    leases: (_g: string, partitions: number) => { if (m.down) throw new Error('connection lost'); return m.leases_(partitions); },
    claimPartition: m.claimPartition.bind(m),
    renewPartition: m.renewPartition.bind(m),
    releasePartition: m.releasePartition.bind(m),
  }) as RedisGroupStore;
}

const timings = { heartbeatMs: 1_000_000, sessionTimeoutMs: 6000, leaseMs: 60 };

describe('PartitionGroup (member loop)', () => {
  it('takes its partitions, loses one whose renewal fails, and gives everything back on stop', async () => {
    const m = new MemoryGroupStore();
    const log: string[] = [];
    const g = new PartitionGroup(asStore(m), 'svc', 'a', 3, timings, {
      acquire: async (p, t) => void log.push(`+${p}@${t}`),
      release: async (p, lost) => void log.push(`-${p}${lost ? '!' : ''}`),
    });
    await g.start();
    expect(g.ownedPartitions()).toEqual([0, 1, 2]);
    // Someone else claimed partition 1 (a newer token): the next renewal fails, it is let go as lost.
    m.tokens.set(1, 5);
    m.leases.set(1, { owner: 'b', until: m.now + 10_000 });
    m.members.set('b', m.now);
    await g.beat();
    await new Promise((r) => setTimeout(r, 10));
    expect(log).toContain('-1!');
    expect(g.ownedPartitions()).toEqual([0, 2]);
    await g.stop();
    expect(log.slice(-2).sort()).toEqual(['-0', '-2']);
    expect(m.leases.has(0) || m.leases.has(2)).toBe(false);
    expect(m.members.has('a')).toBe(false);
  });

  it('cut off from Redis for longer than a lease, lets its partitions go; takes them again once back', async () => {
    const m = new MemoryGroupStore();
    const log: string[] = [];
    const g = new PartitionGroup(asStore(m), 'svc', 'a', 2, timings, {
      acquire: async (p, t) => void log.push(`+${p}@${t}`),
      release: async (p, lost) => void log.push(`-${p}${lost ? '!' : ''}`),
    });
    await g.start();
    expect(g.ownedPartitions()).toEqual([0, 1]);
    m.down = true;
    await g.beat(); // a short outage: kept
    expect(g.ownedPartitions()).toEqual([0, 1]);
    await new Promise((r) => setTimeout(r, 80));
    await g.beat(); // longer than PARTITION_LEASE_MS: let go
    await new Promise((r) => setTimeout(r, 10));
    expect(g.ownedPartitions()).toEqual([]);
    expect(log.filter((x) => x.endsWith('!')).sort()).toEqual(['-0!', '-1!']);
    m.down = false;
    m.now += 1000; // the old leases ran out
    await g.beat();
    await new Promise((r) => setTimeout(r, 10));
    expect(g.ownedPartitions()).toEqual([0, 1]);
    expect(log.slice(-2).sort()).toEqual(['+0@2', '+1@2']);
    await g.stop();
  });
});
