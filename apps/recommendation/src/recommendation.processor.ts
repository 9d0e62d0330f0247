/**
 * The recommendation service's work on one batch of one clean partition (docs/semantics.md "Exactly-once:
 * the common protocol"), the same way as aggregation's:
 *   1. decode; an undecodable message is dead-lettered (it can never succeed);
 *   2. keep the events after the partition's lastSeq (a redelivered batch may overlap what was applied);
 *   3. read the windows of the visits they touch, plan the ops (libs/recommend);
 *   4. one Lua call applies every op and the partition's new lastSeq, atomically — unless lastSeq moved
 *      (`conflict`: another writer, or a stale cache): then nothing is written and the batch is computed again;
 *   5. then the transport acks.
 * Visits are routed by sessionId, so a visit's window is only ever written by its partition's one consumer:
 * reading it before the atomic write is safe. Users and products span partitions, but every op on them is an
 * increment, a max or an add, so batches of different partitions commute (up to top-N trimming).
 */
import { decodeFrames, type DeadLetterRequest } from '@tidemark/jetstream';
import { RecParams, RecStore, planEvents, sessionsOf } from '@tidemark/recommend';

export type RecsBatchOutcome =
  | { kind: 'applied'; events: number; interactions: number; deadLetters: DeadLetterRequest[] }
  | { kind: 'replayed'; events: number; deadLetters: DeadLetterRequest[] }
  | { kind: 'retry'; reason: string };

export class RecommendationProcessor {
  private readonly lastSeq = new Map<number, number>();

  constructor(
    private readonly store: RecStore,
    private readonly params: RecParams,
  ) {}

  async process(batch: readonly { seq: number; data: Uint8Array }[], partition: number): Promise<RecsBatchOutcome> {
    let lastSeq = this.lastSeq.get(partition);
    if (lastSeq === undefined) {
      lastSeq = await this.store.lastSeq(partition);
      this.lastSeq.set(partition, lastSeq);
    }
    const decoded = decodeFrames(batch);
    const deadLetters = decoded.deadLetters;
    const after = lastSeq;
    const events = decoded.events.filter((e) => e.seq > after).map((e) => e.event);
    const batchLastSeq = batch.length ? batch[batch.length - 1].seq : lastSeq;
    if (batchLastSeq <= lastSeq) return { kind: 'replayed', events: decoded.count, deadLetters };
    const plan = planEvents(events, await this.store.sessions(sessionsOf(events)), this.params);
    const r = await this.store.apply({ partition, expectedSeq: lastSeq, newSeq: batchLastSeq }, plan.ops);
    if (r.status === 'conflict') {
      this.lastSeq.set(partition, r.lastSeq);
      return { kind: 'retry', reason: `partition ${partition}: lastSeq is ${r.lastSeq}, expected ${lastSeq}` };
    }
    this.lastSeq.set(partition, batchLastSeq);
    return { kind: 'applied', events: events.length, interactions: plan.interactions, deadLetters };
  }
}
