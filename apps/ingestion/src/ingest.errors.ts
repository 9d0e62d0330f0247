/**
 * Ingestion's domain errors; each edge maps the code to its status with `statusOf`. (A body that cannot be read
 * is a `BodyError` from contracts; a request with nothing valid is a reply with nothing accepted, not an error.)
 */
/** The detail of a 400 when every record was rejected (the counters say which and why). */
export const NOTHING_VALID = 'no event of the request is valid (see rejected)';

export enum IngestErrorCode {
  TooLarge = 'too_large',
  Unavailable = 'unavailable',
}

export class IngestError extends Error {
  constructor(
    readonly code: IngestErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'IngestError';
  }
}

export function statusOf(code: IngestErrorCode): number {
  switch (code) {
    case IngestErrorCode.TooLarge:
      return 413;
    case IngestErrorCode.Unavailable:
      return 503;
    default:
      return assertUnreachable(code);
  }
}

function assertUnreachable(x: never): never {
  throw new Error(`unhandled ingest error code ${String(x)}`);
}
