/**
 * OpenAPI 3.1 documents of the HTTP services (docs/platform.md "API reference"), built from a list of operations
 * whose request and response schemas are the JSON Schemas the code uses (the event schema ajv validates with…).
 * Framework-free; api-docs.module.ts serves the result at `GET /openapi.json` and `GET /docs`.
 */
import { PROBLEM_CONTENT_TYPE, problemTypes } from './problem';

export type JsonSchema = Record<string, unknown>;
export type RouteScope = 'public' | 'read' | 'ingest' | 'admin';

export interface ApiParameter {
  name: string;
  in: 'path' | 'query' | 'header';
  description?: string;
  required?: boolean;
  schema: JsonSchema;
}

export interface ApiResponse {
  description: string;
  /** Content type → schema; none for an empty answer (204). */
  content?: Record<string, JsonSchema>;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
}

export interface ApiOperation {
  method: 'get' | 'post' | 'put' | 'delete' | 'patch';
  /** Nest style: `/v1/metrics/:name` (`:x` becomes `{x}`). */
  path: string;
  summary: string;
  description?: string;
  scope: RouteScope;
  tags?: string[];
  parameters?: ApiParameter[];
  requestBody?: { description?: string; required?: boolean; content: Record<string, JsonSchema> };
  /** Success answers by status; the error answers (problems) are added. */
  responses: Record<number, ApiResponse>;
  /** Extra error statuses this operation answers besides 400/401/403/404/413/500/503 (e.g. 409, 429, 502). */
  errors?: number[];
}

export interface ApiInfo {
  title: string;
  version: string;
  description: string;
}

/** The problem body every error answer has (problem.ts). */
export const problemSchema: JsonSchema = {
  type: 'object',
  description: 'RFC 9457 problem details (docs/platform.md "Errors").',
  required: ['type', 'title', 'status', 'detail', 'error'],
  properties: {
    type: { type: 'string', enum: problemTypes().map((t) => t.type), description: 'The kind of problem (stable).' },
    title: { type: 'string' },
    status: { type: 'integer', minimum: 400, maximum: 599 },
    detail: { type: 'string', description: 'This occurrence, for humans.' },
    error: { type: 'string', description: 'Equals detail (compatibility with answers before problem details).' },
    errors: { type: 'array', items: { type: 'object', required: ['field', 'reason'], properties: { field: { type: 'string' }, reason: { type: 'string' } } } },
    requestId: { type: 'string', description: 'The request id (x-request-id).' },
  },
  additionalProperties: true,
};

const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid request (a parameter or the body).',
  401: 'No API key, or an unknown one.',
  403: 'The API key lacks the scope of this route.',
  404: 'Not found.',
  409: 'Conflict.',
  413: 'The body is over the limit.',
  429: 'Too many at once; retry after `retry-after` seconds.',
  500: 'Internal error.',
  502: 'Another service did not answer.',
  503: 'Unavailable (shutting down, or a dependency is down); retry.',
};

const toOpenApiPath = (p: string) => p.replace(/:(\w+)/g, '{$1}');

export function openApiDocument(info: ApiInfo, operations: readonly ApiOperation[], schemas: Record<string, JsonSchema> = {}): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const p = toOpenApiPath(op.path);
    const responses: Record<string, unknown> = {};
    for (const [status, r] of Object.entries(op.responses)) {
      responses[status] = {
        description: r.description,
        ...(r.headers ? { headers: r.headers } : {}),
        ...(r.content ? { content: Object.fromEntries(Object.entries(r.content).map(([type, schema]) => [type, { schema }])) } : {}),
      };
    }
    const errors = new Set([400, 404, 413, 500, 503, ...(op.scope === 'public' ? [] : [401, 403]), ...(op.errors ?? [])]);
    for (const status of [...errors].sort()) responses[String(status)] ??= { $ref: `#/components/responses/Problem${status}` };
    const pathParams = [...op.path.matchAll(/:(\w+)/g)].map((m) => m[1]);
    const declared = new Set((op.parameters ?? []).filter((x) => x.in === 'path').map((x) => x.name));
    const parameters = [
      ...pathParams.filter((n) => !declared.has(n)).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
      ...(op.parameters ?? []).map((x) => ({ ...x, required: x.in === 'path' ? true : (x.required ?? false) })),
    ];
    paths[p] ??= {};
    paths[p][op.method] = {
      operationId: `${op.method}${p.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      ...(op.tags ? { tags: op.tags } : {}),
      'x-tidemark-scope': op.scope,
      security: op.scope === 'public' ? [] : [{ apiKey: [] }],
      ...(parameters.length ? { parameters } : {}),
      ...(op.requestBody
        ? { requestBody: { description: op.requestBody.description, required: op.requestBody.required ?? true, content: Object.fromEntries(Object.entries(op.requestBody.content).map(([t, schema]) => [t, { schema }])) } }
        : {}),
      responses,
    };
  }
  const errorResponses = Object.fromEntries(
    problemTypes().map(({ status, title }) => [
      `Problem${status}`,
      { description: ERROR_TEXT[status] ?? `${title}.`, headers: { 'x-request-id': { description: 'The request id', schema: { type: 'string' } } }, content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } } },
    ]),
  );
  return {
    openapi: '3.1.0',
    info: { title: info.title, version: info.version, description: info.description, license: { name: 'MIT', identifier: 'MIT' } },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    paths,
    components: {
      schemas: { Problem: problemSchema, ...schemas },
      responses: errorResponses,
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key of API_KEYS with the scope the operation names in x-tidemark-scope (docs/security.md).' } },
    },
  };
}

/** Each operation's method and Nest path, to compare with the routes Nest registered. */
export function documentedRoutes(doc: Record<string, unknown>): Set<string> {
  const out = new Set<string>();
  for (const [p, item] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    for (const m of Object.keys(item)) out.add(`${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`);
  }
  return out;
}
