/**
 * Kind-dispatched delta helpers, for code that holds deltas of any metric (e.g. a service merging the deltas
 * of several batches before one write). `mergeDelta` and `applyDelta` need no metric parameters: top-K's k
 * and the funnel's stage names only matter for the result.
 */
import type { AggregateDelta } from './aggregation';
import { countAggregation } from './count';
import { distinctAggregation } from './distinct';
import { funnelAggregation } from './funnel';
import { maxAggregation, minAggregation } from './min-max';
import { abandonmentAggregation, ratioAggregation } from './ratio';
import { avgAggregation, sumAggregation } from './sum';
import { topKAggregation } from './top-k';
import type { AnyAggregation } from './aggregation';

const BY_KIND: Record<AggregateDelta['kind'], AnyAggregation> = {
  count: countAggregation,
  sum: sumAggregation,
  avg: avgAggregation,
  min: minAggregation,
  max: maxAggregation,
  distinct: distinctAggregation(),
  topK: topKAggregation(1),
  ratio: ratioAggregation,
  funnel: funnelAggregation(['stage']),
  abandonment: abandonmentAggregation,
};

/** Both deltas as one (pure). Throws when their kinds differ. */
export function mergeDelta<D extends AggregateDelta>(a: D, b: D): D {
  if (a.kind !== b.kind) throw new TypeError(`cannot merge a ${a.kind} delta with a ${b.kind} delta`);
  const agg = BY_KIND[a.kind];
  if (!agg) throw new TypeError(`unknown delta kind ${JSON.stringify(a.kind)}`);
  return agg.mergeDelta(a, b) as D;
}

/** Applies a delta to an accumulator of its kind (mutates and returns it). */
export function applyDelta<Acc>(acc: Acc, delta: AggregateDelta): Acc {
  const agg = BY_KIND[delta.kind];
  if (!agg) throw new TypeError(`unknown delta kind ${JSON.stringify(delta.kind)}`);
  return agg.applyDelta(acc, delta) as Acc;
}
