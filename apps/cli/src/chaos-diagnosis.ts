/**
 * What `tidemark chaos` says about events it lost (docs/scale-out.md "Chaos"): for ids accepted and missing
 * from the clean stream, the raw messages holding each and the place dedup's claim names.
 */
import { connectRedisClient, RedisDedupStore } from '@tidemark/state';

/** An event id as a stream holds it. */
export interface StreamId {
  id: string;
  /** The stream sequence of the message holding it, and its subject. */
  seq: number;
  subject: string;
}

/**
 * For each id accepted and not in the clean stream: the raw messages holding it, and the place dedup's claim
 * names (docs/semantics.md "Exactly-once: dedup"). A claim naming a raw sequence that holds another event now
 * means the raw stream's history changed after dedup read it: the broker served one history, then another.
 */
export async function describeClaims(seeds: string, raw: readonly StreamId[], ids: readonly string[]): Promise<{ lines: string[]; rewritten: number }> {
  const bySeq = new Map<number, string[]>();
  for (const x of raw) {
    const list = bySeq.get(x.seq) ?? [];
    list.push(x.id);
    bySeq.set(x.seq, list);
  }
  const redis = await connectRedisClient({ mode: 'cluster', seeds: seeds.split(',') }, 'tidemark-chaos');
  try {
    const store = new RedisDedupStore(redis, 0, { slots: Number(process.env.DEDUP_SLOTS ?? 65_536) });
    const lines: string[] = [];
    let rewritten = 0;
    for (const id of ids) {
      const where = raw.filter((x) => x.id === id).map((x) => `${x.subject}@${x.seq}`);
      const place = await store.placeOf(id);
      let claim = 'no claim';
      if (place) {
        const there = bySeq.get(place.seq)?.[place.index];
        if (there !== id) rewritten++;
        claim = `claimed at raw seq ${place.seq} index ${place.index}, which holds ${there ?? 'nothing'} now`;
      }
      lines.push(`${id} in raw ${where.join(', ') || 'nowhere'}, ${claim}`);
    }
    return { lines, rewritten };
  } finally {
    redis.disconnect();
  }
}

