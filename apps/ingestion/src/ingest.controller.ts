import { Controller, Headers, Inject, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Scoped } from '@tidemark/runtime';
import { BodyError, parseBody } from '@tidemark/contracts';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { IngestService, nothingValid } from './ingest.service';
import { IngestError, statusOf } from './ingest.errors';

/** Bodies arrive as raw Buffers (see main.ts), so JSON, arrays and NDJSON are read by one parser. */
@Scoped('ingest')
@Controller('v1/events')
export class IngestController {
  constructor(
    private readonly ingest: IngestService,
    @Inject(CONFIG) private readonly config: TidemarkConfig,
  ) {}

  /** 202 `{accepted, duplicates, rejected}` only after JetStream acknowledged every accepted event. */
  @Post()
  async post(@Req() req: FastifyRequest, @Res() res: FastifyReply, @Headers('content-type') contentType?: string) {
    const empty = { accepted: 0, duplicates: 0, rejected: [] };
    try {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const records = parseBody(body, contentType, this.config.maxLineBytes);
      if (records.length === 0) return res.status(400).send({ error: 'the request has no events', ...empty });
      const { reply } = await this.ingest.ingest(records, 'http');
      return res.status(nothingValid(reply) ? 400 : 202).send(reply);
    } catch (e) {
      if (e instanceof BodyError) return res.status(400).send({ error: e.message, ...empty });
      if (e instanceof IngestError) return res.status(statusOf(e.code)).send({ error: e.message, ...empty });
      throw e;
    }
  }
}
