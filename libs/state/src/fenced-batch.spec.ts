import { InMemoryFencedWriter, StateOp } from './fenced-batch';

describe('InMemoryFencedWriter', () => {
  it('applies a batch and its sequence together, and refuses a stale fence without writing', async () => {
    const w = new InMemoryFencedWriter();
    const ops = [{ op: 'hincrby' as const, key: 'win', field: 'count', by: '2' }];
    expect(await w.apply({ key: 'p0', expectedSeq: 0, newSeq: 10, fields: { maxTs: '5' } }, ops)).toEqual({ status: 'applied' });
    expect(await w.apply({ key: 'p0', expectedSeq: 0, newSeq: 10 }, ops)).toEqual({ status: 'conflict', lastSeq: 10 });
    expect(w.hashes.get('win')!.get('count')).toBe('2');
    expect(w.hashes.get('p0')).toEqual(new Map([['lastSeq', '10'], ['maxTs', '5']]));
  });

  it('keeps big fixed-point sums exact', async () => {
    const w = new InMemoryFencedWriter();
    await w.apply({ key: 'p', expectedSeq: 0, newSeq: 1 }, [
      { op: 'hincrby', key: 'k', field: 'sum', by: '9007199254740993' },
      { op: 'hincrby', key: 'k', field: 'sum', by: '1' },
    ]);
    expect(w.hashes.get('k')!.get('sum')).toBe('9007199254740994');
  });

  it('keeps min and max', async () => {
    const w = new InMemoryFencedWriter();
    await w.apply({ key: 'p', expectedSeq: 0, newSeq: 1 }, [
      { op: 'hmax', key: 'k', field: 'max', value: 3 },
      { op: 'hmax', key: 'k', field: 'max', value: 1 },
      { op: 'hmin', key: 'k', field: 'min', value: 3 },
      { op: 'hmin', key: 'k', field: 'min', value: -1 },
    ]);
    expect(w.hashes.get('k')).toEqual(new Map([['max', '3'], ['min', '-1']]));
  });
});

describe('InMemoryFencedWriter guard', () => {
  it('refuses a batch whose guard value has reached the bound, writing nothing', async () => {
    const w = new InMemoryFencedWriter();
    w.strings.set('wm', '1000');
    const ops = [{ op: 'hincrby' as const, key: 'win', field: 'count', by: '1' }];
    expect(await w.apply({ key: 'p', expectedSeq: 0, newSeq: 1, guard: { key: 'wm', below: 1000 } }, ops)).toEqual({ status: 'guarded', value: 1000 });
    expect(w.hashes.get('win')).toBeUndefined();
    expect(await w.apply({ key: 'p', expectedSeq: 0, newSeq: 1, guard: { key: 'wm', below: 1001 } }, ops)).toEqual({ status: 'applied' });
    expect(await w.apply({ key: 'q', expectedSeq: 0, newSeq: 1, guard: { key: 'absent', below: 0 } }, ops)).toEqual({ status: 'applied' });
  });
});

