import { emptyCheckpoint } from '../testing/checkpoints';
import { MemoryAggregationStore, REFIRE_ALL, type CellWrite, type PartitionCheckpoint } from './store';

/** Checkpoints in these tests go one sequence at a time, so the epoch expected is the sequence expected. */
const cp = (over: Partial<PartitionCheckpoint> = {}): PartitionCheckpoint => emptyCheckpoint({ maxTs: 10, lastEventAt: 5, expectedEpoch: over.expectedSeq ?? 0, ...over });
const cell = (over: Partial<CellWrite> = {}): CellWrite => ({ metric: 'm', pane: 0, key: 'k', from: null, value: '{"count":1}', firstEnd: 60, ...over });

describe('MemoryAggregationStore: checkpoints', () => {
  it('a checkpoint is fenced by the expected sequence: a conflict writes nothing', async () => {
    const s = new MemoryAggregationStore();
    expect(await s.checkpoint(0, cp({ cells: [cell()] }))).toEqual({ status: 'ok', watermark: null, horizon: null });
    const before = await s.restore(0);
    expect(before).toMatchObject({ seq: 1, maxTs: 10, lastEventAt: 5 });
    // a stale writer (expects 0, the store is at 1) and one from the future (expects 2)
    for (const expectedSeq of [0, 2]) {
      expect(await s.checkpoint(0, cp({ expectedSeq, seq: 9, maxTs: 99, cells: [cell({ key: 'other' })], outbox: '[1]', sessions: [{ metric: 'v', key: 'k', value: '[]' }] }))).toEqual({ status: 'conflict', seq: 1 });
    }
    expect(await s.restore(0)).toEqual(before);
    expect(await s.checkpoint(0, cp({ expectedSeq: 1, seq: 3 }))).toMatchObject({ status: 'ok' });
    expect((await s.restore(0)).seq).toBe(3);
    // partitions are fenced separately
    expect(await s.checkpoint(1, cp())).toMatchObject({ status: 'ok' });
  });

  it('is fenced by the epoch too: a checkpoint without new events keeps the sequence, and one lost in a failover is a conflict', async () => {
    const s = new MemoryAggregationStore();
    await s.checkpoint(0, cp({ cells: [cell()] }));
    expect(await s.checkpoint(0, cp({ expectedSeq: 1, seq: 1, expectedEpoch: 1 }))).toMatchObject({ status: 'ok' });
    expect((await s.restore(0)).epoch).toBe(2);
    // a writer that missed the second one (its memory restored from before it) expects epoch 1
    expect(await s.checkpoint(0, cp({ expectedSeq: 1, seq: 2, expectedEpoch: 1, cells: [cell({ key: 'x' })] }))).toEqual({ status: 'conflict', seq: 1 });
    expect((await s.restore(0)).cells.map((c) => c.key)).toEqual(['k']);
  });

  it('restore returns copies, and an empty partition as sequence 0', async () => {
    const s = new MemoryAggregationStore();
    expect(await s.restore(4)).toEqual({ seq: 0, epoch: 0, maxTs: null, lastEventAt: 0, watermark: null, horizon: null, outbox: '', cells: [], sessions: [], joins: [] });
    await s.checkpoint(0, cp({ cells: [cell()], sessions: [{ metric: 'v', key: 'a', value: '[1]' }], joins: [{ metric: 'j', key: 'o', value: '{}', due: 5 }], outbox: '[{"x":1}]' }));
    const snap = await s.restore(0);
    expect(snap).toEqual({
      seq: 1,
      epoch: 1,
      maxTs: 10,
      lastEventAt: 5,
      watermark: null,
      horizon: null,
      outbox: '[{"x":1}]',
      cells: [{ metric: 'm', pane: 0, key: 'k', from: null, value: '{"count":1}' }],
      sessions: [{ metric: 'v', key: 'a', value: '[1]' }],
      joins: [{ metric: 'j', key: 'o', value: '{}' }],
    });
    snap.cells[0].value = 'changed';
    expect((await s.restore(0)).cells[0].value).toBe('{"count":1}');
  });

  it('cells are keyed by (metric, pane, from, key); null deletes; dropPanes drops one pane of one metric', async () => {
    const s = new MemoryAggregationStore();
    await s.checkpoint(
      0,
      cp({
        cells: [cell(), cell({ from: 30 }), cell({ pane: 60 }), cell({ metric: 'n' }), cell({ key: 'k2', value: '{"count":2}' })],
      }),
    );
    expect(await s.panes(0, 'm', 0, 61)).toEqual([0, 60]);
    expect(await s.panes(0, 'm', 0, 60)).toEqual([0]); // [from, to)
    expect(await s.panes(0, 'm', 1, 1_000)).toEqual([60]);
    expect((await s.readPanes(0, 'm', [0])).map((c) => `${c.key}|${c.from}`).sort()).toEqual(['k2|null', 'k|30', 'k|null']);
    expect((await s.readKeyCells(0, 'm', 'k', [0, 60])).map((c) => `${c.pane}|${c.from}`).sort()).toEqual(['0|30', '0|null', '60|null']);
    await s.checkpoint(0, cp({ expectedSeq: 1, seq: 2, cells: [cell({ from: 30, value: null })], dropPanes: [{ metric: 'm', pane: 60 }] }));
    expect((await s.restore(0)).cells.map((c) => `${c.metric}|${c.pane}|${c.from}|${c.key}`).sort()).toEqual(['m|0|null|k', 'm|0|null|k2', 'n|0|null|k']);
    expect(await s.readPanes(1, 'm', [0])).toEqual([]);
  });

  it('sessions and session results: written, replaced and deleted', async () => {
    const s = new MemoryAggregationStore();
    const r = { metric: 'v', key: 'a', windowStart: 0, windowEnd: 10, value: '{"version":1}' };
    await s.checkpoint(0, cp({ sessions: [{ metric: 'v', key: 'a', value: '[1]' }], results: [r] }));
    expect(s.partitionResults(0)).toEqual([r]);
    await s.checkpoint(0, cp({ expectedSeq: 1, seq: 2, sessions: [{ metric: 'v', key: 'a', value: null }], results: [{ ...r, value: null }, { ...r, windowEnd: 20 }] }));
    expect(s.partitionResults(0)).toEqual([{ ...r, windowEnd: 20 }]);
    expect((await s.restore(0)).sessions).toEqual([]);
  });
});

