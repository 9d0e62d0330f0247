/**
 * The one-time key migration at start (docs/scale-out.md "Key migration"), on one redis-server as an existing
 * standalone deployment has it: keys of the layout before the hash tags are RENAMEd to their tagged names when
 * the new name does not exist yet, values and TTLs kept; run again, nothing moves; a new key is never
 * overwritten. (Dedup and the aggregation's firer keys: dedup-store and aggregation-store specs; on a Redis
 * Cluster, across slots: redis-cluster-stores.)
 */
import type Redis from 'ioredis';
import { DEFAULT_RULES } from '@tidemark/alerting';
import { loadConfig } from '@tidemark/config';
import { DEFAULT_PARAMS } from '@tidemark/recommend';
import { connectRedis, moveKeys } from '@tidemark/state';
import { AlertStore, KEYS, LEGACY_KEYS } from '../apps/alerting/src/alert-store';
import { RedisRecStore } from '../apps/recommendation/src/redis-rec.store';
import { ServerHandle, startRedis } from './support/servers';

// Against a real redis-server: seconds on a slow or busy machine, where Jest's default 5 s is too tight (it cut a recs-store test in CI).
jest.setTimeout(60_000);

let server: ServerHandle;
let client: Redis;

beforeAll(async () => {
  server = await startRedis();
  client = await connectRedis(server.url, 'test');
});

afterAll(async () => {
  await client?.quit();
  await server?.dispose();
});

beforeEach(() => client.flushdb());

it('alerting: its keys move under {a}: rules, meta, the seeded marker and the failed list intact', async () => {
  const rule = { ...DEFAULT_RULES[0], id: 'kept' };
  await client.hset(LEGACY_KEYS.rules, rule.id, JSON.stringify(rule));
  await client.set(LEGACY_KEYS.seeded, '1');
  await client.hset(LEGACY_KEYS.meta, { lastSeq: '41', outboxSeq: '3', clock: '5000' });
  await client.rpush(LEGACY_KEYS.failed, 'a', 'b');
  const store = new AlertStore(client, loadConfig({}));
  expect(await store.migrateLegacyKeys()).toBe(4);
  expect(await store.migrateLegacyKeys()).toBe(0);
  const loaded = await store.load();
  expect(loaded.rules).toEqual([rule]);
  expect([loaded.lastSeq, loaded.outboxSeq, loaded.snapshot.clock]).toEqual([41, 3, 5000]);
  expect(await client.lrange(KEYS.failed, 0, -1)).toEqual(['a', 'b']);
  // Seeded already: the marker moved too, so deleted defaults stay deleted.
  expect(await store.seedOnce(DEFAULT_RULES)).toBe(false);
  expect((await client.keys('alerting:*')).sort()).toEqual([KEYS.failed, KEYS.meta, KEYS.rules, KEYS.seeded].sort());
});

it('recommendation: a fence before the hash tag moves to its tagged name (the checkpoint after it is fenced by it)', async () => {
  const store = new RedisRecStore(client, { params: DEFAULT_PARAMS, sessionTtlMs: 60_000, userTtlMs: 1e12, itemTtlMs: 1e12, prefix: 'r:', partitions: 4 });
  await client.hset('r:part:2', 'lastSeq', '77');
  expect(await store.migrateLegacyKeys()).toBe(1);
  expect(await store.migrateLegacyKeys()).toBe(0);
  expect(await client.hget('r:{p2}:part', 'lastSeq')).toBe('77');
  expect(await store.lastSeq(2)).toBe(77);
});

it('moveKeys keeps TTLs and never overwrites an existing new key', async () => {
  await client.set('old:a', '1', 'PX', 60_000);
  await client.set('old:b', '2');
  await client.set('new:b', 'already');
  expect(await moveKeys(client, [{ from: 'old:a', to: 'new:a' }, { from: 'old:b', to: 'new:b' }, { from: 'old:none', to: 'new:none' }])).toBe(1);
  expect(await client.get('new:a')).toBe('1');
  expect(await client.pttl('new:a')).toBeGreaterThan(50_000);
  expect([await client.get('new:b'), await client.get('old:b')]).toEqual(['already', '2']);
  expect(await client.exists('new:none')).toBe(0);
});
