/**
 * Test harness (like Flink's KeyedOneInputStreamOperatorTestHarness): drive the operator with elements,
 * batches, watermarks and processing time — no broker, no clock — then read the output.
 *
 *   const h = new StreamingTestHarness();            // the 13 default metrics
 *   h.processElement(event).processWatermark(60_000);
 *   h.results;  h.lateOutput;  h.query('orders');
 *
 * Processing time starts at 0 and only moves with setProcessingTime, so nothing is idle unless a test says so.
 */
import type { TidemarkEvent } from '@tidemark/contracts';
import type { LateEvent } from './late-event';
import type { MetricSet } from './metrics/compile';
import type { MetricDefinition } from './metrics/metric-definitions';
import { byWindow, OperatorOutput, QueryOptions, StreamingOperator, WindowResult } from './operator';
import type { InvalidEvent, SequencedEvent, StreamingOptions } from './pre-aggregate';

export interface HarnessOptions extends StreamingOptions {
  /** Partition of elements when none is given (default "0"). */
  partition?: string | number;
}

export class StreamingTestHarness {
  readonly operator: StreamingOperator;
  /** Every fired result, in order. */
  readonly results: WindowResult[] = [];
  /** Every late event, in order. */
  readonly lateOutput: LateEvent[] = [];
  readonly invalid: InvalidEvent[] = [];
  readonly skipped: Record<string, number> = {};
  private now = 0;
  private readonly partition: string | number;

  constructor(metrics?: readonly MetricDefinition[] | MetricSet, options: HarnessOptions = {}) {
    this.operator = new StreamingOperator(metrics, options);
    this.partition = options.partition ?? '0';
  }

  get watermark(): number | null {
    return this.operator.watermark;
  }

  get processingTime(): number {
    return this.now;
  }

  processElement(event: TidemarkEvent, opts: { partition?: string | number; seq?: number } = {}): this {
    return this.collect(this.operator.processElement(event, { partition: opts.partition ?? this.partition, now: this.now }, opts.seq));
  }

  processElements(events: readonly TidemarkEvent[], opts: { partition?: string | number } = {}): this {
    for (const e of events) this.processElement(e, opts);
    return this;
  }

  processBatch(events: readonly (TidemarkEvent | SequencedEvent)[], opts: { partition?: string | number } = {}): this {
    return this.collect(this.operator.processBatch(events, { partition: opts.partition ?? this.partition, now: this.now }));
  }

  processWatermark(watermark: number): this {
    return this.collect(this.operator.processWatermark(watermark));
  }

  /** Moves processing time (never backwards) and lets idleness / wall-clock advance act. */
  setProcessingTime(now: number): this {
    this.now = Math.max(this.now, now);
    return this.collect(this.operator.advanceProcessingTime(this.now));
  }

  query(metric: string, opts?: QueryOptions): WindowResult[] {
    return this.operator.query(metric, opts);
  }

  /** Fired results of one metric (optionally one key). */
  resultsOf(metric: string, key?: string): WindowResult[] {
    return this.results.filter((r) => r.metric === metric && (key === undefined || r.key === key));
  }

  /** The last fired version of every window of a metric, sorted by window then key. */
  latest(metric: string): WindowResult[] {
    const last = new Map<string, WindowResult>();
    for (const r of this.resultsOf(metric)) last.set(`${r.key}\u0000${r.windowStart}\u0000${r.windowEnd}`, r);
    return [...last.values()].sort(byWindow);
  }

  lateOf(metric: string): LateEvent[] {
    return this.lateOutput.filter((l) => l.metric === metric);
  }

  clearOutput(): this {
    this.results.length = 0;
    this.lateOutput.length = 0;
    this.invalid.length = 0;
    for (const k of Object.keys(this.skipped)) delete this.skipped[k];
    return this;
  }

  private collect(o: OperatorOutput): this {
    this.results.push(...o.results);
    this.lateOutput.push(...o.late);
    this.invalid.push(...o.invalid);
    for (const [m, n] of Object.entries(o.skipped)) this.skipped[m] = (this.skipped[m] ?? 0) + n;
    return this;
  }
}
