/**
 * The query service's range query in cursor pages (range-pages.ts; docs/metrics.md "Paging through a range"),
 * for the HTTP and NATS edges alike. Only the service's public `range` is used.
 */
import type { WindowResultDto } from '@tidemark/contracts';
import { CursorError, decodeCursor, encodeCursor, pageRange } from './range-pages';
import { MAX_LIMIT, QueryError, QueryErrorCode, QueryService, RangeQuery } from './query.service';

export interface RangePageAnswer {
  results: WindowResultDto[];
  /** True when more windows follow (compatibility: the `x-tidemark-truncated` header). */
  truncated: boolean;
  /** Pass it as `cursor` for the next page; absent on the last. */
  nextCursor?: string;
}

export async function pagedRange(query: QueryService, name: string, q: RangeQuery, cursor?: string): Promise<RangePageAnswer> {
  const limit = q.limit ?? 1000;
  // A limit the service refuses is refused by it, with its own message.
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    const a = await query.range(name, q);
    return { results: a.results, truncated: a.truncated };
  }
  try {
    const after = cursor === undefined || cursor === '' ? undefined : decodeCursor(cursor);
    const page = await pageRange((from, n) => query.range(name, { ...q, from, limit: n }), { from: q.from, to: q.to, limit }, after, MAX_LIMIT);
    return { results: page.results, truncated: page.next !== undefined, ...(page.next ? { nextCursor: encodeCursor(page.next) } : {}) };
  } catch (e) {
    if (e instanceof CursorError) throw new QueryError(QueryErrorCode.BadParameter, e.message);
    throw e;
  }
}
