import fc from 'fast-check';
import { CursorError, FetchedWindows, WindowPosition, compareWindows, decodeCursor, encodeCursor, pageOf, pageRange } from './range-pages';

const w = (windowStart: number, key: string, windowEnd = windowStart + 60): WindowPosition => ({ windowStart, windowEnd, key });

/** A service like the real one: windows with start in [from, …), ordered by start only (here: reversed keys within a start), cut at n. */
function service(all: WindowPosition[]) {
  const calls: number[] = [];
  const fetch = async (from: number | undefined, n: number): Promise<FetchedWindows<WindowPosition>> => {
    calls.push(n);
    const inRange = all.filter((x) => from === undefined || x.windowStart >= from).sort((a, b) => a.windowStart - b.windowStart || compareWindows(b, a));
    return { results: inRange.slice(0, n), truncated: inRange.length > n };
  };
  return { fetch, calls };
}

async function pageThrough(all: WindowPosition[], limit: number, maxFetch = 10_000): Promise<WindowPosition[][]> {
  const { fetch } = service(all);
  const pages: WindowPosition[][] = [];
  let after: WindowPosition | undefined;
  for (let i = 0; i < 10_000; i++) {
    const cursor = after && encodeCursor(after);
    const page = await pageRange(fetch, { limit }, cursor ? decodeCursor(cursor) : undefined, maxFetch);
    pages.push(page.results);
    if (!page.next) return pages;
    after = page.next;
  }
  throw new Error('did not end');
}

describe('range cursor pages', () => {
  it('round-trips a cursor and refuses anything else', () => {
    const p = w(1_700_000_000_000, 'ké:y"\u0000', 1_700_000_060_000);
    expect(decodeCursor(encodeCursor(p))).toEqual(p);
    for (const bad of ['', 'x', '!!!', Buffer.from('[2,1,2,"k"]').toString('base64url'), Buffer.from('[1,1.5,2,"k"]').toString('base64url'), 'a'.repeat(3000)]) {
      expect(() => decodeCursor(bad)).toThrow(CursorError);
    }
  });

  it('orders by start, end, then key', () => {
    expect([w(2, 'a'), w(1, 'b', 90), w(1, 'b'), w(1, 'a')].sort(compareWindows)).toEqual([w(1, 'a'), w(1, 'b'), w(1, 'b', 90), w(2, 'a')]);
  });

  it('resumes inside a start shared by many keys', async () => {
    const all = Array.from({ length: 25 }, (_, i) => w(0, `k${String(i).padStart(2, '0')}`)).concat([w(60, 'a'), w(60, 'b')]);
    const pages = await pageThrough(all, 10);
    expect(pages.map((p) => p.length)).toEqual([10, 10, 7]);
    expect(pages.flat()).toEqual([...all].sort(compareWindows));
  });

  it('never trusts the last start of a cut list', () => {
    // The service cut inside start 60: its windows may be missing some that sort first.
    expect(pageOf({ results: [w(0, 'a'), w(60, 'z')], truncated: true }, undefined, 1)).toEqual({ results: [w(0, 'a')], next: w(0, 'a') });
    expect(pageOf({ results: [w(0, 'a'), w(60, 'z')], truncated: true }, undefined, 2)).toBeUndefined();
    expect(pageOf({ results: [w(0, 'a'), w(60, 'z')], truncated: false }, undefined, 2)).toEqual({ results: [w(0, 'a'), w(60, 'z')] });
  });

  it('says so when one start holds more windows than it may fetch, instead of skipping any', async () => {
    const all = Array.from({ length: 30 }, (_, i) => w(0, `k${i}`));
    await expect(pageThrough(all, 5, 20)).rejects.toThrow(/more than 20 windows start at the same time/);
  });

  it('asks for 2 × limit first, and once when the list fits', async () => {
    const { fetch, calls } = service([w(0, 'a'), w(60, 'b')]);
    expect(await pageRange(fetch, { limit: 5 }, undefined, 10_000)).toEqual({ results: [w(0, 'a'), w(60, 'b')] });
    expect(calls).toEqual([10]);
  });

  it('an after-range cursor gives an empty page', async () => {
    const { fetch } = service([w(0, 'a')]);
    expect(await pageRange(fetch, { limit: 5, to: 60 }, w(60, 'a'), 100)).toEqual({ results: [] });
  });

  it('pages through any set of windows, each once and in order, whatever the limit', async () => {
    const windows = fc.uniqueArray(fc.record({ windowStart: fc.integer({ min: 0, max: 5 }).map((m) => m * 60), windowEnd: fc.constantFrom(60, 120, 300), key: fc.string({ maxLength: 3 }) }), {
      maxLength: 80,
      selector: (x) => `${x.windowStart}/${x.windowEnd}/${x.key}`,
    });
    await fc.assert(
      fc.asyncProperty(windows, fc.integer({ min: 1, max: 30 }), async (ws, limit) => {
        const all = ws.map((x) => ({ ...x, windowEnd: x.windowStart + x.windowEnd }));
        const pages = await pageThrough(all, limit);
        expect(pages.flat()).toEqual([...all].sort(compareWindows));
        for (const p of pages.slice(0, -1)) expect(p.length).toBeGreaterThan(0);
      }),
      { numRuns: 200, seed: 16 },
    );
  });
});
