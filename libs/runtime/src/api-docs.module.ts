/**
 * `GET /openapi.json` (the service's OpenAPI 3.1 document, openapi.ts) and `GET /docs` (a reference page
 * rendered by Swagger UI from the npm package swagger-ui-dist, served by the service itself: no CDN, works
 * offline). Both public: they describe routes, they open none. docs/platform.md "API reference".
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Controller, DynamicModule, Get, Inject, Module, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from './auth';
import { ApiInfo, ApiOperation, JsonSchema, openApiDocument } from './openapi';

export const API_DOCUMENT = Symbol('API_DOCUMENT');

const UI = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const ASSETS: Record<string, { file: string; type: string }> = {
  'docs/swagger-ui.css': { file: path.join(UI, 'swagger-ui.css'), type: 'text/css; charset=utf-8' },
  'docs/swagger-ui-bundle.js': { file: path.join(UI, 'swagger-ui-bundle.js'), type: 'text/javascript; charset=utf-8' },
};

/** The routes every service has besides its own: observability's and these. */
export const COMMON_OPERATIONS: ApiOperation[] = [
  { method: 'get', path: '/health/live', scope: 'public', tags: ['operations'], summary: 'Liveness: the process answers', responses: { 200: { description: 'Alive', content: { 'application/json': { type: 'object', properties: { status: { const: 'ok' } } } } } } },
  {
    method: 'get',
    path: '/health/ready',
    scope: 'public',
    tags: ['operations'],
    summary: 'Readiness: every dependency answers',
    description: 'Answers 503 with the same report (not a problem: the probes read it) while a dependency is down.',
    responses: { 200: { description: 'Ready', content: { 'application/json': { type: 'object', required: ['status'], properties: { status: { type: 'string' }, checks: { type: 'object' } } } } } },
  },
  { method: 'get', path: '/metrics', scope: 'read', tags: ['operations'], summary: 'Prometheus metrics (docs/observability.md)', responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { type: 'string' } } } } },
  { method: 'get', path: '/openapi.json', scope: 'public', tags: ['operations'], summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { type: 'object' } } } } },
  { method: 'get', path: '/docs', scope: 'public', tags: ['operations'], summary: 'This document as a page (Swagger UI)', responses: { 200: { description: 'HTML', content: { 'text/html': { type: 'string' } } } } },
  ...Object.entries(ASSETS).map(([p, a]): ApiOperation => ({ method: 'get', path: `/${p}`, scope: 'public', tags: ['operations'], summary: 'An asset of the /docs page', responses: { 200: { description: 'The file', content: { [a.type.split(';')[0]]: { type: 'string' } } } } })),
];

const page = (title: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title.replace(/[<&>"]/g, '')}</title>
<link rel="stylesheet" href="docs/swagger-ui.css"></head>
<body><div id="ui"></div><script src="docs/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: 'openapi.json', dom_id: '#ui', deepLinking: true });</script></body></html>
`;

@Controller()
export class ApiDocsController {
  private readonly json: string;
  private readonly html: string;

  constructor(@Inject(API_DOCUMENT) doc: Record<string, unknown>) {
    this.json = JSON.stringify(doc);
    this.html = page(String((doc.info as { title?: string })?.title ?? 'API'));
  }

  @Get('openapi.json')
  @Public()
  spec(@Res() res: FastifyReply) {
    return res.header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-cache').send(this.json);
  }

  @Get('docs')
  @Public()
  docs(@Res() res: FastifyReply) {
    return res.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache').send(this.html);
  }

  @Get(Object.keys(ASSETS))
  @Public()
  asset(@Req() req: FastifyRequest, @Res() res: FastifyReply) {
    const a = ASSETS[req.url.split('?')[0].slice(1)];
    return res.header('content-type', a.type).header('cache-control', 'public, max-age=86400').send(fs.createReadStream(a.file));
  }
}

@Module({})
export class ApiDocsModule {
  /** The service's own operations (COMMON_OPERATIONS are added) and the named schemas they refer to. */
  static forService(info: ApiInfo, operations: readonly ApiOperation[], schemas: Record<string, JsonSchema> = {}): DynamicModule {
    return {
      module: ApiDocsModule,
      controllers: [ApiDocsController],
      providers: [{ provide: API_DOCUMENT, useValue: openApiDocument(info, [...operations, ...COMMON_OPERATIONS], schemas) }],
    };
  }
}
