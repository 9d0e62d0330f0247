/**
 * Long-horizon de-duplication by event id (docs/semantics.md "Exactly-once: dedup").
 *
 * Each id is claimed with the raw stream sequence of the message carrying it. The stored value is
 * `<seq>` once claimed and `f<seq>` once its forward to the clean stream was acknowledged. For a message
 * (id, seq) the decision is:
 *   nothing stored              → claim it, forward it              (`first`)
 *   `<seq>` (same sequence)     → a redelivery of the first occurrence whose forward may not have
 *                                 happened: forward it again         (`retry`) — the clean stream's
 *                                 Nats-Msg-Id window absorbs a forward that did happen
 *   `f<seq>` (same sequence)    → a redelivery of a first occurrence already forwarded: skip (`forwarded`)
 *   anything with another seq   → a true duplicate: drop it           (`duplicate`)
 * Pure; the Redis store runs the same decision in one Lua script per batch.
 */

export type DedupDecision = 'first' | 'retry' | 'forwarded' | 'duplicate';

export interface DedupItem {
  id: string;
  seq: number;
}

export function classify(stored: string | null, seq: number): DedupDecision {
  if (stored === null) return 'first';
  if (stored === String(seq)) return 'retry';
  if (stored === `f${seq}`) return 'forwarded';
  return 'duplicate';
}

/** Forward the message to the clean stream? */
export function shouldForward(d: DedupDecision): boolean {
  return d === 'first' || d === 'retry';
}

export interface DedupStore {
  /** Decides every item in order (a later item sees an earlier item's claim) and claims the first ones. */
  claim(items: DedupItem[]): Promise<DedupDecision[]>;
  /** Marks items as forwarded (after the clean stream acknowledged them). */
  markForwarded(items: DedupItem[]): Promise<void>;
}

/** The same store in memory, for unit tests and as the reference for the Redis one. */
export class InMemoryDedupStore implements DedupStore {
  readonly values = new Map<string, string>();

  async claim(items: DedupItem[]): Promise<DedupDecision[]> {
    return items.map(({ id, seq }) => {
      const d = classify(this.values.get(id) ?? null, seq);
      if (d === 'first') this.values.set(id, String(seq));
      return d;
    });
  }

  async markForwarded(items: DedupItem[]): Promise<void> {
    for (const { id, seq } of items) this.values.set(id, `f${seq}`);
  }
}
