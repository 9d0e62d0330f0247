import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { headers, streams, subjects } from '@tidemark/contracts';
import { JetStreamConnection, JetStreamPublisher } from '@tidemark/jetstream';
import type { CleanStream, ForwardedFloor } from './dedup-partition';

/** The clean stream as dedup sees it: its partitions' last frames, and fenced, idempotent publishes. */
export class JetStreamCleanStream implements CleanStream {
  private stored = 0;

  constructor(
    private readonly connection: JetStreamConnection,
    private readonly publisher: JetStreamPublisher,
    /** Fault injection (TIDEMARK_FAULT): kill -9 this process right after this many frames are stored. */
    private readonly killAfter?: number,
  ) {}

  async floor(partition: number): Promise<ForwardedFloor> {
    const jsm = await this.connection.jsm();
    let last;
    try {
      last = await jsm.streams.getMessage(streams.clean.name, { last_by_subj: subjects.clean(partition) });
    } catch (error) {
      if (/no message found|not found/i.test((error as Error).message)) return { rawSeq: 0, cleanSeq: 0 };
      throw error;
    }
    if (!last) return { rawSeq: 0, cleanSeq: 0 };
    const raw = rawSeqOf(last.header?.get(headers.rawSeq));
    // A message dedup did not forward (published by someone else, or before frames) has no raw sequence:
    // the floor is the raw sequence of the last one that has.
    return { rawSeq: raw ?? (await this.lastForwardedBefore(partition, last.seq)), cleanSeq: last.seq };
  }

  /**
   * Reads the partition's clean subject backwards in growing spans (headers only, one ordered consumer per
   * span) for the last message carrying a raw sequence before `before`; 0 when there is none. Only needed
   * when a foreign message ends the subject (the shipped NATS permissions let only dedup publish there).
   */
  private async lastForwardedBefore(partition: number, before: number): Promise<number> {
    const js = jetstream(this.connection.nc);
    for (let span = 4096; ; span *= 8) {
      const from = Math.max(1, before - span);
      const consumer = await js.consumers.get(streams.clean.name, {
        filter_subjects: subjects.clean(partition),
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: from,
        headers_only: true,
      });
      let found: number | undefined;
      try {
        for (;;) {
          const m = await consumer.next({ expires: 2000 });
          if (!m || m.seq >= before) break;
          found = rawSeqOf(m.headers?.get(headers.rawSeq)) ?? found;
        }
      } finally {
        await consumer.delete().catch(() => undefined);
      }
      if (found !== undefined) return found;
      if (from === 1) return 0;
    }
  }

  async publish(partition: number, frame: Buffer, msgId: string, rawSeq: number, expectedLastSeq: number, ingestedAt: number): Promise<number> {
    const ack = await this.publisher.publish(subjects.clean(partition), frame, {
      msgId,
      headers: { [headers.rawSeq]: String(rawSeq), [headers.ingestedAt]: String(ingestedAt) },
      expectedLastSubjectSequence: expectedLastSeq,
    });
    if (this.killAfter !== undefined && ++this.stored >= this.killAfter) process.kill(process.pid, 'SIGKILL');
    return ack.seq;
  }
}

function rawSeqOf(header: string | undefined): number | undefined {
  const n = header ? Number(header) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}
