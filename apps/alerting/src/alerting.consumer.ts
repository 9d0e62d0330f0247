import { Controller } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { BatchOutcome, BatchPattern, ConsumedMessage, JetStreamContext } from '@tidemark/jetstream';
import { AlertingService } from './alerting.service';

export { decodeResult } from './alerting.state';

@Controller()
export class AlertingConsumer {
  constructor(private readonly alerting: AlertingService) {}

  /**
   * One batch of `results.>`, in stream order, on the shared lifecycle: applied in memory, acked after the
   * checkpoint that holds it; a message that is not a window result is dead-lettered (dlq.RESULTS.alerting-results).
   */
  @BatchPattern('results.>')
  handle(@Payload() batch: ConsumedMessage[], @Ctx() ctx: JetStreamContext): Promise<BatchOutcome> {
    return this.alerting.process(batch, ctx.batch);
  }
}
