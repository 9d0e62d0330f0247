/**
 * Compiles validated metric definitions into what the pre-aggregator runs: the event types it reads, the
 * explode step, a key reader, an input reader for the aggregation, the aggregation and the window.
 *
 * Records that cannot be read are skipped for that metric and counted (never a crash): a missing or empty
 * key (e.g. an order item without categoryId for gmv_by_category), a missing or non-finite numeric value, a
 * value too large for exact fixed point, a missing member. An explode path that is not an array yields no
 * record (also counted as skipped).
 */
import { EVENT_TYPES, EventType, TidemarkEvent } from '@tidemark/contracts';
import { AlignedWindows } from '../assigners';
import {
  abandonmentAggregation,
  AnyAggregation,
  avgAggregation,
  countAggregation,
  distinctAggregation,
  FLAG_A,
  FLAG_B,
  funnelAggregation,
  maxAggregation,
  minAggregation,
  ratioAggregation,
  sumAggregation,
  topKAggregation,
} from '../aggregations';
import { parseDuration } from '../duration';
import { Accessor, compileFieldPath, keyString } from '../field-path';
import { MICRO_SCALE } from '../fixed-point';
import { aggregationTypes, AggregationSpec, MetricDefinition, validateMetricDefinitions } from './metric-definitions';

/** The key of metrics without a key path. */
export const ALL_KEY = 'all';

/** Reads a record's aggregation input; undefined = skip the record. */
export type InputReader = (event: TidemarkEvent, item: unknown) => unknown;

export interface CompiledJoin {
  readonly left: ReadonlySet<EventType>;
  readonly right: ReadonlySet<EventType>;
  readonly fields: readonly { readonly name: string; readonly get: Accessor }[];
  readonly lowerMs: number;
  readonly upperMs: number;
}

interface CompiledBase {
  /** Position in the metric set. */
  readonly index: number;
  readonly name: string;
  readonly definition: MetricDefinition;
  /** Event types read (null: every type). */
  readonly types: ReadonlySet<EventType> | null;
  /** Reads the late output instead of events. */
  readonly late: boolean;
  readonly explode: Accessor | null;
  /** Key reader; null: every record has the key "all". */
  readonly key: Accessor | null;
}

export interface CompiledWindowMetric extends CompiledBase {
  readonly kind: 'window';
  readonly aggregation: AnyAggregation;
  readonly input: InputReader;
  readonly window: { readonly type: 'aligned'; readonly assigner: AlignedWindows } | { readonly type: 'session'; readonly gapMs: number };
}

export interface CompiledJoinMetric extends CompiledBase {
  readonly kind: 'join';
  readonly join: CompiledJoin;
}

export type CompiledMetric = CompiledWindowMetric | CompiledJoinMetric;

/** The aggregation of a spec (join has none: see interval-join.ts). */
export function aggregationFor(spec: AggregationSpec): AnyAggregation {
  switch (spec.type) {
    case 'count':
      return countAggregation;
    case 'sum':
      return sumAggregation;
    case 'avg':
      return avgAggregation;
    case 'min':
      return minAggregation;
    case 'max':
      return maxAggregation;
    case 'distinct':
      return distinctAggregation();
    case 'topK':
      return topKAggregation(spec.k);
    case 'ratio':
      return ratioAggregation;
    case 'abandonment':
      return abandonmentAggregation;
    case 'funnel':
      return funnelAggregation(spec.stages.map((s) => s.name));
    case 'join':
      throw new Error('a join has no window aggregation');
    default:
      return assertNever(spec);
  }
}

function numberReader(paths: readonly string[]): (e: TidemarkEvent, item: unknown) => number | undefined {
  const getters = paths.map(compileFieldPath);
  if (getters.length === 1) {
    const [g] = getters;
    return (e, item) => {
      const v = g(e, item);
      return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
    };
  }
  return (e, item) => {
    let p = 1;
    for (const g of getters) {
      const v = g(e, item);
      if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
      p *= v;
    }
    return Number.isFinite(p) ? p : undefined;
  };
}

function flagsByType(a: readonly EventType[], b: readonly EventType[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of a) m.set(t, (m.get(t) ?? 0) | FLAG_A);
  for (const t of b) m.set(t, (m.get(t) ?? 0) | FLAG_B);
  return m;
}

