/**
 * One error format for every HTTP answer and every NATS request-reply error: RFC 9457 problem details
 * (`application/problem+json`), docs/platform.md "Errors". Framework-free: the Nest filter (problem.filter.ts)
 * and the NATS handlers both build their bodies here.
 *
 * Members: `type` (a URN per kind of problem, stable), `title` (the kind, for humans), `status`, `detail` (this
 * occurrence, for humans); extensions: `error` (= detail: the field every earlier answer had), `errors`
 * (`[{field, reason}]` when fields are named), `requestId` (HTTP: the request's x-request-id), plus any the
 * caller adds (ingestion's `accepted`, `duplicates`, `rejected`).
 */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface FieldProblem {
  field: string;
  reason: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** Compatibility: every answer before problem details had this top-level string; it equals `detail`. */
  error: string;
  errors?: FieldProblem[];
  requestId?: string;
  [extension: string]: unknown;
}

/** The kinds of problem, by status: `urn:tidemark:problem:<slug>`. */
const KINDS: Record<number, { slug: string; title: string }> = {
  400: { slug: 'invalid-request', title: 'Invalid request' },
  401: { slug: 'unauthenticated', title: 'Unauthenticated' },
  403: { slug: 'forbidden', title: 'Forbidden' },
  404: { slug: 'not-found', title: 'Not found' },
  405: { slug: 'method-not-allowed', title: 'Method not allowed' },
  406: { slug: 'not-acceptable', title: 'Not acceptable' },
  408: { slug: 'request-timeout', title: 'Request timeout' },
  409: { slug: 'conflict', title: 'Conflict' },
  411: { slug: 'length-required', title: 'Length required' },
  413: { slug: 'too-large', title: 'Request too large' },
  415: { slug: 'unsupported-media-type', title: 'Unsupported media type' },
  422: { slug: 'unprocessable', title: 'Unprocessable content' },
  429: { slug: 'too-many-requests', title: 'Too many requests' },
  500: { slug: 'internal', title: 'Internal error' },
  502: { slug: 'bad-gateway', title: 'Upstream did not answer' },
  503: { slug: 'unavailable', title: 'Service unavailable' },
  504: { slug: 'gateway-timeout', title: 'Upstream timed out' },
};

export const PROBLEM_TYPE_PREFIX = 'urn:tidemark:problem:';

/** The `type` and `title` of a status (any 4xx/5xx without a kind of its own gets a generic one). */
export function problemKind(status: number): { type: string; title: string } {
  const k = KINDS[status] ?? (status >= 500 ? { slug: `http-${status}`, title: 'Server error' } : { slug: `http-${status}`, title: 'Client error' });
  return { type: `${PROBLEM_TYPE_PREFIX}${k.slug}`, title: k.title };
}

/** Every problem type this code can answer, for the OpenAPI documents and docs/platform.md. */
export function problemTypes(): { status: number; type: string; title: string }[] {
  return Object.keys(KINDS).map((s) => ({ status: Number(s), ...problemKind(Number(s)) }));
}

/** Reserved members an extension may not replace. */
const RESERVED = new Set(['type', 'title', 'status', 'detail', 'error']);

export function problem(status: number, detail: string, extensions: Record<string, unknown> = {}): Problem {
  const out: Problem = { ...problemKind(status), status, detail, error: detail };
  for (const [k, v] of Object.entries(extensions)) {
    if (RESERVED.has(k) || v === undefined) continue;
    if (k === 'errors' && Array.isArray(v) && v.length === 0) continue;
    out[k] = v;
  }
  return out;
}

/**
 * Turns whatever a Nest HttpException carried (a string, Nest's `{statusCode, message, error}`, our own
 * `{error, errors, …}`, or a whole Problem) into a Problem of `status`.
 */
export function problemFromResponse(status: number, response: unknown): Problem {
  if (typeof response === 'string') return problem(status, response);
  if (typeof response !== 'object' || response === null) return problem(status, problemKind(status).title);
  const r = response as Record<string, unknown>;
  const { type: _t, title: _ti, status: _s, statusCode: _sc, detail, error, message, ...rest } = r;
  let text: string | undefined;
  if (typeof detail === 'string') text = detail;
  else if (typeof message === 'string') text = message;
  else if (Array.isArray(message)) text = message.map(String).join('; ');
  else if (typeof error === 'string') text = error;
  return problem(status, text ?? problemKind(status).title, rest);
}

/** A NATS request-reply error: the same body as HTTP (its `status` is the status the HTTP API would answer). */
export function rpcProblem(status: number, detail: string, extensions: Record<string, unknown> = {}): Problem {
  return problem(status, detail, extensions);
}

/** A request id is kept when well-formed (docs/observability.md "Request ids"): 1-128 of [A-Za-z0-9._:-]. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function acceptRequestId(value: unknown): string | undefined {
  return typeof value === 'string' && REQUEST_ID.test(value) ? value : undefined;
}
