/**
 * The end-to-end tests' side of the brute-force reference (libs/simulator reference.ts): waiting for the
 * service's windows to be final and asserting they equal the reference.
 */
import type { TidemarkEvent, WindowResultDto } from '@tidemark/contracts';
import { REFERENCE_METRICS, compareWindows, referenceSessions, referenceUnpaid, type RefResult } from '@tidemark/simulator';
import { eventually } from './eventually';

export { computeReference, heartbeats, type RefWindow } from '@tidemark/simulator';

const MIN = 60_000;

/**
 * Waits until every window of every reference metric ending by `lastFinalEnd` is final, then asserts the
 * service's windows are exactly the reference's, with equal values (compareWindows).
 */
export async function expectResultsMatch(
  fetchResults: (metric: string) => Promise<WindowResultDto[]>,
  reference: Map<string, Map<string, RefResult>>,
  lastFinalEnd: number,
): Promise<void> {
  const fetched = new Map<string, WindowResultDto[]>();
  for (const m of REFERENCE_METRICS) {
    fetched.set(
      m.name,
      await eventually(
        async () => {
          const rs = (await fetchResults(m.name)).filter((r) => r.windowEnd <= lastFinalEnd);
          for (const r of rs) expect({ metric: r.metric, key: r.key, windowStart: r.windowStart, final: r.final }).toEqual({ metric: m.name, key: r.key, windowStart: r.windowStart, final: true });
          return rs;
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      ),
    );
  }
  const report = compareWindows(reference, (metric) => fetched.get(metric) ?? [], lastFinalEnd);
  expect(report.mismatches.slice(0, 20)).toEqual([]);
  expect(report.windows).toBeGreaterThan(0);
}

/**
 * The session metric (cart_abandonment) and the join (unpaid_orders) against the brute-force references: the
 * service's sessions ending by `lastFinalEnd` are exactly the reference's, final, with equal values (a
 * session merged into a larger one is no longer listed); its unpaid orders are exactly the reference's.
 */
export async function expectSessionsAndJoinsMatch(fetchResults: (metric: string) => Promise<WindowResultDto[]>, events: Iterable<TidemarkEvent>, lastFinalEnd: number): Promise<void> {
  const all = [...events];
  const sessions = referenceSessions(all);
  const expectedSessions = [...sessions.values()].filter((s) => s.end <= lastFinalEnd);
  const actual = await eventually(
    async () => {
      const rs = (await fetchResults('cart_abandonment')).filter((r) => r.windowEnd <= lastFinalEnd);
      for (const r of rs) expect({ key: r.key, windowStart: r.windowStart, final: r.final }).toEqual({ key: r.key, windowStart: r.windowStart, final: true });
      // every expected session, not only final ones: the last sessions may still be firing when the first are final
      expect(rs.map((r) => `${r.key}|${r.windowStart}|${r.windowEnd}`).sort()).toEqual(expectedSessions.map((s) => `${s.key}|${s.start}|${s.end}`).sort());
      return rs;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
  for (const r of actual) {
    const s = sessions.get(`${r.key}|${r.windowStart}|${r.windowEnd}`)!;
    expect({ key: r.key, value: r.value }).toEqual({ key: r.key, value: { abandoned: s.started > 0 && s.completed === 0, started: s.started, completed: s.completed } });
  }
  expect(expectedSessions.length).toBeGreaterThan(0);

  const unpaid = referenceUnpaid(all);
  const joins = (await fetchResults('unpaid_orders')).filter((r) => r.windowEnd <= lastFinalEnd);
  const flagged = joins.filter((r) => (r.value as { status: string }).status === 'unmatched');
  expect(flagged.map((r) => r.key).sort()).toEqual([...unpaid.keys()].filter((k) => unpaid.get(k)!.ts + 15 * MIN <= lastFinalEnd).sort());
  for (const r of flagged) {
    const o = unpaid.get(r.key)!;
    expect(r).toMatchObject({ final: true, windowStart: o.ts, windowEnd: o.ts + 15 * MIN, value: { status: 'unmatched', leftId: o.id, leftTs: o.ts, matchedTs: null, fields: { userId: o.userId, sessionId: o.sessionId, amount: o.amount } } });
    expect(r.version).toBeGreaterThanOrEqual(1);
  }
}
