import { Controller } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { BatchOutcome, BatchPattern, ConsumedMessage, JetStreamContext } from '@tidemark/jetstream';
import { RecommendationService } from './recommendation.service';

@Controller()
export class RecommendationConsumer {
  constructor(private readonly recs: RecommendationService) {}

  /** One batch of one clean partition, in stream order: applied in memory and held until a checkpoint covers it. */
  @BatchPattern('events.clean.*')
  handle(@Payload() batch: ConsumedMessage[], @Ctx() ctx: JetStreamContext): Promise<BatchOutcome> {
    return this.recs.process(batch, ctx.batch, ctx.getPartition()!);
  }
}
