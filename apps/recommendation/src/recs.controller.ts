import { Controller, Get, Param, Query } from '@nestjs/common';
import { ProblemException, Scoped } from '@tidemark/runtime';
import { RecsQueryError, RecsQueryErrorCode, RecsQueryService } from './recs-query.service';

/** Maps each query error code to its HTTP status, exhaustively. */
export function statusOf(code: RecsQueryErrorCode): number {
  switch (code) {
    case RecsQueryErrorCode.BadParameter:
      return 400;
    default: {
      const never: never = code;
      throw new Error(`unmapped ${String(never)}`);
    }
  }
}

function http<T>(run: () => Promise<T>): Promise<T> {
  return Promise.resolve()
    .then(run)
    .catch((e) => {
      if (e instanceof RecsQueryError) throw new ProblemException(statusOf(e.code), e.message);
      throw e;
    });
}

/** `{…, items: [{productId, score, reason}]}`; a bad parameter → a 400 problem. */
@Scoped('read')
@Controller('v1')
export class RecsController {
  constructor(private readonly recs: RecsQueryService) {}

  @Get('recommendations/users/:userId')
  forUser(@Param('userId') userId: string, @Query('k') k?: string) {
    return http(() => this.recs.forUser(userId, k));
  }

  @Get('recommendations/sessions/:sessionId')
  forSession(@Param('sessionId') sessionId: string, @Query('k') k?: string, @Query('excludeSeen') excludeSeen?: string) {
    return http(() => this.recs.forSession(sessionId, k, excludeSeen));
  }

  @Get('recommendations/products/:productId/similar')
  similar(@Param('productId') productId: string, @Query('k') k?: string) {
    return http(() => this.recs.similar(productId, k));
  }

  @Get('trending')
  trending(@Query('categoryId') categoryId?: string, @Query('k') k?: string) {
    return http(() => this.recs.trending(categoryId, k));
  }
}
