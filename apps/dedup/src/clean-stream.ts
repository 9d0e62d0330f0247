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
    // A message stored before frames has no raw sequence: nothing is known to be forwarded by this version.
    const raw = Number(last.header?.get(headers.rawSeq) || 0);
    return { rawSeq: Number.isSafeInteger(raw) ? raw : 0, cleanSeq: last.seq };
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
