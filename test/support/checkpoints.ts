import type { PartitionCheckpoint } from '@tidemark/streaming';

/** A small aggregation checkpoint (one `orders` cell, sequence 0 → 5) for the store-level specs; `over` replaces fields. */
export const orderCheckpoint = (over: Partial<PartitionCheckpoint> = {}): PartitionCheckpoint => ({
  expectedSeq: 0,
  seq: 5,
  expectedEpoch: 0,
  maxTs: 1000,
  lastEventAt: 1,
  seenWatermark: null,
  cells: [{ metric: 'orders', pane: 0, key: 'all', from: null, value: '{"count":1}', firstEnd: 60_000 }],
  dropPanes: [],
  sessions: [],
  joins: [],
  results: [],
  outbox: '',
  ...over,
});
