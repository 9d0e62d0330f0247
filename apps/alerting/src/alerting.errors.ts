import type { FieldError } from '@tidemark/alerting';
import { Problem, rpcProblem } from '@tidemark/runtime';

/** The alerting service's domain errors; each edge maps the code with `statusOf`, exhaustively. */
export enum AlertingErrorCode {
  Invalid = 'invalid',
  NotFound = 'not_found',
  Conflict = 'conflict',
  Unavailable = 'unavailable',
}

export class AlertingError extends Error {
  constructor(
    readonly code: AlertingErrorCode,
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
    this.name = 'AlertingError';
  }
}

export function statusOf(code: AlertingErrorCode): number {
  switch (code) {
    case AlertingErrorCode.Invalid:
      return 400;
    case AlertingErrorCode.NotFound:
      return 404;
    case AlertingErrorCode.Conflict:
      return 409;
    case AlertingErrorCode.Unavailable:
      return 503;
    default:
      return assertUnreachable(code);
  }
}

/** The problem an error answers, over HTTP and NATS alike (docs/platform.md "Errors"): `errors` names each bad field. */
export function problemOf(e: AlertingError): Problem {
  return rpcProblem(statusOf(e.code), e.message, { errors: e.errors });
}

function assertUnreachable(x: never): never {
  throw new Error(`unhandled alerting error code ${String(x)}`);
}
