import { Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ProblemException, Scoped } from '@tidemark/runtime';
import { QueryError, QueryErrorCode, QueryService } from './query.service';
import { pagedRange } from './paged-range';

/** Maps each query error code to its HTTP status, exhaustively. */
export function statusOf(code: QueryErrorCode): number {
  switch (code) {
    case QueryErrorCode.UnknownMetric:
      return 404;
    case QueryErrorCode.BadParameter:
    case QueryErrorCode.NotRanked:
      return 400;
    default: {
      const never: never = code;
      throw new Error(`unmapped ${String(never)}`);
    }
  }
}

export function parseTime(name: string, v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^-?\d{1,16}$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw new QueryError(QueryErrorCode.BadParameter, `${name} must be epoch milliseconds, not "${v.slice(0, 64)}"`);
  }
  return Number(v);
}

/** The request's path and query with `cursor` set to the next page's. */
export function nextUrl(url: string, cursor: string): string {
  const u = new URL(url, 'http://x');
  u.searchParams.set('cursor', cursor);
  return `${u.pathname}${u.search}`;
}

/** Query errors become their status; a parameter that fails to parse (thrown before the query runs) included. */
async function http<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof QueryError) throw new ProblemException(statusOf(e.code), e.message);
    throw e;
  }
}

@Scoped('read')
@Controller('v1')
export class QueryController {
  constructor(private readonly query: QueryService) {}

  @Get('metrics')
  definitions() {
    return this.query.definitions();
  }

  /**
   * `[{metric, key, windowStart, windowEnd, value, final, version}]` in order (windowStart, windowEnd, key), at most
   * `limit`. When more follow: `x-tidemark-truncated: true`, `x-tidemark-next-cursor` and `Link: <…>; rel="next"`
   * (the same query with `cursor`). docs/metrics.md "Paging through a range".
   */
  @Get('metrics/:name')
  async range(
    @Param('name') name: string,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) res: FastifyReply,
    @Query('from') from?: string,
    @Query('to') to?: string,
    @Query('key') key?: string,
    @Query('limit') limit?: string,
    @Query('cursor') cursor?: string,
  ) {
    const answer = await http(() =>
      pagedRange(this.query, name, { from: parseTime('from', from), to: parseTime('to', to), key, limit: limit === undefined || limit === '' ? undefined : Number(limit) }, cursor),
    );
    if (answer.truncated) res.header('x-tidemark-truncated', 'true');
    if (answer.nextCursor) {
      res.header('x-tidemark-next-cursor', answer.nextCursor);
      res.header('link', `<${nextUrl(req.url, answer.nextCursor)}>; rel="next"`);
    }
    return answer.results;
  }

  @Get('metrics/:name/top')
  async top(@Param('name') name: string, @Query('k') k?: string) {
    const answer = await http(() => this.query.top(name, k === undefined ? 10 : Number(k)));
    return answer ?? { metric: name, items: [] };
  }

  @Get('watermark')
  watermark() {
    return this.query.watermark();
  }
}
