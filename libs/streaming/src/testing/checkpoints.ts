import type { PartitionCheckpoint } from '../partitioned/store';

/** An aggregation checkpoint with nothing in it (sequence 0 → 1, first epoch) for store tests; `over` replaces fields. */
export const emptyCheckpoint = (over: Partial<PartitionCheckpoint> = {}): PartitionCheckpoint => ({
  expectedSeq: 0,
  seq: 1,
  expectedEpoch: 0,
  maxTs: null,
  lastEventAt: 0,
  seenWatermark: null,
  cells: [],
  dropPanes: [],
  sessions: [],
  joins: [],
  results: [],
  outbox: '',
  ...over,
});
