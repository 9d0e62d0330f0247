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
