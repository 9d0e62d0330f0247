import fc from 'fast-check';
import type Redis from 'ioredis';
import { InMemoryDedupStore, RedisDedupStore, connectRedis } from '@tidemark/state';
import { ServerHandle, startRedis } from './support/servers';

// Property runs against a real redis-server: seconds on a slow or busy machine, where Jest's default 5 s cut one in CI.
jest.setTimeout(60_000);

let redis: ServerHandle;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = await connectRedis(redis.url, 'test');
});

afterAll(async () => {
  await client?.quit();
  await redis?.dispose();
});

const HOUR = 3_600_000;
const TTL = 24 * HOUR;

describe('RedisDedupStore', () => {
  it('decides exactly like the in-memory reference, call after call, expiry and sweeps included (property)', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            items: fc.array(fc.record({ id: fc.integer({ min: 0, max: 12 }), seq: fc.integer({ min: 1, max: 20 }), index: fc.integer({ min: 0, max: 3 }) }), { maxLength: 10 }),
            hour: fc.integer({ min: 0, max: 60 }),
            sweep: fc.boolean(),
          }),
          { maxLength: 8 },
        ),
        async (calls) => {
          const prefix = `t${run++}:`;
          const real = new RedisDedupStore(client, TTL, { slots: 4, prefix });
          const ref = new InMemoryDedupStore(TTL, 4);
          for (const c of calls) {
            const now = c.hour * HOUR;
            const items = c.items.map((b) => ({ id: `id-${b.id}`, seq: b.seq, index: b.index, timeMs: now }));
            expect(await real.claim(items, now)).toEqual(await ref.claim(items, now));
            if (c.sweep) expect(await real.sweep(now)).toBe(await ref.sweep(now));
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('keeps ids in its slot hashes, with binary fields, and handles unicode and odd ids', async () => {
    const store = new RedisDedupStore(client, TTL, { slots: 16, prefix: 'tag:' });
    const ids = ['Z:r', '{', '}', '*', ':', 'é😀中', 'x'.repeat(128), '\u0000'];
    const items = ids.map((id, index) => ({ id, seq: 1, index, timeMs: 0 }));
    expect(await store.claim(items, 0)).toEqual(ids.map(() => 'first'));
    expect(await store.claim(items.map((i) => ({ ...i, seq: 2 })), 0)).toEqual(ids.map(() => 'duplicate'));
    const keys = await client.keys('tag:*');
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(k).toMatch(/^tag:\{d\d+\}:\d+$/);
  });

  it('moves slot hashes of the layout before the hash tag once, keeping what they remember (migration)', async () => {
    const store = new RedisDedupStore(client, TTL, { slots: 16, prefix: 'mig:' });
    const items = ['a', 'b', 'c', 'd', 'e'].map((id, index) => ({ id, seq: 7, index, timeMs: 0 }));
    expect(await store.claim(items, 0)).toEqual(items.map(() => 'first'));
    // Put the claims back under the old names, as a deployment before the hash tags has them.
    const tagged = await client.keys('mig:*');
    for (const k of tagged) await client.rename(k, k.replace(/\{d\d+\}:/, ''));
    expect((await client.keys('mig:*')).every((k) => /^mig:\d+$/.test(k))).toBe(true);
    // An old key whose new name exists already is left alone (the new one wins).
    await client.hset('mig:999', 'x', 'y');
    await client.hset(store.slotKey(999), 'keep', 'me');
    expect(await store.migrateLegacyKeys()).toBe(tagged.length);
    expect(await store.migrateLegacyKeys()).toBe(0);
    expect(await client.hgetall(store.slotKey(999))).toEqual({ keep: 'me' });
    expect(await client.exists('mig:999')).toBe(1);
    // The moved claims still count: the same ids at another place are duplicates, at the same place redeliveries.
    expect(await store.claim(items.map((i) => ({ ...i, seq: 8 })), 0)).toEqual(items.map(() => 'duplicate'));
    expect(await store.claim(items, 0)).toEqual(items.map(() => 'retry'));
  });

  it('remembers an id in at most ~24 bytes of Redis memory at a sized slot count', async () => {
    const n = 200_000;
    const slots = Math.ceil(n / 100);
    const db = await connectRedis(redis.url, 'mem');
    await db.flushdb();
    const before = Number(/used_memory:(\d+)/.exec(await db.info('memory'))![1]);
    const store = new RedisDedupStore(db, TTL, { slots, prefix: 'm:' });
    for (let at = 0; at < n; at += 1000) {
      await store.claim(Array.from({ length: 1000 }, (_, i) => ({ id: `evt-${at + i}-a-realistic-uuid-like-id`, seq: at / 1000 + 1, index: i, timeMs: 0 })), 0);
    }
    const after = Number(/used_memory:(\d+)/.exec(await db.info('memory'))![1]);
    const perId = (after - before) / n;
    // Measured, not timed: listpack hashes of ~100 8-byte fields with 8-byte values.
    expect(perId).toBeLessThan(30);
    await db.flushdb();
    await db.quit();
  }, 60_000); // 200,000 claims: seconds alone, more beside the rest of the suite
});
