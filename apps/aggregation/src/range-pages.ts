/**
 * Cursor pages over a range query (docs/metrics.md "Paging through a range"): a generic layer over whatever
 * ordered-by-start list of windows the query service produces, so it does not depend on how the service
 * stores or reads them. Pure: the service call is an argument.
 *
 * Pages follow the order (windowStart, windowEnd, key). A cursor is the last window a page returned, encoded
 * (opaque to clients); the next page is every window strictly after it. So a page can end, and the next
 * resume, inside one window start shared by many keys.
 *
 * The service answers the first `n` windows from `from` in its own order within a start, and says whether it
 * cut. When it cut, the windows of the last start it returned may be incomplete, so only those of earlier
 * starts are trusted; when that leaves too few, the layer asks for more (up to `maxFetch` windows). A single
 * start holding more windows than `maxFetch` cannot be paged through past its first ones: a CursorError
 * saying so (narrow the query with `key`), never a silently skipped window.
 */

export interface WindowPosition {
  windowStart: number;
  windowEnd: number;
  key: string;
}

export class CursorError extends Error {}

/** The page order: windowStart, then windowEnd, then key (UTF-16 code units). */
export function compareWindows(a: WindowPosition, b: WindowPosition): number {
  return a.windowStart - b.windowStart || a.windowEnd - b.windowEnd || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

const CURSOR_VERSION = 1;

export function encodeCursor(p: WindowPosition): string {
  return Buffer.from(JSON.stringify([CURSOR_VERSION, p.windowStart, p.windowEnd, p.key]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): WindowPosition {
  let v: unknown;
  try {
    if (cursor.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('not base64url');
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new CursorError('cursor is not one this API gave (pass nextCursor as it came)');
  }
  if (!Array.isArray(v) || v.length !== 4 || v[0] !== CURSOR_VERSION || !Number.isSafeInteger(v[1]) || !Number.isSafeInteger(v[2]) || typeof v[3] !== 'string') {
    throw new CursorError('cursor is not one this API gave (pass nextCursor as it came)');
  }
  return { windowStart: v[1], windowEnd: v[2], key: v[3] };
}

export interface FetchedWindows<T> {
  /** Ordered by windowStart (any order within a start). */
  results: T[];
  /** True when the service cut the list (there are more windows from `from`). */
  truncated: boolean;
}

export interface Page<T> {
  results: T[];
  /** The last window of this page when more follow. */
  next?: WindowPosition;
}

/**
 * One page out of what the service fetched: `undefined` when the fetched windows cannot decide it (the service
 * cut inside the only start they hold, or fewer than `limit` trusted windows remain): fetch more.
 */
export function pageOf<T extends WindowPosition>(fetched: FetchedWindows<T>, after: WindowPosition | undefined, limit: number, final = false): Page<T> | undefined {
  let candidates = after ? fetched.results.filter((r) => compareWindows(r, after) > 0) : [...fetched.results];
  if (fetched.truncated) {
    const lastStart = fetched.results.reduce((m, r) => Math.max(m, r.windowStart), -Infinity);
    candidates = candidates.filter((r) => r.windowStart < lastStart);
  }
  candidates.sort(compareWindows);
  if (candidates.length > limit) return { results: candidates.slice(0, limit), next: candidates[limit - 1] };
  if (!fetched.truncated) return { results: candidates };
  // More exist after these: a full page, or (when no more can be fetched) a short one that still goes on.
  if (candidates.length === limit || (final && candidates.length > 0)) return { results: candidates, next: candidates[candidates.length - 1] };
  return undefined;
}

/**
 * Pages a range: `fetch(from, n)` is the service's range query (windows with a start ≥ `from`, at most `n`).
 * Asks for 2 × limit windows first (so a cut start still leaves a full page), four times more while undecided,
 * at most `maxFetch`.
 */
export async function pageRange<T extends WindowPosition>(
  fetch: (from: number | undefined, n: number) => Promise<FetchedWindows<T>>,
  q: { from?: number; to?: number; limit: number },
  after: WindowPosition | undefined,
  maxFetch: number,
): Promise<Page<T>> {
  const from = after === undefined ? q.from : Math.max(q.from ?? -Infinity, after.windowStart);
  if (after && q.to !== undefined && from! >= q.to) return { results: [] };
  for (let n = Math.min(maxFetch, q.limit * 2); ; n = Math.min(maxFetch, n * 4)) {
    const page = pageOf(await fetch(from, n), after, q.limit, n >= maxFetch);
    if (page) return page;
    if (n >= maxFetch) {
      throw new CursorError(`more than ${maxFetch} windows start at the same time here: page through them with key, or a narrower range`);
    }
  }
}
