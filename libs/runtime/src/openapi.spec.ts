import { documentedRoutes, openApiDocument } from './openapi';

describe('openApiDocument', () => {
  const doc = openApiDocument({ title: 't', version: '1', description: 'd' }, [
    { method: 'get', path: '/v1/things/:id', scope: 'read', summary: 'one', responses: { 200: { description: 'ok', content: { 'application/json': { type: 'object' } } } } },
    { method: 'get', path: '/health', scope: 'public', summary: 'open', responses: { 200: { description: 'ok' } } },
  ]) as { paths: Record<string, Record<string, Record<string, unknown>>>; components: { responses: Record<string, unknown> } };

  it('turns Nest paths into OpenAPI ones and declares their path parameters', () => {
    const op = doc.paths['/v1/things/{id}'].get;
    expect(op.parameters).toEqual([{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }]);
    expect(op.operationId).toBe('getV1ThingsId');
    expect(documentedRoutes(doc)).toEqual(new Set(['GET /v1/things/:id', 'GET /health']));
  });

  it('adds the problem answers, 401/403 only where a key is wanted, and resolves every reference', () => {
    const keyed = doc.paths['/v1/things/{id}'].get;
    const open = doc.paths['/health'].get;
    expect(Object.keys(keyed.responses as object).sort()).toEqual(['200', '400', '401', '403', '404', '413', '500', '503']);
    expect(Object.keys(open.responses as object)).not.toContain('401');
    expect([keyed.security, open.security]).toEqual([[{ apiKey: [] }], []]);
    const refs = JSON.stringify(doc).match(/#\/components\/responses\/\w+/g) ?? [];
    for (const r of refs) expect(doc.components.responses[r.split('/').pop()!]).toBeDefined();
  });
});
