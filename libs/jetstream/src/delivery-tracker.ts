/**
 * The safety net of ack policy `all`: acking a message acks every earlier one, so a batch may be acked only
 * when every delivery since the last ack is in our hands and in stream order. A delivery can go missing
 * (a pull abandoned on a timeout or a reconnect), a server restarted hard can come back with an older or
 * inconsistent consumer state, redeliveries after a nak must come back in the order they were nak'ed.
 * DeliveryTracker checks each pulled batch against what must come next and says why not when it doesn't
 * fit; the consumer then acks nothing and starts the consumer again from the server's ack floor (see
 * PartitionConsumer). Pure logic, no I/O.
 */

export interface ConsumerSnapshot {
  /** `delivered.consumer_seq`: the last delivery sequence handed out. */
  deliveredConsumerSeq: number;
  /** `delivered.stream_seq`: the highest stream sequence delivered. */
  deliveredStreamSeq: number;
  /** `ack_floor.stream_seq`. */
  ackFloorStreamSeq: number;
}

export interface Delivery {
  seq: number;
  deliverySeq: number;
}

export class DeliveryTracker {
  private lastDeliverySeq = 0;
  private ackedSeq = 0;
  private lastSeq = 0;
  private expected: number[] = [];

  /** Starts from the server's view of a consumer with nothing pending (no delivery outstanding). */
  reset(s: ConsumerSnapshot): void {
    this.lastDeliverySeq = s.deliveredConsumerSeq;
    const floor = Math.min(s.ackFloorStreamSeq, s.deliveredStreamSeq);
    this.ackedSeq = floor;
    this.lastSeq = floor;
    this.expected = [];
  }

  /** The stream sequence last acknowledged. */
  get ackFloor(): number {
    return this.ackedSeq;
  }

  /**
   * Checks a freshly pulled batch. Returns undefined and records it when it continues exactly where we are;
   * otherwise returns the reason and records nothing.
   */
  accept(batch: readonly Delivery[]): string | undefined {
    let dseq = this.lastDeliverySeq;
    let last = this.lastSeq;
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
    }
    this.lastDeliverySeq = dseq;
    this.lastSeq = last;
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
