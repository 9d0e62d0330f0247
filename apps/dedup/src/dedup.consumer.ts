import { Controller } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { BatchOutcome, BatchPattern, ConsumedMessage, JetStreamContext } from '@tidemark/jetstream';
import { DedupService } from './dedup.service';

@Controller()
export class DedupConsumer {
  constructor(private readonly dedup: DedupService) {}

  /** One batch of one raw partition, in stream order (the shared lifecycle). Throws on Redis/NATS trouble: the batch comes again. */
  @BatchPattern('events.raw.*')
  handle(@Payload() batch: ConsumedMessage[], @Ctx() ctx: JetStreamContext): Promise<BatchOutcome> {
    return this.dedup.process(batch, ctx.batch, ctx.getPartition()!);
  }
}
