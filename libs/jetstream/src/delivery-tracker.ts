/**
 * The safety net of ack policy `all`: acking a message acks every earlier one, so a batch may be acked only
 * when every delivery since the last ack is in our hands and in stream order. A delivery can go missing
 * (a pull abandoned on a timeout or a reconnect, a crash of a previous owner); redeliveries after a nak must
 * come back in the order they were nak'ed. DeliveryTracker checks each pulled batch against what must come
 * next and says why not when it doesn't fit; the consumer then acks nothing, lets every pending message time
 * out (ack_wait), and starts again from the server's state (`reset`), which re-delivers them sorted.
 * Pure logic, no I/O.
 */

export interface ConsumerSnapshot {
  /** `delivered.consumer_seq`: the last delivery sequence handed out. */
  deliveredConsumerSeq: number;
  /** `delivered.stream_seq`: the highest stream sequence delivered. */
  deliveredStreamSeq: number;
  /** `ack_floor.stream_seq`. */
  ackFloorStreamSeq: number;
  /** `num_ack_pending`: delivered, not acked. */
  numAckPending: number;
}

export interface Delivery {
  seq: number;
  deliverySeq: number;
}

export class DeliveryTracker {
  private lastDeliverySeq = 0;
  private ackedSeq = 0;
  private lastSeq = 0;
  private fence: { upTo: number; remaining: number } | undefined;
  private expected: number[] = [];

  /** Starts from the server's view. Pending deliveries (not ours) must come back, sorted, before anything new. */
  reset(s: ConsumerSnapshot): void {
    this.lastDeliverySeq = s.deliveredConsumerSeq;
    this.ackedSeq = s.ackFloorStreamSeq;
    this.lastSeq = s.ackFloorStreamSeq;
    this.fence = s.numAckPending > 0 ? { upTo: s.deliveredStreamSeq, remaining: s.numAckPending } : undefined;
    this.expected = [];
  }

  /** The stream sequence last acknowledged. */
  get ackFloor(): number {
    return this.ackedSeq;
  }

  /** True while pending deliveries of before the last reset are still expected. */
  get fenced(): boolean {
    return this.fence !== undefined;
  }

  /**
   * Checks a freshly pulled batch. Returns undefined and records it when it continues exactly where we are;
   * otherwise returns the reason and records nothing.
   */
  accept(batch: readonly Delivery[]): string | undefined {
    let dseq = this.lastDeliverySeq;
    let last = this.lastSeq;
    let fence = this.fence ? { ...this.fence } : undefined;
    let exp = 0;
    for (const m of batch) {
      if (m.deliverySeq !== dseq + 1) return `delivery sequence gap: expected ${dseq + 1}, got ${m.deliverySeq} (stream seq ${m.seq})`;
      dseq = m.deliverySeq;
      if (m.seq <= last) return `stream sequence not increasing: ${m.seq} after ${last}`;
      last = m.seq;
      if (exp < this.expected.length) {
        if (m.seq !== this.expected[exp]) return `redelivery out of order: expected stream seq ${this.expected[exp]}, got ${m.seq}`;
        exp++;
      }
      if (fence) {
        if (m.seq > fence.upTo) return `new message ${m.seq} before ${fence.remaining} pending redelivery(ies) up to ${fence.upTo}`;
        fence.remaining--;
        if (fence.remaining <= 0) fence = undefined;
      }
    }
    this.lastDeliverySeq = dseq;
    this.lastSeq = last;
    this.fence = fence;
    this.expected = exp > 0 ? this.expected.slice(exp) : this.expected;
    return undefined;
  }

  /** Records an ack (policy all) of stream sequence `seq`. */
  acked(seq: number): void {
    if (seq > this.ackedSeq) this.ackedSeq = seq;
  }

  /** Records that `seqs` (in stream order) were nak'ed: they must be redelivered next, in this order. */
  naked(seqs: readonly number[]): void {
    this.expected = [...this.expected, ...seqs];
    this.lastSeq = this.ackedSeq;
  }
}
