/**
 * One clean partition's recommendation state, driven by CheckpointedPartitions (libs/runtime checkpointed.ts;
 * docs/recommendations.md "Checkpoints"):
 *   restore     the partition's partials read from its last checkpoint; memory (changes not checkpointed,
 *               cached windows) dropped
 *   apply       the batch's interactions planned against the visits' windows (memory, else the checkpoint in
 *               Redis, read once per batch for the visits memory does not hold), straight into the partials
 *               (planInto into the store's RecWriter) — no write
 *   checkpoint  the fields changed since the last one, the visits' windows and the new sequence in one fenced
 *               Lua call (RecStore.checkpoint); the windows it wrote stay cached
 * Visits are routed by sessionId, so a visit's window is written by its partition alone: memory is always at
 * least as new as Redis for the visits it holds. Products, users and trending span partitions, but every
 * change to them is an increment, a max or an add, so checkpoints of different partitions commute (up to
 * top-N trimming).
 */
import type { DeadLetterRequest, FramedEvent } from '@tidemark/jetstream';
import { Interaction, RecParams, RecStore, RecWriter, SessionItem, planInto, pushInteractions } from '@tidemark/recommend';
import type { CheckpointResult, PartitionState } from '@tidemark/runtime';

export interface RecsPartitionOptions {
  /** Committed visit windows kept in memory per partition, the least recently touched dropped first (default 20,000). */
  windowCache?: number;
  /** Called after each written checkpoint (the fault hook, metrics). */
  onCheckpoint?: (partition: number, seq: number) => void;
}

export class RecsPartitionState implements PartitionState {
  /** Where the planner writes (the store's, taken at each restore). */
  private writer: RecWriter | undefined;
  /** Windows written by a checkpoint (or read from one), least recently touched first. */
  private readonly windows = new Map<string, SessionItem[]>();
  private readonly windowCache: number;

  constructor(
    private readonly store: RecStore,
    readonly partition: number,
    private readonly params: RecParams,
    private readonly options: RecsPartitionOptions = {},
  ) {
    this.windowCache = options.windowCache ?? 20_000;
  }

  async restore(): Promise<number> {
    this.writer = undefined;
    this.windows.clear();
    const seq = await this.store.restore(this.partition);
    this.writer = this.store.writer(this.partition);
    return seq;
  }

  async apply(events: FramedEvent[]): Promise<DeadLetterRequest[] | void> {
    const interactions: Interaction[] = [];
    for (const e of events) pushInteractions(e.event, interactions);
    if (interactions.length === 0) return;
    const writer = this.writer;
    if (!writer) throw new Error(`recommendation partition ${this.partition} is not restored`);
    const known = new Map<string, SessionItem[]>();
    const missing = new Set<string>();
    for (const x of interactions) {
      const id = x.sessionId;
      if (known.has(id) || missing.has(id)) continue;
      const w = writer.windows.get(id) ?? this.touch(id);
      if (w) known.set(id, w);
      else missing.add(id);
    }
    if (missing.size > 0) for (const [id, w] of await this.store.sessions([...missing])) known.set(id, w);
    planInto(interactions, known, this.params, writer);
  }

  async checkpoint(expectedSeq: number, seq: number, _now?: number, token?: number): Promise<CheckpointResult> {
    const written = this.writer?.windows;
    const r = await this.store.checkpoint({ partition: this.partition, expectedSeq, newSeq: seq, ...(token === undefined ? {} : { token }) });
    if (r.status !== 'ok') {
      this.writer = undefined; // dropped by the store: restored before the next batch
      return r;
    }
    for (const [id, w] of written ?? []) {
      this.windows.delete(id);
      this.windows.set(id, w);
    }
    while (this.windows.size > this.windowCache) this.windows.delete(this.windows.keys().next().value!);
    this.options.onCheckpoint?.(this.partition, seq);
    return { status: r.durable === false ? 'written' : 'ok' };
  }

  /** A committed window held in memory, moved to the most recently touched end. */
  private touch(id: string): SessionItem[] | undefined {
    const w = this.windows.get(id);
    if (w) {
      this.windows.delete(id);
      this.windows.set(id, w);
    }
    return w;
  }
}
