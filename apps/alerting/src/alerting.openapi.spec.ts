import { alertRuleSchema, silenceSchema, validateRule, validateSilence } from '@tidemark/alerting';
import { openApiDocument } from '@tidemark/runtime';
import { parseDuration } from '@tidemark/streaming';
import { ALERTING_API, ALERTING_OPERATIONS, ALERTING_SCHEMAS } from './alerting.openapi';

/** The documented rule and silence schemas are the validators' own (no second copy that could drift). */
describe('alerting OpenAPI schemas', () => {
  const doc = openApiDocument(ALERTING_API, ALERTING_OPERATIONS, ALERTING_SCHEMAS) as { components: { schemas: Record<string, unknown> } };

  it('are the very objects validateRule and validateSilence compile', () => {
    expect(doc.components.schemas.AlertRule).toBe(alertRuleSchema);
    expect(doc.components.schemas.Silence).toBe(silenceSchema);
    // and survive JSON unchanged (what /openapi.json serves)
    expect(JSON.parse(JSON.stringify(doc)).components.schemas.AlertRule).toEqual(JSON.parse(JSON.stringify(alertRuleSchema)));
  });

  it('describe what the validators check (a bound in the schema is a bound of the validator)', () => {
    const webhooks = (alertRuleSchema.properties as Record<string, { maxItems?: number }>).webhooks.maxItems!;
    const rule = { id: 'r', kind: 'threshold', metric: 'gmv', op: '>', value: 1 };
    expect(validateRule({ ...rule, webhooks: Array.from({ length: webhooks + 1 }, () => 'http://x/') })).toMatchObject({ ok: false, errors: [{ field: 'webhooks' }] });
    const matchers = (silenceSchema.properties as Record<string, { maxItems?: number }>).matchers.maxItems!;
    const m = { name: 'a', value: 'x' };
    expect(validateSilence({ matchers: Array.from({ length: matchers }, () => m), duration: '1h' }, 0, parseDuration).ok).toBe(true);
    expect(validateSilence({ matchers: Array.from({ length: matchers + 1 }, () => m), duration: '1h' }, 0, parseDuration).ok).toBe(false);
  });
});
