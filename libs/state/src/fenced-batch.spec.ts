import { InMemoryFencedWriter } from './fenced-batch';

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