describe('MemoryAggregationStore: re-fire marks', () => {
  it('marks a written cell only when its first window end <= the stored watermark', async () => {
    const s = new MemoryAggregationStore();
    await s.checkpoint(0, cp({ cells: [cell({ firstEnd: -1e12 })] }));
    expect(await s.marks(0)).toEqual([]); // no watermark yet: nothing fired, nothing to re-fire
    await s.raiseWatermark(2, 60);
    await s.checkpoint(0, cp({ expectedSeq: 1, seq: 2, cells: [cell({ firstEnd: 60 }), cell({ key: 'b', firstEnd: 61 }), cell({ key: 'c', firstEnd: 59, from: 10 })] }));
    expect((await s.marks(0)).map((m) => `${m.key}|${m.from}`).sort()).toEqual(['c|10', 'k|null']);
    expect(await s.marks(1)).toEqual([]);
    // the watermark a partition's marks are decided with is the one raised into it
    await s.checkpoint(1, cp({ cells: [cell({ firstEnd: 60 })] }));
    expect(await s.marks(1)).toHaveLength(1);
  });

  it('clearMarks clears only marks still at the token read (a cell re-marked since stays)', async () => {
    const s = new MemoryAggregationStore();
    await s.raiseWatermark(1, 100);
    await s.checkpoint(0, cp({ cells: [cell(), cell({ key: 'b' })] }));
    const read = await s.marks(0);
    expect(read).toHaveLength(2);
    // the partition changes cell k again before the firer is done with what it read
    await s.checkpoint(0, cp({ expectedSeq: 1, seq: 2, cells: [cell({ value: '{"count":2}' })] }));
    await s.clearMarks(0, read);
    expect((await s.marks(0)).map((m) => m.key)).toEqual(['k']);
    await s.clearMarks(0, await s.marks(0));
    expect(await s.marks(0)).toEqual([]);
    await s.clearMarks(0, read); // clearing again is harmless
    expect(await s.marks(0)).toEqual([]);
  });
});

