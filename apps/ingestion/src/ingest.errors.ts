/**
 * Ingestion's domain errors; each edge maps the code to its status with `statusOf`. (A body that cannot be read
 * is a `BodyError` from contracts; a request with nothing valid is a reply with nothing accepted, not an error.)
 */
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
