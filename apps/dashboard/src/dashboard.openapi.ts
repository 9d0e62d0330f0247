/** The dashboard's HTTP routes as OpenAPI operations (libs/runtime openapi.ts). */
import type { ApiInfo, ApiOperation } from '@tidemark/runtime';

export const DASHBOARD_API: ApiInfo = { title: 'Tidemark dashboard', version: '1', description: 'The live page and the snapshot it shows (docs/dashboard.md).' };

const user = { name: 'user', in: 'query' as const, schema: { type: 'string', pattern: '^[\\w.:@-]{1,128}$' }, description: "Adds this user's recommendations" };
const file = (path: string, type: string): ApiOperation => ({ method: 'get', path, scope: 'public', tags: ['page'], summary: `The page: ${path}`, responses: { 200: { description: 'The file', content: { [type]: { type: 'string' } } } } });

export const DASHBOARD_OPERATIONS: ApiOperation[] = [
  file('/', 'text/html'),
  file('/app.js', 'text/javascript'),
  file('/style.css', 'text/css'),
  file('/vendor/chart.umd.min.js', 'text/javascript'),
  { method: 'get', path: '/v1/snapshot', scope: 'read', tags: ['data'], summary: 'The snapshot the page shows, once', parameters: [user], responses: { 200: { description: 'Snapshot', content: { 'application/json': { type: 'object', required: ['at', 'services'] } } } } },
  {
    method: 'get',
    path: '/v1/stream',
    scope: 'read',
    tags: ['data'],
    summary: 'Server-sent events: `event: snapshot` every DASHBOARD_REFRESH_MS; ends when the service stops',
    parameters: [user],
    responses: { 200: { description: 'An event stream', content: { 'text/event-stream': { type: 'string' } } } },
    errors: [429],
  },
  { method: 'get', path: '/v1/recommendations/:userId', scope: 'read', tags: ['data'], summary: "A user's recommendations (from the recommendation service)", responses: { 200: { description: 'Recommendations', content: { 'application/json': { type: 'object' } } } }, errors: [502] },
];