function inputReader(def: MetricDefinition): InputReader {
  const spec = def.aggregation;
  const paths = def.value === undefined ? [] : Array.isArray(def.value) ? def.value : [def.value];
  switch (spec.type) {
    case 'count':
      return () => null;
    case 'sum':
    case 'avg': {
      const read = numberReader(paths);
      return (e, item) => {
        const v = read(e, item);
        if (v === undefined) return undefined;
        const m = Math.round(v * MICRO_SCALE);
        return Number.isSafeInteger(m) ? m || 0 : undefined;
      };
    }
    case 'min':
    case 'max':
      return numberReader(paths);
    case 'distinct':
    case 'topK': {
      const g = compileFieldPath(paths[0]);
      return (e, item) => keyString(g(e, item));
    }
    case 'funnel': {
      const g = compileFieldPath(paths[0]);
      const stageOf = new Map<string, number>();
      spec.stages.forEach((s, i) => s.types.forEach((t) => stageOf.set(t, Math.max(stageOf.get(t) ?? -1, i))));
      return (e, item) => {
        const stage = stageOf.get(e.type);
        const member = keyString(g(e, item));
        return stage === undefined || member === undefined ? undefined : { member, stage };
      };
    }
    case 'ratio': {
      const flags = flagsByType(spec.numerator, spec.denominator);
      return (e) => flags.get(e.type) ?? 0;
    }
    case 'abandonment': {
      const flags = flagsByType(spec.started, spec.completed);
      return (e) => flags.get(e.type) ?? 0;
    }
    case 'join':
      return () => undefined;
    default:
      return assertNever(spec);
  }
}

export function compileMetric(def: MetricDefinition, index: number): CompiledMetric {
  const declared = def.source?.types;
  const implied = aggregationTypes(def.aggregation);
  const typeList = declared ?? (implied.length > 0 ? implied : null);
  const base: CompiledBase = {
    index,
    name: def.name,
    definition: def,
    types: typeList === null ? null : new Set(typeList),
    late: def.source?.late === true,
    explode: def.source?.explode ? compileFieldPath(def.source.explode) : null,
    key: def.key === undefined ? null : compileFieldPath(def.key),
  };
  const w = def.window;
  if (def.aggregation.type === 'join') {
    if (w.type !== 'interval') throw new Error(`metric "${def.name}": a join needs an interval window`);
    const a = def.aggregation;
    return {
      ...base,
      kind: 'join',
      join: {
        left: new Set(a.left),
        right: new Set(a.right),
        fields: (a.fields ?? []).map((name) => ({ name, get: compileFieldPath(name) })),
        lowerMs: w.lower === undefined ? 0 : parseDuration(w.lower),
        upperMs: parseDuration(w.upper),
      },
    };
  }
  let window: CompiledWindowMetric['window'];
  if (w.type === 'tumbling') window = { type: 'aligned', assigner: new AlignedWindows(parseDuration(w.size), parseDuration(w.size), w.offset === undefined ? 0 : parseDuration(w.offset)) };
  else if (w.type === 'sliding') window = { type: 'aligned', assigner: new AlignedWindows(parseDuration(w.size), parseDuration(w.hop), w.offset === undefined ? 0 : parseDuration(w.offset)) };
  else if (w.type === 'session') window = { type: 'session', gapMs: parseDuration(w.gap) };
  else throw new Error(`metric "${def.name}": an interval window needs a join`);
  return { ...base, kind: 'window', aggregation: aggregationFor(def.aggregation), input: inputReader(def), window };
}

/** Compiled metrics, indexed by the event type they read. */
export class MetricSet {
  readonly metrics: readonly CompiledMetric[];
  /** Metrics reading the late output. */
  readonly lateMetrics: readonly CompiledMetric[];
  private readonly byType = new Map<string, CompiledMetric[]>();
  private readonly byName = new Map<string, CompiledMetric>();

  constructor(definitions: readonly MetricDefinition[]) {
    const defs = validateMetricDefinitions(definitions);
    this.metrics = defs.map(compileMetric);
    for (const t of EVENT_TYPES) this.byType.set(t, []);
    for (const m of this.metrics) {
      this.byName.set(m.name, m);
      if (m.late) continue;
      for (const t of EVENT_TYPES) if (m.types === null || m.types.has(t)) this.byType.get(t)!.push(m);
    }
    this.lateMetrics = this.metrics.filter((m) => m.late);
  }

  /** The (non-late) metrics reading events of this type, in definition order. */
  forType(type: string): readonly CompiledMetric[] {
    return this.byType.get(type) ?? [];
  }

  get(name: string): CompiledMetric | undefined {
    return this.byName.get(name);
  }

  get names(): string[] {
    return this.metrics.map((m) => m.name);
  }
}

function assertNever(x: never): never {
  throw new Error(`unexpected ${JSON.stringify(x)}`);
}
