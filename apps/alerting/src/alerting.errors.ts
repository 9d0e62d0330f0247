import type { FieldError } from '@tidemark/alerting';

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

/** The JSON body of an error answer: `{error, errors?}`. */
export function errorBody(e: AlertingError): { error: string; errors?: FieldError[] } {
  return e.errors.length > 0 ? { error: e.message, errors: e.errors } : { error: e.message };
}

function assertUnreachable(x: never): never {
  throw new Error(`unhandled alerting error code ${String(x)}`);
}
