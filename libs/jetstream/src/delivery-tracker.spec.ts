import fc from 'fast-check';
import { DeliveryTracker, type Delivery } from './delivery-tracker';

const fresh = (over: Partial<Parameters<DeliveryTracker['reset']>[0]> = {}) => {
  const t = new DeliveryTracker();
  t.reset({ deliveredConsumerSeq: 0, deliveredStreamSeq: 0, ackFloorStreamSeq: 0, ...over });
  return t;
};

/** Deliveries of stream seqs `seqs` with delivery sequences from `firstDseq` on. */
const deliveries = (seqs: number[], firstDseq: number): Delivery[] => seqs.map((seq, i) => ({ seq, deliverySeq: firstDseq + i }));

describe('DeliveryTracker', () => {
  it('accepts batches that continue the delivery sequence with increasing stream sequences', () => {
    const t = fresh();
    expect(t.accept(deliveries([1, 3, 4], 1))).toBeUndefined();
    t.acked(4);
    expect(t.accept(deliveries([7, 9], 4))).toBeUndefined();
    expect(t.ackFloor).toBe(4);
  });

  it('rejects a delivery gap (a delivery we never saw) and records nothing then', () => {
    const t = fresh();
    expect(t.accept(deliveries([1, 2], 1))).toBeUndefined();
    expect(t.accept(deliveries([5], 4))).toMatch(/delivery sequence gap: expected 3, got 4/);
    expect(t.accept(deliveries([3], 3))).toBeUndefined();
  });

  it('rejects a stream sequence that goes back without a nak', () => {
    const t = fresh();
    expect(t.accept(deliveries([5, 6], 1))).toBeUndefined();
    expect(t.accept(deliveries([4], 3))).toMatch(/not increasing/);
  });

  it('after a nak, the same messages must come back first, in the same order', () => {
    const t = fresh();
    expect(t.accept(deliveries([1, 2, 3], 1))).toBeUndefined();
    t.naked([1, 2, 3]);
    expect(t.accept(deliveries([2, 3], 4))).toMatch(/redelivery out of order: expected stream seq 1, got 2/);
    expect(t.accept(deliveries([1, 2], 4))).toBeUndefined();
    expect(t.accept(deliveries([3, 4], 6))).toBeUndefined();
  });

  it('starts from the lower of delivered and ack floor (a server recovered with an inconsistent state)', () => {
    const t = fresh({ deliveredConsumerSeq: 600, deliveredStreamSeq: 760, ackFloorStreamSeq: 1071 });
    expect(t.accept(deliveries([761, 763], 601))).toBeUndefined();
  });

  it('property: a partition delivered in order, in any batch split, with naks and redeliveries, is always accepted', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 60 }), // gaps between stream seqs (other partitions)
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 30 }), // batch sizes
        fc.array(fc.boolean(), { maxLength: 30 }), // nak this batch?
        (gaps, sizes, naks) => {
          const seqs: number[] = [];
          let s = 0;
          for (const g of gaps) seqs.push((s += g));
          const t = fresh();
          let dseq = 1;
          let pos = 0;
          let i = 0;
          let nakedLength = 0;
          while (pos < seqs.length) {
            // A pull after a nak asks for at least as many as were nak'ed (the consumer pulls batchSize).
            const batch = seqs.slice(pos, pos + Math.max(nakedLength, sizes[i % sizes.length]));
            if (t.accept(deliveries(batch, dseq)) !== undefined) return false;
            dseq += batch.length;
            nakedLength = 0;
            if (naks[i] === true) {
              t.naked(batch);
              nakedLength = batch.length;
            } else {
              t.acked(batch[batch.length - 1]);
              pos += batch.length;
            }
            i++;
          }
          return true;
        },
      ),
    );
  });

  it('property: a batch that skips a delivery sequence is always refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 2, max: 10 }), (start, size, skip) => {
        const t = fresh({ deliveredConsumerSeq: start, ackFloorStreamSeq: start, deliveredStreamSeq: start });
        const batch = deliveries(
          Array.from({ length: size }, (_, i) => start + 1 + i),
          start + skip,
        );
        return t.accept(batch) !== undefined;
      }),
    );
  });
});