describe('MemoryAggregationStore: join due entries', () => {
  const join = (key: string, due: number | null, value: string | null = '{"l":null,"r":[]}') => ({ metric: 'j', key, value, due });

  it('keeps the earliest due time per key; a deleted join drops its entry', async () => {
    const s = new MemoryAggregationStore();
    await s.checkpoint(0, cp({ joins: [join('a', 100), join('b', 50), join('c', null)] }));
    await s.checkpoint(0, cp({ expectedSeq: 1, seq: 2, joins: [join('a', 120), join('b', 40)] }));
    expect(await s.joinDue(0, 1_000)).toEqual([
      { metric: 'j', key: 'a', due: 100 },
      { metric: 'j', key: 'b', due: 40 },
    ]);
    expect(await s.joinDue(0, 99)).toEqual([{ metric: 'j', key: 'b', due: 40 }]);
    await s.checkpoint(0, cp({ expectedSeq: 2, seq: 3, joins: [join('b', 10, null)] }));
    expect(await s.joinDue(0, 1_000)).toEqual([{ metric: 'j', key: 'a', due: 100 }]);
    expect(await s.readJoins(0, 'j', ['a', 'b', 'c', 'x'])).toEqual(['{"l":null,"r":[]}', null, '{"l":null,"r":[]}', null]);
  });

  it('settleJoinDue clears or moves an entry only if it is still at the time read', async () => {
    const s = new MemoryAggregationStore();
    await s.checkpoint(0, cp({ joins: [join('a', 100), join('b', 100), join('c', 100)] }));
    const read = await s.joinDue(0, 100);
    // meanwhile a partition checkpoint brings an earlier due for a and c
    await s.checkpoint(0, cp({ expectedSeq: 1, seq: 2, joins: [join('a', 90), join('c', 80)] }));
    await s.settleJoinDue(
      0,
      read.filter((d) => d.key !== 'c'),
      read.filter((d) => d.key === 'c').map((entry) => ({ entry, due: 500 })),
    );
    expect(await s.joinDue(0, 1_000)).toEqual([
      { metric: 'j', key: 'a', due: 90 },
      { metric: 'j', key: 'c', due: 80 },
    ]);
    const again = await s.joinDue(0, 1_000);
    await s.settleJoinDue(0, [], [{ entry: again[1], due: 500 }]);
    expect(await s.joinDue(0, 1_000)).toEqual([
      { metric: 'j', key: 'a', due: 90 },
      { metric: 'j', key: 'c', due: 500 },
    ]);
    await s.settleJoinDue(0, [again[0]], []);
    expect(await s.joinDue(0, 1_000)).toEqual([{ metric: 'j', key: 'c', due: 500 }]);
  });
});

