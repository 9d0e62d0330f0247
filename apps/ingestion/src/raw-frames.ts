/**
 * How ingestion puts accepted events on events.raw.<p>: in frames (docs/architecture.md "Frames").
 *
 * - A request with several events gets frames of its own, one per partition it touches (more when a
 *   partition's events pass the frame limits), published at once. Their Nats-Msg-Id is a digest of the frame,
 *   so an exact retry of the request within the stream's duplicate window is recognised by JetStream and its
 *   events are answered `duplicate`.
 * - Single events (one-event HTTP or NATS requests, a TCP read holding one line) wait up to `lingerMs` per
 *   partition to share a frame with others; a frame that reaches its limits goes at once.
 * - A frame carries the `traceparent` header of the request that opened it, when that request sent one (one header
 *   a frame: a lingering frame shared by several requests keeps the first one's; docs/observability.md).
 * Every event's promise settles with its frame's PubAck: `accepted`, `duplicate` (the frame was a duplicate,
 * or the same id was already waiting in this partition's frame), or the publish error for exactly the events
 * of the frame that failed.
 */
import { createHash } from 'node:crypto';
import { FrameLimits, encodeFrame, entrySize, EMPTY_FRAME_SIZE, chunkFrames, headers, subjects, type FrameEntry, type PlannedEvent } from '@tidemark/contracts';

export type EventOutcome = 'accepted' | 'duplicate';

export interface FramePublisher {
  publish(subject: string, data: Uint8Array, options: { msgId: string; headers?: Record<string, string> }): Promise<{ duplicate: boolean }>;
}

interface Waiting extends FrameEntry {
  key: string;
  resolve: (o: EventOutcome) => void;
  reject: (e: unknown) => void;
}

interface Lingering {
  entries: Waiting[];
  bytes: number;
  ids: Map<string, Promise<EventOutcome>>;
  timer: NodeJS.Timeout | undefined;
  traceparent?: string;
}

export class RawFramePublisher {
  private readonly lingering = new Map<number, Lingering>();
  private frames = 0;

  constructor(
    private readonly publisher: FramePublisher,
    private readonly limits: FrameLimits,
    private readonly lingerMs: number,
    private readonly onFrame?: (events: number) => void,
  ) {}

  /** Frames published since start. */
  get published(): number {
    return this.frames;
  }

  /**
   * Publishes the events (already validated, without repeats of an id) and settles one promise per event,
   * in order. `linger` lets them wait to share a frame with other requests' events. `traceparent` (already
   * checked) goes on the frames this request opens.
   */
  submit(events: readonly PlannedEvent[], linger: boolean, traceparent?: string): Promise<EventOutcome>[] {
    return linger && this.lingerMs > 0 ? events.map((e) => this.add(e, traceparent)) : this.own(events, traceparent);
  }

  /** Publishes every lingering frame now (shutdown). */
  flushAll(): void {
    for (const p of [...this.lingering.keys()]) this.flush(p);
  }

  private own(events: readonly PlannedEvent[], traceparent: string | undefined): Promise<EventOutcome>[] {
    const out: Promise<EventOutcome>[] = new Array(events.length);
    const byPartition = new Map<number, (FrameEntry & { at: number })[]>();
    events.forEach((e, at) => {
      const list = byPartition.get(e.partition);
      const entry = { id: Buffer.from(e.event.id), body: e.data, at };
      if (list) list.push(entry);
      else byPartition.set(e.partition, [entry]);
    });
    for (const [partition, list] of byPartition) {
      for (const chunk of chunkFrames(list, this.limits)) {
        const ack = this.send(partition, chunk, traceparent);
        for (const c of chunk) out[c.at] = ack;
      }
    }
    return out;
  }

  private add(e: PlannedEvent, traceparent: string | undefined): Promise<EventOutcome> {
    let l = this.lingering.get(e.partition);
    if (!l) this.lingering.set(e.partition, (l = { entries: [], bytes: EMPTY_FRAME_SIZE, ids: new Map(), timer: undefined }));
    l.traceparent ??= traceparent;
    const same = l.ids.get(e.event.id);
    // The same id already waits in this frame: it is stored once; this one is its duplicate (or fails with it).
    if (same) return same.then(() => 'duplicate' as const);
    const id = Buffer.from(e.event.id);
    const size = entrySize(id.length, e.data.length);
    if (l.entries.length > 0 && (l.entries.length >= this.limits.maxEvents || l.bytes + size > this.limits.maxBytes)) {
      this.flush(e.partition);
      return this.add(e, traceparent);
    }
    const promise = new Promise<EventOutcome>((resolve, reject) => {
      l!.entries.push({ id, body: e.data, key: e.event.id, resolve, reject });
    });
    l.bytes += size;
    l.ids.set(e.event.id, promise);
    if (l.entries.length >= this.limits.maxEvents) this.flush(e.partition);
    else if (!l.timer) l.timer = setTimeout(() => this.flush(e.partition), this.lingerMs);
    return promise;
  }

  private flush(partition: number): void {
    const l = this.lingering.get(partition);
    if (!l) return;
    this.lingering.delete(partition);
    clearTimeout(l.timer);
    if (l.entries.length === 0) return;
    const ack = this.send(partition, l.entries, l.traceparent);
    ack.then(
      (o) => l.entries.forEach((w) => w.resolve(o)),
      (error) => l.entries.forEach((w) => w.reject(error)),
    );
  }

  private send(partition: number, entries: readonly FrameEntry[], traceparent: string | undefined): Promise<EventOutcome> {
    const frame = encodeFrame(entries);
    const msgId = createHash('sha256').update(frame).digest('base64url');
    this.frames++;
    this.onFrame?.(entries.length);
    const options = traceparent ? { msgId, headers: { [headers.traceparent]: traceparent } } : { msgId };
    return this.publisher.publish(subjects.raw(partition), frame, options).then((ack) => (ack.duplicate ? 'duplicate' : 'accepted'));
  }
}
