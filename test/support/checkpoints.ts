import type { PartitionCheckpoint } from '@tidemark/streaming';
import { emptyCheckpoint } from '../../libs/streaming/src/testing/checkpoints';

/** A small aggregation checkpoint (one `orders` cell, sequence 0 → 5) for the store-level specs; `over` replaces fields. */
export const orderCheckpoint = (over: Partial<PartitionCheckpoint> = {}): PartitionCheckpoint =>
  emptyCheckpoint({ seq: 5, maxTs: 1000, lastEventAt: 1, cells: [{ metric: 'orders', pane: 0, key: 'all', from: null, value: '{"count":1}', firstEnd: 60_000 }], ...over });