describe('MemoryAggregationStore: watermark, horizon and the firer state', () => {
  it('raiseWatermark and raiseHorizon never lower, globally or in a partition; checkpoints return them', async () => {
    const s = new MemoryAggregationStore();
    expect([await s.watermark(), await s.horizon()]).toEqual([null, null]);
    await s.raiseWatermark(2, 100);
    await s.raiseWatermark(2, 50);
    await s.raiseHorizon(2, 40);
    await s.raiseHorizon(2, 30);
    expect([await s.watermark(), await s.horizon()]).toEqual([100, 40]);
    expect(await s.checkpoint(1, cp())).toEqual({ status: 'ok', watermark: 100, horizon: 40 });
    expect(await s.restore(0)).toMatchObject({ watermark: 100, horizon: 40 });
    // a partition past the count raised so far takes the global values when first seen
    expect(await s.restore(5)).toMatchObject({ watermark: 100, horizon: 40 });
    await s.raiseWatermark(1, 200); // only partition 0 (and the global one)
    expect(await s.watermark()).toBe(200);
    await s.checkpoint(0, cp());
    const records = async () => (await s.statuses(2)).map((x) => [x.partition, x.watermark]);
    expect(await records()).toEqual([
      [0, 200],
      [1, 100],
    ]);
    // restore takes at least the global horizon when its record is behind (a failover lost raises)
    expect((await s.restore(1)).watermark).toBe(100);
    await s.raiseHorizon(1, 180);
    expect(await s.restore(1)).toMatchObject({ watermark: 180, horizon: 180 });
    await s.raiseWatermark(2, 150); // raises 1 to 150, leaves 0 at 200
    expect([...(await records()), await s.watermark()]).toEqual([[0, 200], [1, 150], 200]);
  });

  it('a raise finds a partition record below the watermark raised before (a failover lost writes): refireFrom, cleared if unchanged', async () => {
    const s = new MemoryAggregationStore();
    await s.raiseWatermark(3, 100);
    for (const p of [0, 1, 2]) await s.checkpoint(p, cp());
    const before = s.copyPartition(1);
    const none = s.copyPartition(2);
    await s.raiseWatermark(3, 200, 100);
    expect((await s.statuses(3)).map((x) => x.refireFrom)).toEqual([null, null, null]);
    s.resetPartition(1, before); // back to 100
    s.resetPartition(2, { ...(none as object), watermark: null }); // a record without any watermark
    await s.raiseWatermark(3, 300, 200);
    expect((await s.statuses(3)).map((x) => [x.watermark, x.refireFrom])).toEqual([
      [300, null],
      [300, 100],
      [300, REFIRE_ALL],
    ]);
    // lost again before the firer repaired it: the lower of the two stays
    s.resetPartition(1, { ...(s.copyPartition(1) as object), watermark: 250 });
    await s.raiseWatermark(3, 400, 300);
    expect((await s.statuses(3))[1].refireFrom).toBe(100);
    s.resetPartition(1, { ...(s.copyPartition(1) as object), watermark: 50 });
    await s.raiseWatermark(3, 400, 400);
    expect((await s.statuses(3))[1].refireFrom).toBe(50);
    await s.clearRefireFrom(1, 100); // not the value read: kept
    expect((await s.statuses(3))[1].refireFrom).toBe(50);
    await s.clearRefireFrom(1, 50);
    await s.clearRefireFrom(2, REFIRE_ALL);
    expect((await s.statuses(3)).map((x) => x.refireFrom)).toEqual([null, null, null]);
    // without `expected` (a raise by hand, e.g. an external watermark) nothing is noted
    s.resetPartition(1, before);
    await s.raiseWatermark(3, 500);
    expect((await s.statuses(3))[1].refireFrom).toBeNull();
  });

  it('statuses list partitions with a checkpoint, with the watermark they decided with', async () => {
    const s = new MemoryAggregationStore();
    await s.checkpoint(1, cp({ seenWatermark: 7, maxTs: 20, lastEventAt: 3 }));
    await s.restore(0); // touched, no checkpoint
    expect(await s.statuses(3)).toEqual([{ partition: 1, seq: 1, maxTs: 20, lastEventAt: 3, seenWatermark: 7, watermark: null, refireFrom: null }]);
    expect(await s.statuses(1)).toEqual([]);
  });

  it('firedThrough never lowers; results and emissions are written, read and purged', async () => {
    const s = new MemoryAggregationStore();
    expect(await s.firedThrough('m')).toBeNull();
    await s.setFiredThrough('m', 120);
    await s.setFiredThrough('m', 60);
    expect(await s.firedThrough('m')).toBe(120);
    const r = (key: string, windowStart: number, value: string | null = 'v') => ({ metric: 'm', key, windowStart, windowEnd: windowStart + 60, value });
    await s.writeResults([r('a', 0), r('a', 60), r('b', 0), { ...r('a', 0), metric: 'n' }]);
    expect(await s.readResults('m', [r('a', 0), r('a', 60), r('c', 0)])).toEqual(['v', 'v', null]);
    await s.writeResults([r('b', 0, null)]);
    expect(await s.readResults('m', [r('b', 0)])).toEqual([null]);
    await s.writeEmitted('m', [{ key: 'a', value: 'e' }]);
    expect(await s.readEmitted('m', ['a', 'z'])).toEqual(['e', null]);
    await s.purgeResults(['m'], 60);
    expect(await s.readResults('m', [r('a', 0), r('a', 60)])).toEqual([null, 'v']);
    expect(await s.readResults('n', [r('a', 0)])).toEqual(['v']); // another metric: kept
    expect(await s.readEmitted('m', ['a'])).toEqual([null]);
  });
});
