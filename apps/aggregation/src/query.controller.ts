import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ProblemException, Scoped } from '@tidemark/runtime';
import { QueryError, QueryErrorCode, QueryService } from './query.service';

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

  /** `[{metric, key, windowStart, windowEnd, value, final, version}]`; header `x-tidemark-truncated: true` when `limit` cut it. */
  @Get('metrics/:name')
  async range(
    @Param('name') name: string,
    @Res({ passthrough: true }) res: FastifyReply,
    @Query('from') from?: string,
    @Query('to') to?: string,
    @Query('key') key?: string,
    @Query('limit') limit?: string,
  ) {
    const answer = await http(() =>
      this.query.range(name, { from: parseTime('from', from), to: parseTime('to', to), key, limit: limit === undefined || limit === '' ? undefined : Number(limit) }),
    );
    if (answer.truncated) res.header('x-tidemark-truncated', 'true');
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
