import fc from 'fast-check';
import type Redis from 'ioredis';
import { InMemoryFencedWriter, RedisFencedWriter, StateOp, connectRedis } from '@tidemark/state';
import { ServerHandle, startRedis } from './support/servers';

let redis: ServerHandle;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis({ persistence: true });
  client = await connectRedis(redis.url, 'test');
});

afterAll(async () => {
  await client?.quit();
  await redis?.dispose();
});

const op = (prefix: string): fc.Arbitrary<StateOp> => {
  const key = fc.constantFrom('a', 'b').map((k) => `${prefix}${k}`);
  return fc.oneof(
    fc.record({ op: fc.constant('hincrby' as const), key, field: fc.constantFrom('c', 'sum'), by: fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }).map(String) }),
    fc.record({ op: fc.constant('hmax' as const), key, field: fc.constant('max'), value: fc.integer() }),
    fc.record({ op: fc.constant('hmin' as const), key, field: fc.constant('min'), value: fc.integer() }),
    fc.record({ op: fc.constant('zincrby' as const), key: key.map((k) => `${k}:z`), member: fc.constantFrom('p1', 'p2', 'p3'), by: fc.integer({ min: 1, max: 5 }) }),
    // session merging, join state and index upkeep
    fc.record({ op: fc.constant('zadd' as const), key: key.map((k) => `${k}:z`), member: fc.constantFrom('p1', 'p2'), score: fc.integer({ min: 0, max: 9 }), only: fc.constantFrom('lt' as const, 'gt' as const) }),
    fc.record({ op: fc.constant('zrem' as const), key: key.map((k) => `${k}:z`), member: fc.constantFrom('p1', 'p2', 'p3') }),
    fc.record({ op: fc.constant('hdel' as const), key, field: fc.constantFrom('c', 'max') }),
    fc.record({ op: fc.constant('del' as const), key }),
    fc.record({
      op: fc.constant('hmerge' as const),
      src: key,
      dst: key,
      fields: fc.constant({ c: 'sum' as const, sum: 'sum' as const, max: 'max' as const }),
      others: fc.constantFrom('min' as const, undefined),
    }).filter((o) => o.src !== o.dst),
    fc.record({ op: fc.constant('zmerge' as const), src: key.map((k) => `${k}:z`), dst: key.map((k) => `${k}:z`) }).filter((o) => o.src !== o.dst),
    fc.record({ op: fc.constant('hearliest' as const), key, ts: fc.integer({ min: 0, max: 5 }), id: fc.constantFrom('x', 'y'), values: fc.constant({ f: 'v' }) }),
  );
};

