import fc from 'fast-check';
import type Redis from 'ioredis';
import { InMemoryDedupStore, RedisDedupStore, connectRedis } from '@tidemark/state';
import { ServerHandle, startRedis } from './support/servers';

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

describe('RedisDedupStore', () => {
  it('decides exactly like the in-memory reference, batch after batch (property)', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.record({ id: fc.integer({ min: 0, max: 12 }), seq: fc.integer({ min: 1, max: 20 }), mark: fc.boolean() }), { maxLength: 10 }), {
          maxLength: 8,
        }),
        async (batches) => {
          const prefix = `t${run++}:`;
          const real = new RedisDedupStore(client, 60_000, prefix);
          const ref = new InMemoryDedupStore();
          for (const batch of batches) {
            const items = batch.map((b) => ({ id: `id-${b.id}`, seq: b.seq }));
            expect(await real.claim(items)).toEqual(await ref.claim(items));
            const marked = items.filter((_, i) => batch[i].mark);
            await real.markForwarded(marked);
            await ref.markForwarded(marked);
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it('sets the TTL on claims and marks', async () => {
    const store = new RedisDedupStore(client, 5_000, 'ttl:');
    await store.claim([{ id: 'a', seq: 1 }]);
    expect(await client.pttl('ttl:a')).toBeGreaterThan(4_000);
    await store.markForwarded([{ id: 'a', seq: 1 }]);
    expect(await client.get('ttl:a')).toBe('f1');
    expect(await client.pttl('ttl:a')).toBeGreaterThan(4_000);
  });
});