describe('InMemoryFencedWriter merge and join ops', () => {
  const fence = { key: 'p', expectedSeq: 0, newSeq: 1 };

  it('merges a hash into another field by field and deletes the source', async () => {
    const w = new InMemoryFencedWriter();
    w.hashes.set('s', new Map([['count', '2'], ['max', '7'], ['min', '1'], ['other', '4']]));
    w.hashes.set('d', new Map([['count', '3'], ['max', '5'], ['min', '2']]));
    await w.apply(fence, [{ op: 'hmerge', src: 's', dst: 'd', fields: { count: 'sum', max: 'max', min: 'min' } }]);
    expect(w.hashes.get('d')).toEqual(new Map([['count', '5'], ['max', '7'], ['min', '1']]));
    expect(w.hashes.has('s')).toBe(false);
  });

  it('applies `others` to unnamed fields, and does nothing for an absent source', async () => {
    const w = new InMemoryFencedWriter();
    w.hashes.set('s', new Map([['sess1', '2'], ['sess2', '0']]));
    w.hashes.set('d', new Map([['sess1', '1'], ['sess2', '3']]));
    await w.apply(fence, [
      { op: 'hmerge', src: 's', dst: 'd', fields: {}, others: 'max' },
      { op: 'hmerge', src: 'gone', dst: 'd', fields: {}, others: 'sum' },
    ]);
    expect(w.hashes.get('d')).toEqual(new Map([['sess1', '2'], ['sess2', '3']]));
  });

  it('unions sorted sets and HyperLogLogs', async () => {
    const w = new InMemoryFencedWriter();
    await w.apply(fence, [
      { op: 'zincrby', key: 'zs', member: 'a', by: 2 },
      { op: 'zincrby', key: 'zd', member: 'a', by: 1 },
      { op: 'zincrby', key: 'zd', member: 'b', by: 1 },
      { op: 'zmerge', src: 'zs', dst: 'zd' },
      { op: 'pfadd', key: 'hs', members: ['u1', 'u2'] },
      { op: 'pfadd', key: 'hd', members: ['u2', 'u3'] },
      { op: 'pfmerge', src: 'hs', dst: 'hd' },
    ]);
    expect(w.zsets.get('zd')).toEqual(new Map([['a', 3], ['b', 1]]));
    expect(w.zsets.has('zs')).toBe(false);
    expect(w.hll.get('hd')).toEqual(new Set(['u1', 'u2', 'u3']));
    expect(w.hll.has('hs')).toBe(false);
  });

  it('moves a due time only earlier with zadd lt, only later with gt', async () => {
    const w = new InMemoryFencedWriter();
    await w.apply(fence, [
      { op: 'zadd', key: 'due', member: 'k', score: 50, only: 'lt' },
      { op: 'zadd', key: 'due', member: 'k', score: 70, only: 'lt' },
      { op: 'zadd', key: 'due', member: 'k', score: 40, only: 'lt' },
      { op: 'zadd', key: 'purge', member: 'k', score: 50, only: 'gt' },
      { op: 'zadd', key: 'purge', member: 'k', score: 30, only: 'gt' },
    ]);
    expect(w.zsets.get('due')!.get('k')).toBe(40);
    expect(w.zsets.get('purge')!.get('k')).toBe(50);
  });

  it('keeps the earliest record (by ts, then id)', async () => {
    const w = new InMemoryFencedWriter();
    await w.apply(fence, [
      { op: 'hearliest', key: 'j', ts: 10, id: 'b', values: { amount: '5' } },
      { op: 'hearliest', key: 'j', ts: 12, id: 'a', values: { amount: '6' } },
      { op: 'hearliest', key: 'j', ts: 10, id: 'a', values: { amount: '7' } },
    ]);
    expect(w.hashes.get('j')).toEqual(new Map([['amount', '7'], ['ts', '10'], ['id', 'a']]));
  });

  it('removes members, fields and keys', async () => {
    const w = new InMemoryFencedWriter();
    await w.apply(fence, [
      { op: 'zadd', key: 'i', member: 'a', score: 1 },
      { op: 'zadd', key: 'i', member: 'b', score: 2 },
      { op: 'zrem', key: 'i', member: 'a' },
      { op: 'hset', key: 'h', field: 'x', value: '1' },
      { op: 'hset', key: 'h', field: 'y', value: '1' },
      { op: 'hdel', key: 'h', field: 'x' },
      { op: 'hset', key: 'gone', field: 'x', value: '1' },
      { op: 'del', key: 'gone' },
    ]);
    expect(w.zsets.get('i')).toEqual(new Map([['b', 2]]));
    expect(w.hashes.get('h')).toEqual(new Map([['y', '1']]));
    expect(w.hashes.has('gone')).toBe(false);
  });
});

