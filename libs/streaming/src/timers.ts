/**
 * Event-time timers (Flink's InternalTimerService, reduced): register (time, value); when the watermark W
 * advances, every timer with time <= W is due, in (time, registration) order. A binary min-heap.
 */
export class TimerQueue<T> {
  private times: number[] = [];
  private seqs: number[] = [];
  private values: T[] = [];
  private seq = 0;

  get size(): number {
    return this.times.length;
  }

  register(time: number, value: T): void {
    this.times.push(time);
    this.seqs.push(this.seq++);
    this.values.push(value);
    this.up(this.times.length - 1);
  }

  /** Time of the earliest timer, or undefined. */
  peekTime(): number | undefined {
    return this.times[0];
  }

  /** Removes and returns the timers with time <= watermark, earliest first. */
  popDue(watermark: number | null): { time: number; value: T }[] {
    const out: { time: number; value: T }[] = [];
    if (watermark === null) return out;
    while (this.times.length > 0 && this.times[0] <= watermark) out.push(this.pop());
    return out;
  }

  /** Removes and returns the timers with time < bound (strictly), earliest first. */
  popBefore(bound: number): { time: number; value: T }[] {
    const out: { time: number; value: T }[] = [];
    while (this.times.length > 0 && this.times[0] < bound) out.push(this.pop());
    return out;
  }

  /** Every timer in (time, registration) order, without removing any. */
  toSortedArray(): { time: number; value: T }[] {
    return this.times
      .map((time, i) => ({ time, seq: this.seqs[i], value: this.values[i] }))
      .sort((a, b) => a.time - b.time || a.seq - b.seq)
      .map(({ time, value }) => ({ time, value }));
  }

  private pop(): { time: number; value: T } {
    const time = this.times[0];
    const value = this.values[0];
    const last = this.times.length - 1;
    this.swap(0, last);
    this.times.pop();
    this.seqs.pop();
    this.values.pop();
    this.down(0);
    return { time, value };
  }

  private less(i: number, j: number): boolean {
    return this.times[i] < this.times[j] || (this.times[i] === this.times[j] && this.seqs[i] < this.seqs[j]);
  }

  private swap(i: number, j: number): void {
    [this.times[i], this.times[j]] = [this.times[j], this.times[i]];
    [this.seqs[i], this.seqs[j]] = [this.seqs[j], this.seqs[i]];
    [this.values[i], this.values[j]] = [this.values[j], this.values[i]];
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const n = this.times.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}
