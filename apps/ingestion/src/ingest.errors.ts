/** Ingestion's domain errors; `ingest.controller.ts` maps each code to an HTTP status, the RPC and TCP edges likewise. */
export enum IngestErrorCode {
  BadBody = 'bad_body',
  NothingValid = 'nothing_valid',
  TooLarge = 'too_large',
  Unavailable = 'unavailable',
}

export class IngestError extends Error {
  constructor(
    readonly code: IngestErrorCode,
    message: string,
    readonly reply?: unknown,
  ) {
    super(message);
    this.name = 'IngestError';
  }
}

export function statusOf(code: IngestErrorCode): number {
  switch (code) {
    case IngestErrorCode.BadBody:
    case IngestErrorCode.NothingValid:
      return 400;
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