describe('InMemoryFencedWriter: refuses a batch it could only apply in part, writing nothing', () => {
  async function refused(w: InMemoryFencedWriter, ops: StateOp[], fields?: Record<string, string>) {
    const before = JSON.stringify([[...w.hashes].map(([k, v]) => [k, [...v]]), [...w.zsets].map(([k, v]) => [k, [...v]])]);
    await expect(w.apply({ key: 'p', expectedSeq: await w.lastSeq('p'), newSeq: 99, fields }, ops)).rejects.toThrow(/^refused: /);
    expect(JSON.stringify([[...w.hashes].map(([k, v]) => [k, [...v]]), [...w.zsets].map(([k, v]) => [k, [...v]])])).toBe(before);
  }

  it('a key that already holds another type (an order `Z:r` landing on order `Z`s payments, unencoded)', async () => {
    const w = new InMemoryFencedWriter();
    await w.apply({ key: 'p', expectedSeq: 0, newSeq: 1 }, [{ op: 'zadd', key: 'j:Z:r', member: '1', score: 1 }]);
    await refused(w, [
      { op: 'hincrby', key: 'win', field: 'count', by: '1' },
      { op: 'hearliest', key: 'j:Z:r', ts: 5, id: 'e', values: { fields: '{}' } },
    ]);
    expect(await w.lastSeq('p')).toBe(1);
  });

  it('a batch naming one key with two types', async () => {
    await refused(new InMemoryFencedWriter(), [
      { op: 'hincrby', key: 'k', field: 'count', by: '1' },
      { op: 'zincrby', key: 'k', member: 'm', by: 1 },
    ]);
  });

  it('a string that is not well-formed Unicode (it cannot travel through JSON into Lua), in an op or a field', async () => {
    await refused(new InMemoryFencedWriter(), [{ op: 'hincrby', key: 'k', field: 'count', by: '1' }, { op: 'pfadd', key: 'k:hll', members: ['ok', '\ud800'] }]);
    await refused(new InMemoryFencedWriter(), [{ op: 'hincrby', key: 'k:\udc00', field: 'count', by: '1' }]);
    await refused(new InMemoryFencedWriter(), [{ op: 'hincrby', key: 'k', field: 'count', by: '1' }], { maxTs: '\ud800' });
  });

  it('numbers that do not parse, and an increment that would overflow int64', async () => {
    await refused(new InMemoryFencedWriter(), [{ op: 'hincrby', key: 'k', field: 'c', by: '1.5' }]);
    await refused(new InMemoryFencedWriter(), [{ op: 'hmax', key: 'k', field: 'c', value: NaN }]);
    await refused(new InMemoryFencedWriter(), [{ op: 'zadd', key: 'z', member: 'm', score: Infinity }]);
    await refused(new InMemoryFencedWriter(), [{ op: 'pexpire', key: 'z', ms: NaN }]);
    const w = new InMemoryFencedWriter();
    await w.apply({ key: 'p', expectedSeq: 0, newSeq: 1 }, [{ op: 'hincrby', key: 'k', field: 'c', by: '9000000000000000000' }]);
    await refused(w, [{ op: 'hincrby', key: 'k', field: 'c', by: '300000000000000000' }]);
  });

  it('keeps accepting what the aggregation writes: types agree per key, del and pexpire take any type', async () => {
    const w = new InMemoryFencedWriter();
    const ops: StateOp[] = [
      { op: 'hincrby', key: 'w', field: '_u', by: '1' },
      { op: 'pfadd', key: 'w:hll', members: ['a'] },
      { op: 'pexpire', key: 'w:hll', ms: 10 },
      { op: 'zincrby', key: 'w:z', member: 'a', by: 1 },
      { op: 'del', key: 'w:z' },
      { op: 'hmerge', src: 'v', dst: 'w', fields: { _u: 'sum' } },
    ];
    expect(await w.apply({ key: 'p', expectedSeq: 0, newSeq: 1 }, ops)).toEqual({ status: 'applied' });
    expect(await w.apply({ key: 'p', expectedSeq: 1, newSeq: 2 }, ops)).toEqual({ status: 'applied' });
  });
});
