import { Controller, Headers, Inject, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ProblemException, Scoped } from '@tidemark/runtime';
import { BodyError, acceptTraceparent, parseBody } from '@tidemark/contracts';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { IngestService, nothingValid } from './ingest.service';
import { IngestError, NOTHING_VALID, statusOf } from './ingest.errors';

/** Bodies arrive as raw Buffers (see main.ts), so JSON, arrays and NDJSON are read by one parser. */
@Scoped('ingest')
@Controller('v1/events')
export class IngestController {
  constructor(
    private readonly ingest: IngestService,
    @Inject(CONFIG) private readonly config: TidemarkConfig,
  ) {}

  /**
   * 202 `{accepted, duplicates, rejected}` only after JetStream acknowledged every accepted event; an error is a
   * problem (docs/platform.md "Errors") with the same three counters as extension members.
   */
  @Post()
  async post(@Req() req: FastifyRequest, @Res() res: FastifyReply, @Headers('content-type') contentType?: string) {
    const empty = { accepted: 0, duplicates: 0, rejected: [] };
    let reply;
    try {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const records = parseBody(body, contentType, this.config.maxLineBytes);
      if (records.length === 0) throw new ProblemException(400, 'the request has no events', empty);
      ({ reply } = await this.ingest.ingest(records, 'http', undefined, false, acceptTraceparent(req.headers.traceparent)));
    } catch (e) {
      if (e instanceof BodyError) throw new ProblemException(400, e.message, empty);
      if (e instanceof IngestError) throw new ProblemException(statusOf(e.code), e.message, empty);
      throw e;
    }
    if (nothingValid(reply)) throw new ProblemException(400, NOTHING_VALID, { ...reply });
    return res.status(202).send(reply);
  }
}
