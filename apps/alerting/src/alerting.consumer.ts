import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { WindowResult } from '@tidemark/alerting';
import { BatchOutcome, BatchPattern, ConsumedMessage, DeadLetterRequest, Outcome } from '@tidemark/jetstream';
import { AlertingError, AlertingErrorCode } from './alerting.errors';
import { AlertingService, ParsedResult } from './alerting.service';

/** Decodes one `results.<metric>` message; a reason string when it is not a window result. */
export function decodeResult(data: Uint8Array): WindowResult | string {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch (e) {
    return `not JSON: ${(e as Error).message}`;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const bad: string[] = [];
  if (typeof v.metric !== 'string' || v.metric === '') bad.push('metric');
  if (typeof v.key !== 'string') bad.push('key');
  for (const f of ['windowStart', 'windowEnd', 'version']) if (!Number.isSafeInteger(v[f])) bad.push(f);
  if (typeof v.final !== 'boolean') bad.push('final');
  if (bad.length > 0) return `not a window result: bad or missing ${bad.join(', ')}`;
  return { metric: v.metric as string, key: v.key as string, windowStart: v.windowStart as number, windowEnd: v.windowEnd as number, value: v.value, final: v.final as boolean, version: v.version as number };
}

@Controller()
export class AlertingConsumer {
  constructor(private readonly alerting: AlertingService) {}

  /** One batch of `results.>`, in stream order; committed to Redis before the ack (a failure retries the batch). */
  @BatchPattern('results.>')
  async handle(@Payload() batch: ConsumedMessage[]): Promise<BatchOutcome> {
    const parsed: ParsedResult[] = [];
    const deadLetters: DeadLetterRequest[] = [];
    for (const m of batch) {
      const r = decodeResult(m.data);
      if (typeof r === 'string') deadLetters.push({ seq: m.seq, reason: r });
      else parsed.push({ seq: m.seq, result: r });
    }
    try {
      await this.alerting.processResults(parsed);
    } catch (e) {
      // Redis away: the whole batch again, later. Anything else is thrown: the transport retries, then isolates
      // the message that keeps failing and dead-letters it (dlq.RESULTS.alerting-results).
      if (e instanceof AlertingError && e.code === AlertingErrorCode.Unavailable) return Outcome.retry(undefined, e.message);
      throw e;
    }
    return Outcome.ack(deadLetters);
  }
}
