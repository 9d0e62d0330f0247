import { Controller } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { BatchOutcome, BatchPattern, ConsumedMessage, JetStreamContext } from '@tidemark/jetstream';
import { AggregationService } from './aggregation.service';

@Controller()
export class AggregationConsumer {
  constructor(private readonly aggregation: AggregationService) {}

  /** One batch of one clean partition, in stream order: applied in memory, acked after its checkpoint. */
  @BatchPattern('events.clean.*')
  handle(@Payload() batch: ConsumedMessage[], @Ctx() ctx: JetStreamContext): Promise<BatchOutcome> {
    return this.aggregation.process(batch, ctx.batch, ctx.getPartition()!);
  }
}