describe('RedisFencedWriter', () => {
  it('matches the in-memory reference through replays and stale fences (property)', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1e6 }), async (seed) => {
        const prefix = `r${run++}:`;
        const batches = fc.sample(fc.array(op(prefix), { maxLength: 12 }), { seed, numRuns: 6 });
        const real = new RedisFencedWriter(client);
        const ref = new InMemoryFencedWriter();
        let seq = 0;
        for (const ops of batches) {
          const fence = { key: `${prefix}part`, expectedSeq: seq, newSeq: seq + ops.length + 1, fields: { maxTs: String(seq) } };
          expect(await real.apply(fence, ops)).toEqual(await ref.apply(fence, ops));
          // the same batch redelivered: refused, nothing written twice
          expect(await real.apply(fence, ops)).toEqual({ status: 'conflict', lastSeq: fence.newSeq });
          seq = fence.newSeq;
        }
        for (const k of ['a', 'b']) {
          const h = await client.hgetall(`${prefix}${k}`);
          expect(h).toEqual(Object.fromEntries(ref.hashes.get(`${prefix}${k}`) ?? []));
          const z = await client.zrange(`${prefix}${k}:z`, 0, -1, 'WITHSCORES');
          const refZ = ref.zsets.get(`${prefix}${k}:z`) ?? new Map<string, number>();
          const realZ = new Map<string, number>();
          for (let i = 0; i < z.length; i += 2) realZ.set(z[i], Number(z[i + 1]));
          expect(realZ).toEqual(refZ);
        }
        expect(await real.lastSeq(`${prefix}part`)).toBe(seq);
      }),
      { numRuns: 30 },
    );
  });

  it('refuses a guarded batch like the reference, and indexes with zadd', async () => {
    const real = new RedisFencedWriter(client);
    const ref = new InMemoryFencedWriter();
    await client.set('g:wm', '5000');
    ref.strings.set('g:wm', '5000');
    const ops: StateOp[] = [{ op: 'zadd', key: 'g:idx', member: 'w1', score: 60000 }, { op: 'hincrby', key: 'g:w', field: 'c', by: '1' }];
    for (const below of [4000, 5000, 5001]) {
      const fence = { key: 'g:part', expectedSeq: 0, newSeq: 1, guard: { key: 'g:wm', below } };
      expect(await real.apply(fence, ops)).toEqual(await ref.apply(fence, ops));
    }
    expect(await client.zscore('g:idx', 'w1')).toBe('60000');
    expect(await client.hget('g:w', 'c')).toBe('1');
  });

  it('counts distinct members with HyperLogLog and sets TTLs', async () => {
    const w = new RedisFencedWriter(client);
    const members = Array.from({ length: 1000 }, (_, i) => `u${i}`);
    await w.apply({ key: 'h:part', expectedSeq: 0, newSeq: 1 }, [
      { op: 'pfadd', key: 'h:uv', members },
      { op: 'pfadd', key: 'h:uv', members: members.slice(0, 500) },
      { op: 'pfadd', key: 'h:none', members: [] },
      { op: 'pexpire', key: 'h:uv', ms: 60_000 },
    ]);
    const estimate = await client.pfcount('h:uv');
    expect(Math.abs(estimate - 1000) / 1000).toBeLessThan(0.02);
    expect(await client.pttl('h:uv')).toBeGreaterThan(50_000);
  });

  it('refuses, like the reference, a batch it could only apply in part: nothing written, the fence unmoved', async () => {
    const real = new RedisFencedWriter(client);
    const ref = new InMemoryFencedWriter();
    const first: StateOp[] = [
      { op: 'zadd', key: 'x:j:Z:r', member: '1', score: 1 },
      { op: 'hincrby', key: 'x:big', field: 'c', by: '9000000000000000000' },
    ];
    const fence = { key: 'x:part', expectedSeq: 0, newSeq: 1 };
    expect(await real.apply(fence, first)).toEqual(await ref.apply(fence, first));
    const cases: StateOp[][] = [
      // the first op alone would succeed; the second meets a sorted set where it needs a hash
      [{ op: 'hincrby', key: 'x:win', field: 'count', by: '1' }, { op: 'hearliest', key: 'x:j:Z:r', ts: 5, id: 'e', values: { fields: '{}' } }],
      [{ op: 'hincrby', key: 'x:win', field: 'count', by: '1' }, { op: 'hincrby', key: 'x:j:Z:r', field: '_u', by: '1' }],
      [{ op: 'hincrby', key: 'x:win', field: 'count', by: '1' }, { op: 'zincrby', key: 'x:win', member: 'm', by: 1 }],
      [{ op: 'hincrby', key: 'x:win', field: 'count', by: '1' }, { op: 'pfadd', key: 'x:hll', members: ['ok', '\ud800'] }],
      [{ op: 'hincrby', key: 'x:win', field: 'count', by: '1' }, { op: 'hset', key: 'x:win', field: 'f', value: 'x\udc00' }],
      [{ op: 'hincrby', key: 'x:win', field: 'count', by: '1' }, { op: 'hincrby', key: 'x:big', field: 'c', by: '300000000000000000' }],
      [{ op: 'hincrby', key: 'x:win', field: 'count', by: '1' }, { op: 'hincrby', key: 'x:win', field: 'c', by: '1.5' }],
      [{ op: 'hincrby', key: 'x:win', field: 'count', by: '1' }, { op: 'zadd', key: 'x:z', member: 'm', score: NaN }],
      [{ op: 'hincrby', key: 'x:win', field: 'count', by: '1' }, { op: 'hmax', key: 'x:win', field: 'v', value: Infinity }],
    ];
    for (const ops of cases) {
      const f = { key: 'x:part', expectedSeq: 1, newSeq: 2 };
      await expect(real.apply(f, ops)).rejects.toThrow(/refused: /);
      await expect(ref.apply(f, ops)).rejects.toThrow(/refused: /);
      expect(await client.exists('x:win', 'x:hll', 'x:z')).toBe(0);
      expect(await client.type('x:j:Z:r')).toBe('zset');
      expect(await real.lastSeq('x:part')).toBe(1);
    }
    const ok: StateOp[] = [{ op: 'hincrby', key: 'x:win', field: 'count', by: '1' }];
    const f = { key: 'x:part', expectedSeq: 1, newSeq: 2 };
    expect(await real.apply(f, ok)).toEqual(await ref.apply(f, ok));
    expect(await client.hget('x:win', 'count')).toBe('1');
  });

  it('adds any number of HyperLogLog members (no unbounded Lua unpack)', async () => {
    const w = new RedisFencedWriter(client);
    const members = Array.from({ length: 20_000 }, (_, i) => `m${i}`);
    expect(await w.apply({ key: 'u:part', expectedSeq: 0, newSeq: 1 }, [{ op: 'pfadd', key: 'u:hll', members }])).toEqual({ status: 'applied' });
    expect(Math.abs((await client.pfcount('u:hll')) - 20_000) / 20_000).toBeLessThan(0.02);
  });

  it('keeps applied batches through a Redis restart (append-only file, fsync always)', async () => {
    const w = new RedisFencedWriter(client);
    await w.apply({ key: 'd:part', expectedSeq: 0, newSeq: 7 }, [{ op: 'hincrby', key: 'd:win', field: 'c', by: '3' }]);
    await redis.kill();
    await redis.start();
    const fresh = await connectRedis(redis.url, 'test-2');
    try {
      expect(await fresh.hget('d:win', 'c')).toBe('3');
      expect(await new RedisFencedWriter(fresh).lastSeq('d:part')).toBe(7);
    } finally {
      await fresh.quit();
    }
  });
});
