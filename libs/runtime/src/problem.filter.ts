/**
 * The one global exception filter (docs/platform.md "Errors"): every HTTP error of every service — thrown by a
 * controller, the API-key guard, Nest's unknown-route handler, Fastify (413 body too large, 415…) or the
 * shutdown hook (503) — leaves as an RFC 9457 problem (problem.ts) with its request id. Non-HTTP contexts
 * (JetStream batches) keep Nest's default RPC behaviour.
 */
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { BaseRpcExceptionFilter } from '@nestjs/microservices';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_CONTENT_TYPE, Problem, problem, problemFromResponse } from './problem';

/** A controller's error with the problem's detail and extension members (`errors`, ingestion's counters…). */
export class ProblemException extends HttpException {
  constructor(status: number, detail: string, extensions: Record<string, unknown> = {}) {
    super(problem(status, detail, extensions), status);
  }
}

/** The problem an exception becomes; 5xx that were not meant for the client say only "internal error". */
export function problemOf(exception: unknown): { problem: Problem; unexpected: boolean } {
  if (exception instanceof HttpException) return { problem: problemFromResponse(exception.getStatus(), exception.getResponse()), unexpected: false };
  const code = (exception as { statusCode?: unknown } | null)?.statusCode;
  if (typeof code === 'number' && code >= 400 && code < 500) return { problem: problem(code, (exception as Error).message), unexpected: false };
  if (typeof code === 'number' && code >= 500 && code < 600) return { problem: problem(code, (exception as Error).message), unexpected: true };
  return { problem: problem(500, 'internal error'), unexpected: true };
}

@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');
  private readonly rpc = new BaseRpcExceptionFilter();

  catch(exception: unknown, host: ArgumentsHost) {
    if (host.getType() !== 'http') return this.rpc.catch(exception, host);
    const req = host.switchToHttp().getRequest<FastifyRequest>();
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const { problem: body, unexpected } = problemOf(exception);
    if (req?.id) body.requestId = String(req.id);
    if (unexpected) this.logger.error({ msg: 'request failed', requestId: body.requestId, status: body.status, error: (exception as Error)?.message, stack: (exception as Error)?.stack });
    const raw = reply.raw ?? (reply as unknown as import('node:http').ServerResponse);
    if (raw.headersSent || reply.sent) {
      raw.destroy(); // a stream that had begun cannot change its status: cut it
      return;
    }
    void reply.status(body.status).header('content-type', PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
  }
}
