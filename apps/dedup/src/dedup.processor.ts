/**
 * The dedup service's work on one batch of one raw partition, in stream order (docs/semantics.md "Exactly-once:
 * dedup"): claim every id with its raw sequence (one Lua call), forward first occurrences to
 * `events.clean.<p>` with `Nats-Msg-Id` = event id and wait for every ack, mark them forwarded, and only
 * then let the transport ack the batch. A message that cannot be decoded is dead-lettered, never dropped.
 * Any failure of Redis or NATS throws: nothing of the batch is acked and it comes again whole.
 */
import { subjects } from '@tidemark/contracts';
import { DedupDecision, DedupItem, DedupStore, shouldForward } from '@tidemark/state';

export interface RawMessage {
  seq: number;
  partition: number;
  data: Uint8Array;
}

export interface CleanPublisher {
  publishBatch(items: { subject: string; data: Uint8Array; msgId: string }[]): Promise<unknown[]>;
}

export interface DedupBatchResult {
  forwarded: number;
  duplicates: number;
  /** Messages to dead-letter, with the reason. */
  poison: { seq: number; reason: string }[];
  decisions: DedupDecision[];
}

export function decodeId(data: Uint8Array): string | { error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch (e) {
    return { error: `not JSON: ${(e as Error).message}` };
  }
  const id = (parsed as { id?: unknown } | null)?.id;
  if (typeof id !== 'string' || id.length === 0) return { error: 'event has no string id' };
  return id;
}

export class DedupProcessor {
  constructor(
    private readonly store: DedupStore,
    private readonly publisher: CleanPublisher,
  ) {}

  async process(batch: RawMessage[]): Promise<DedupBatchResult> {
    const items: (DedupItem & { msg: RawMessage })[] = [];
    const poison: { seq: number; reason: string }[] = [];
    for (const msg of batch) {
      const id = decodeId(msg.data);
      if (typeof id === 'string') items.push({ id, seq: msg.seq, msg });
      else poison.push({ seq: msg.seq, reason: id.error });
    }
    const decisions = await this.store.claim(items.map(({ id, seq }) => ({ id, seq })));
    const toForward = items.filter((_, i) => shouldForward(decisions[i]));
    if (toForward.length > 0) {
      await this.publisher.publishBatch(toForward.map((i) => ({ subject: subjects.clean(i.msg.partition), data: i.msg.data, msgId: i.id })));
      await this.store.markForwarded(toForward.map(({ id, seq }) => ({ id, seq })));
    }
    const duplicates = decisions.filter((d) => d === 'duplicate').length;
    return { forwarded: toForward.length, duplicates, poison, decisions };
  }
}
