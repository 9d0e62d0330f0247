import fc from 'fast-check';
import { InMemoryDedupStore, classify, shouldForward } from './dedup';

describe('classify', () => {
  it.each([
    [null, 7, 'first'],
    ['7', 7, 'retry'],
    ['f7', 7, 'forwarded'],
    ['3', 7, 'duplicate'],
    ['f3', 7, 'duplicate'],
    ['17', 7, 'duplicate'],
    ['f17', 1, 'duplicate'],
  ] as const)('stored %p, seq %p → %s', (stored, seq, expected) => {
    expect(classify(stored, seq)).toBe(expected);
  });

  it('forwards first occurrences and their redeliveries only', () => {
    expect(['first', 'retry', 'forwarded', 'duplicate'].filter((d) => shouldForward(d as never))).toEqual(['first', 'retry']);
  });
});

describe('InMemoryDedupStore: crash-safety against a reference (property)', () => {
  /**
   * A raw stream of (id, seq) messages processed in batches; each batch may "crash" after the claim, after
   * the forward, or after the mark, and is then redelivered whole. Whatever the crashes, every id reaches
   * the clean stream at least once, and — given the clean stream's Nats-Msg-Id de-duplication — exactly once.
   */
  it('forwards every distinct id, and a true duplicate never', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 15 }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.constantFrom('none', 'afterClaim', 'afterForward', 'afterMark'), { maxLength: 30 }),
        fc.integer({ min: 1, max: 8 }),
        async (ids, crashes, batchSize) => {
          const messages = ids.map((n, i) => ({ id: `id-${n}`, seq: i + 1 }));
          const store = new InMemoryDedupStore();
          const forwardedMsgIds = new Set<string>(); // the clean stream, de-duplicated by Nats-Msg-Id
          const forwardedSeqs: number[] = [];
          let pos = 0;
          let crash = 0;
          while (pos < messages.length) {
            const batch = messages.slice(pos, pos + batchSize);
            const mode = crashes[crash++] ?? 'none';
            const decisions = await store.claim(batch);
            if (mode === 'afterClaim') continue;
            const toForward = batch.filter((_, i) => shouldForward(decisions[i]));
            for (const m of toForward) {
              if (!forwardedMsgIds.has(m.id)) forwardedSeqs.push(m.seq);
              forwardedMsgIds.add(m.id);
            }
            if (mode === 'afterForward') continue;
            await store.markForwarded(toForward);
            if (mode === 'afterMark') continue;
            pos += batch.length; // acked
          }
          const firstSeqOf = new Map<string, number>();
          for (const m of messages) if (!firstSeqOf.has(m.id)) firstSeqOf.set(m.id, m.seq);
          expect(forwardedSeqs.sort((a, b) => a - b)).toEqual([...firstSeqOf.values()].sort((a, b) => a - b));
        },
      ),
    );
  });
});
