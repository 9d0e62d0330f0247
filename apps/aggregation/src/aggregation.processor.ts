/**
 * The aggregation service's work on one batch of one clean partition (docs/semantics.md "Exactly-once:
 * aggregation"):
 *   1. decode; undecodable or timeless events are dead-lettered (they can never succeed);
 *   2. pre-aggregate the events after the partition's lastSeq into per-window deltas, deciding lateness with
 *      the operator watermark built from every partition's committed state (libs/streaming PreAggregator);
 *   3. publish late events to events.late.<metric> (Nats-Msg-Id = event id|metric: idempotent; lateness
 *      only grows with the watermark, so a retried batch never un-lates an event);
 *   4. one Lua call applies every delta, the partition's new lastSeq and watermark state, atomically — unless
 *      another writer moved lastSeq (`conflict`) or the operator watermark passed a touched window's lateness
 *      deadline meanwhile (`guarded`, its decisions are stale): then nothing is written and the batch is
 *      retried at once with fresh state;
 *   5. then the transport acks.
 */
import { decodeFrames, type ConsumedMessage, type DeadLetterRequest } from '@tidemark/jetstream';
import { subjects } from '@tidemark/contracts';
import type { FencedWriter, StateOp } from '@tidemark/state';
import type { PreAggregateResult, PreAggregator, SequencedEvent, WatermarkState } from '@tidemark/streaming';
import { joinDeltaOps, joinLatenessDeadline } from './join-store';
import { KEYS, SessionSpan, deltaOps, sessionDeltaOps } from './window-store';

/** Reads the open sessions of (metric, key) pairs: one list per pair, in order (one round trip). */
export type SessionReader = (pairs: readonly { metric: string; key: string }[]) => Promise<SessionSpan[][]>;

export interface LatePublisher {
  publishBatch(items: { subject: string; data: Uint8Array; msgId: string }[]): Promise<unknown[]>;
}

export type AggregationOutcome =
  | { kind: 'applied'; events: number; late: number; deltas: number; deadLetters: DeadLetterRequest[]; watermarkMoved: boolean }
  | { kind: 'replayed'; events: number; deadLetters: DeadLetterRequest[] }
  | { kind: 'retry'; reason: string };

/** How many window ids the processor remembers as indexed and due before it starts over. */
const KNOWN_WINDOWS_MAX = 200_000;

export class AggregationProcessor {
  private readonly lastSeq = new Map<number, number>();
  /**
   * Aligned windows this process has written with their bookkeeping (index, due entry, TTL). A later delta
   * to one of them that the watermark has not reached yet (so it cannot have fired and left the due set)
   * skips the bookkeeping; the apply's guard then also refuses the batch if the watermark reached such a
   * window's end meanwhile.
   */
  private readonly known = new Set<string>();
  /**
   * The open sessions of the keys this process wrote last, as its last applied batch left them. Only this
   * partition's writer changes them (the fence), and the firer only purges sessions past their lateness,
   * which every batch leaves out anyway; dropped on a conflict (another writer) and when it grows large.
   */
  private readonly sessions = new Map<string, SessionSpan[]>();

  constructor(
    private readonly writer: FencedWriter,
    private readonly publisher: LatePublisher,
    private readonly pre: PreAggregator,
    private readonly watermarkState: () => Promise<WatermarkState>,
    private readonly stateTtlMs: number,
    private readonly readSessions: SessionReader,
  ) {}

