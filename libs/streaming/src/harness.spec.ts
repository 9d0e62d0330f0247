import { StreamingTestHarness } from './harness';
import { MetricDefinition } from './metrics/metric-definitions';
import { view } from './testing/events';

const perProduct: MetricDefinition = { name: 'views', key: 'productId', source: { types: ['product_view'] }, aggregation: { type: 'count' }, window: { type: 'tumbling', size: '1m' } };

describe('StreamingTestHarness', () => {
  it('defaults to the 13 default metrics', () => {
    expect(new StreamingTestHarness().operator.metrics.names).toHaveLength(13);
  });

  it('drives elements, watermarks and processing time, and keeps every output', () => {
    const h = new StreamingTestHarness([perProduct], { maxOutOfOrdernessMs: 0, allowedLatenessMs: 60_000, partition: 'p7' });
    h.processElements([view(1, 'a'), view(2, 'b'), view(3, 'a')]);
    expect(h.operator.partitionWatermarks()).toEqual({ p7: 3 });
    h.processWatermark(60_000);
    h.processElement(view(4, 'a'), { seq: 12 });
    expect(h.resultsOf('views')).toHaveLength(3);
    expect(h.resultsOf('views', 'a').map((r) => [r.value, r.version])).toEqual([
      [2, 1],
      [3, 2],
    ]);
    expect(h.latest('views').map((r) => [r.key, r.value, r.version])).toEqual([
      ['a', 3, 2],
      ['b', 1, 1],
    ]);
    h.processWatermark(120_000).processElement(view(5, 'b'), { seq: 13 });
    expect(h.lateOf('views')).toMatchObject([{ seq: 13, partition: 'p7', event: { productId: 'b' } }]);
    expect(h.lateOf('other')).toEqual([]);
    h.setProcessingTime(50);
    h.setProcessingTime(10);
    expect(h.processingTime).toBe(50);
    expect(h.watermark).toBe(120_000);
  });
});
