/**
 * The alerting checkpoint (apps/alerting/src/alert-store.ts) on a real Redis: fenced on the stored sequence,
 * all or nothing, and refused before its first write when a key holds another type.
 */
import type Redis from 'ioredis';
import type { AlertRule, FingerprintState } from '@tidemark/alerting';
import { loadConfig } from '@tidemark/config';
import { connectRedis } from '@tidemark/state';
import { AlertStore, Commit, KEYS, OutboxEntry } from '../apps/alerting/src/alert-store';
import { ServerHandle, startRedis } from './support/servers';

jest.setTimeout(60_000);

let redis: ServerHandle;
let client: Redis;
let store: AlertStore;

beforeAll(async () => {
  redis = await startRedis();
  client = await connectRedis(redis.url, 'alerting-store-test');
  store = new AlertStore(client, loadConfig({}));
});

afterAll(async () => {
  client?.disconnect();
  await redis?.dispose();
});

beforeEach(() => client.flushall());

const state = (fp: string, n: number) => ({ fingerprint: fp, rule: 'r', labels: {}, notified: n, alert: null }) as unknown as FingerprintState;
const rule = (id: string) => ({ id, kind: 'threshold', severity: 'warning', metric: 'gmv', op: '>', value: 1 }) as unknown as AlertRule;
const entry = (id: string, seq: number) => ({ id, seq, notification: { id }, nats: { done: false, attempts: 0, nextAt: 0 }, webhooks: {} }) as unknown as OutboxEntry;
const commit = (over: Partial<Commit>): Commit => ({
  expectedSeq: 0,
  expectedEpoch: 0,
  lastSeq: 0,
  clock: null,
  outboxSeq: 0,
  changed: [],
  removed: [],
  outbox: [],
  rulesPut: [],
  rulesDeleted: [],
  ...over,
});

describe('AlertStore.commit', () => {
  it('writes states, outbox, rules and the sequence together; loads them back', async () => {
    expect(await store.commit(commit({ lastSeq: 7, clock: 60_000, outboxSeq: 2, changed: [state('a', 1), state('b', 0)], outbox: [entry('k1', 1), entry('k2', 2)], rulesPut: [rule('r1'), rule('r2')] }))).toEqual({ status: 'ok' });
    expect(await store.commit(commit({ expectedSeq: 7, expectedEpoch: 1, lastSeq: 9, clock: 120_000, outboxSeq: 2, removed: ['b'], rulesDeleted: ['r2'] }))).toEqual({ status: 'ok' });
    const loaded = await store.load();
    expect(loaded).toMatchObject({ lastSeq: 9, epoch: 2, outboxSeq: 2, snapshot: { clock: 120_000 } });
    expect(loaded.snapshot.states.map((s) => s.fingerprint)).toEqual(['a']);
    expect(loaded.rules.map((r) => r.id)).toEqual(['r1']);
    expect(loaded.outbox.map((e) => e.id)).toEqual(['k1', 'k2']);
  });

  it('refuses a writer that expects another sequence (a zombie instance), writing nothing', async () => {
    await store.commit(commit({ lastSeq: 5 }));
    expect(await store.commit(commit({ expectedSeq: 3, lastSeq: 8, changed: [state('z', 1)], outbox: [entry('kz', 1)], rulesPut: [rule('rz')] }))).toEqual({ status: 'conflict', lastSeq: 5 });
    expect(await client.exists(KEYS.state, KEYS.outbox, KEYS.rules)).toBe(0);
    expect(await client.hget(KEYS.meta, 'lastSeq')).toBe('5');
  });

  it('is fenced by the epoch too: a rule change keeps the sequence, and a writer that missed one (a failover lost it) is refused', async () => {
    await store.commit(commit({ lastSeq: 5 }));
    expect(await store.commit(commit({ expectedSeq: 5, expectedEpoch: 1, lastSeq: 5, rulesPut: [rule('r1')] }))).toEqual({ status: 'ok' });
    // memory restored from before the rule change expects epoch 1
    expect(await store.commit(commit({ expectedSeq: 5, expectedEpoch: 1, lastSeq: 6, rulesDeleted: ['r1'], changed: [state('z', 1)] }))).toEqual({ status: 'conflict', lastSeq: 5 });
    expect((await store.load()).rules.map((r) => r.id)).toEqual(['r1']);
    expect(await client.exists(KEYS.state)).toBe(0);
  });

  it('a key of another type is refused before the first write: nothing of the checkpoint lands', async () => {
    await client.set(KEYS.rules, 'not a hash');
    await expect(store.commit(commit({ lastSeq: 4, changed: [state('a', 1)], rulesPut: [rule('r1')] }))).rejects.toThrow(/refused: .*another type/);
    expect(await client.exists(KEYS.state)).toBe(0);
    expect(await client.hget(KEYS.meta, 'lastSeq')).toBe(null);
  });
});
