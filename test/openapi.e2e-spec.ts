/**
 * Every HTTP service serves an OpenAPI 3.1 document at /openapi.json that names every route Nest registers for
 * it (read from the controllers' metadata: test/support/routes.ts, no list here), and a reference page at /docs
 * whose assets it serves itself (docs/platform.md "API reference").
 */
import { spawnSync } from 'node:child_process';
import { alertRuleSchema, silenceSchema } from '@tidemark/alerting';
import { documentedRoutes } from '@tidemark/runtime';
import { metricDefinitionSchema } from '@tidemark/streaming';
import { ServerHandle, startNats, startRedis } from './support/servers';
import { ALL_SERVICES, Stack, startStack } from './support/stack';
import { routes } from './support/routes';

jest.setTimeout(120_000);

let nats: ServerHandle;
let redis: ServerHandle;
let stack: Stack;

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  stack = await startStack({ NATS_URL: nats.url, REDIS_URL: redis.url, PARTITIONS: '2' });
});

afterAll(async () => {
  await stack?.stop();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

/** @seriousme/openapi-schema-validator is ESM only: it runs in a child Node, which loads it with require(). */
function validate(doc: unknown): { valid: boolean; version?: string; errors?: unknown } {
  const script = `const { Validator } = require('@seriousme/openapi-schema-validator');
let s = ''; process.stdin.on('data', (d) => (s += d)).on('end', async () => {
  const v = new Validator(); const r = await v.validate(JSON.parse(s));
  process.stdout.write(JSON.stringify({ valid: r.valid, version: v.version, errors: r.errors }));
});`;
  const r = spawnSync(process.execPath, ['-e', script], { input: JSON.stringify(doc), encoding: 'utf8', cwd: `${__dirname}/..` });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

const all = routes();

describe.each(ALL_SERVICES)('%s', (service) => {
  it('serves a valid OpenAPI 3.1 document naming every route it registers', async () => {
    const res = await fetch(`${stack.url[service]}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc.openapi).toBe('3.1.0');
    expect(validate(doc)).toEqual({ valid: true, version: '3.1' });
    const documented = documentedRoutes(doc);
    const registered = all.filter((r) => r.service === service || r.service === 'every').map((r) => `${r.method} ${r.path}`);
    expect(registered.length).toBeGreaterThan(5);
    expect(registered.filter((r) => !documented.has(r))).toEqual([]);
    // and nothing documented that does not exist
    expect([...documented].filter((d) => !registered.includes(d))).toEqual([]);
    // each operation says which API-key scope it wants, as the code does
    const paths = doc.paths as Record<string, Record<string, { 'x-tidemark-scope': string }>>;
    for (const r of all.filter((x) => x.service === service || x.service === 'every')) {
      expect([r.method, r.path, paths[r.path.replace(/:(\w+)/g, '{$1}')][r.method.toLowerCase()]['x-tidemark-scope']]).toEqual([r.method, r.path, r.scope]);
    }
  });

  it('renders /docs from its own assets (no other host)', async () => {
    const page = await fetch(`${stack.url[service]}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    for (const asset of ['docs/swagger-ui.css', 'docs/swagger-ui-bundle.js']) {
      expect(html).toContain(asset);
      const a = await fetch(`${stack.url[service]}/${asset}`);
      expect([asset, a.status]).toEqual([asset, 200]);
      expect((await a.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
    }
  });
});

it('serves as request and definition schemas the very JSON Schemas the validators compile (no copy to drift)', async () => {
  const schemas = async (service: 'alerting' | 'aggregation') =>
    ((await (await fetch(`${stack.url[service]}/openapi.json`)).json()) as { components: { schemas: Record<string, unknown> } }).components.schemas;
  const asJson = (x: unknown) => JSON.parse(JSON.stringify(x));
  const alerting = await schemas('alerting');
  expect(alerting.AlertRule).toEqual(asJson(alertRuleSchema));
  expect(alerting.Silence).toEqual(asJson(silenceSchema));
  expect((await schemas('aggregation')).MetricDefinition).toEqual(asJson(metricDefinitionSchema));
});

it('would fail for a route missing from a document (so the test above can fail)', async () => {
  const doc = (await (await fetch(`${stack.url.aggregation}/openapi.json`)).json()) as Record<string, unknown>;
  const documented = documentedRoutes(doc);
  expect(documented.has('GET /v1/metrics/:name')).toBe(true);
  expect(documented.has('GET /v1/alert-rules')).toBe(false);
  expect(validate({ openapi: '3.1.0', info: { title: 'x' }, paths: {} }).valid).toBe(false);
});