  async process(batch: readonly Pick<ConsumedMessage, 'seq' | 'data'>[], partition: number, now: number): Promise<AggregationOutcome> {
    const fenceKey = KEYS.partition(partition);
    let lastSeq = this.lastSeq.get(partition);
    if (lastSeq === undefined) {
      lastSeq = await this.writer.lastSeq(fenceKey);
      this.lastSeq.set(partition, lastSeq);
    }
    // Frames: every event of a frame shares its sequence, so a frame is applied whole or skipped whole.
    const decoded = decodeFrames(batch);
    const deadLetters = decoded.deadLetters;
    const events = decoded.events as SequencedEvent[];
    const batchLastSeq = batch.length ? batch[batch.length - 1].seq : lastSeq;
    const state = await this.watermarkState();
    const r = this.pre.run({ partition, now, events, watermark: state, afterSeq: lastSeq });
    for (const inv of r.invalid) {
      if (inv.seq === null) continue;
      const data = inv.index === undefined ? undefined : Buffer.from(JSON.stringify(inv.event) ?? 'null');
      deadLetters.push({ seq: inv.seq, reason: inv.error, ...(inv.index === undefined ? {} : { index: inv.index, data }) });
    }
    if (batchLastSeq <= lastSeq) return { kind: 'replayed', events: decoded.count, deadLetters };

    if (r.late.length > 0) {
      await this.publisher.publishBatch(
        r.late.map((l) => ({
          subject: subjects.late(l.metric),
          msgId: `${l.event.id}|${l.metric}`,
          data: Buffer.from(JSON.stringify({ metric: l.metric, event: l.event, windows: l.windows, watermark: l.watermark, reason: l.reason })),
        })),
      );
    }

    const { ops, deadline, fresh, sessions } = await this.stateOps(r, state.watermark);
    const mine = r.watermark.partitions[String(partition)];
    const fields: Record<string, string> = {};
    if (mine) {
      fields.maxTs = String(mine.maxTs);
      fields.lastEventAt = String(mine.lastActiveAt);
    }
    const result = await this.writer.apply(
      { key: fenceKey, expectedSeq: lastSeq, newSeq: batchLastSeq, fields, guard: deadline === Infinity ? undefined : { key: KEYS.watermark, below: deadline } },
      ops,
    );
    if (result.status === 'conflict') {
      this.lastSeq.set(partition, result.lastSeq);
      this.sessions.clear();
      return { kind: 'retry', reason: `partition ${partition}: lastSeq is ${result.lastSeq}, expected ${lastSeq}` };
    }
    if (result.status === 'guarded') return { kind: 'retry', reason: `partition ${partition}: the watermark moved to ${result.value} meanwhile` };
    this.lastSeq.set(partition, batchLastSeq);
    if (this.known.size + fresh.length > KNOWN_WINDOWS_MAX) this.known.clear();
    for (const id of fresh) this.known.add(id);
    if (this.sessions.size + sessions.size > KNOWN_WINDOWS_MAX) this.sessions.clear();
    for (const [id, open] of sessions) this.sessions.set(id, open);
    // Whether the operator watermark may now be ahead of the stored one (the firer raises it and fires).
    const watermarkMoved = r.operatorWatermark !== null && (state.watermark === null || r.operatorWatermark > state.watermark);
    return { kind: 'applied', events: r.processed, late: r.late.length, deltas: r.deltas.length, deadLetters, watermarkMoved };
  }

  /**
   * Every delta of the batch as state ops, and the earliest lateness deadline they depend on (the guard).
   * Session deltas are merged with the key's open sessions (read first; the fence makes this partition's
   * writer the only one to change them meanwhile); a session already past its allowed lateness at
   * `watermark` is closed and not merged.
   */
  private async stateOps(
    r: PreAggregateResult,
    watermark: number | null,
  ): Promise<{ ops: StateOp[]; deadline: number; fresh: string[]; sessions: Map<string, SessionSpan[]> }> {
    const L = this.pre.allowedLatenessMs;
    const ops: StateOp[] = [];
    const fresh: string[] = [];
    let deadline = Infinity;
    const sessionDeltas = new Map<string, PreAggregateResult['deltas']>();
    for (const d of r.deltas) {
      deadline = Math.min(deadline, d.windowEnd + L);
      if (d.windowType === 'session') {
        const id = JSON.stringify([d.metric, d.key]);
        const list = sessionDeltas.get(id);
        if (list) list.push(d);
        else sessionDeltas.set(id, [d]);
        continue;
      }
      const w = { metric: d.metric, key: d.key, start: d.windowStart, end: d.windowEnd };
      const skip = this.known.has(d.id) && watermark !== null && d.windowEnd > watermark;
      if (skip) deadline = Math.min(deadline, d.windowEnd);
      else fresh.push(d.id);
      for (const op of deltaOps(w, d.delta, this.stateTtlMs, !skip)) ops.push(op);
    }
    const sessions = new Map<string, SessionSpan[]>();
    if (sessionDeltas.size > 0) {
      const unknown = [...sessionDeltas.keys()].filter((id) => !this.sessions.has(id));
      const read = await this.readSessions(unknown.map((id) => ({ metric: sessionDeltas.get(id)![0].metric, key: sessionDeltas.get(id)![0].key })));
      const stored = new Map(unknown.map((id, i) => [id, read[i]]));
      for (const [id, group] of sessionDeltas) {
        const open = (stored.get(id) ?? this.sessions.get(id)!).filter((s) => watermark === null || s.end + L > watermark);
        sessions.set(id, open);
        const metric = this.pre.metrics.get(group[0].metric);
        if (!metric || metric.kind !== 'window') throw new Error(`session delta for unknown metric ${group[0].metric}`);
        for (const d of group.sort((a, b) => a.windowStart - b.windowStart)) {
          const out = sessionDeltaOps({ metric: d.metric, key: d.key, start: d.windowStart, end: d.windowEnd }, metric.aggregation.kind, d.delta, open, this.stateTtlMs);
          ops.push(...out.ops);
          for (const m of out.merged) deadline = Math.min(deadline, m.end + L);
        }
      }
    }
    for (const j of r.joins) {
      const metric = this.pre.metrics.get(j.metric);
      if (!metric || metric.kind !== 'join') throw new Error(`join delta for unknown metric ${j.metric}`);
      ops.push(...joinDeltaOps(j.metric, j.key, j.delta, metric.join, L, this.stateTtlMs));
      deadline = Math.min(deadline, joinLatenessDeadline(j.delta, metric.join, L));
    }
    return { ops, deadline, fresh, sessions };
  }

  /** Forget cached sequences (e.g. after losing ownership of a partition). */
  reset(): void {
    this.lastSeq.clear();
    this.known.clear();
    this.sessions.clear();
  }
}
