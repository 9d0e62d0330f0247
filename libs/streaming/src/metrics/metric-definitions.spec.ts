import { MetricDefinitionError, parseMetricDefinitions, validateMetricDefinition, validateMetricDefinitions } from './metric-definitions';
import { DEFAULT_METRICS, withDefaultMetrics } from './default-metrics';

const ok = {
  name: 'revenue_by_campaign',
  source: { types: ['order_placed'] },
  key: 'attrs.campaign',
  value: 'amount',
  aggregation: { type: 'sum' },
  window: { type: 'tumbling', size: '5m' },
};

function issuesOf(raw: unknown): string[] {
  try {
    validateMetricDefinitions(Array.isArray(raw) ? raw : [raw]);
  } catch (e) {
    expect(e).toBeInstanceOf(MetricDefinitionError);
    return (e as MetricDefinitionError).issues.map((i) => `${i.metric} ${i.field}: ${i.message}`);
  }
  throw new Error('expected the definition to be rejected');
}

describe('metric definitions', () => {
  it('the 13 default metrics are valid definitions', () => {
    expect(DEFAULT_METRICS.map((m) => m.name)).toEqual([
      'events',
      'orders',
      'gmv',
      'gmv_by_category',
      'unique_visitors',
      'product_views',
      'top_products',
      'funnel',
      'payment_failure_rate',
      'orders_per_user',
      'cart_abandonment',
      'unpaid_orders',
      'late_events',
    ]);
    expect(Object.isFrozen(DEFAULT_METRICS)).toBe(true);
  });

  it('accepts a user definition, alone, in { metrics }, as JSON, or added to the defaults', () => {
    expect(validateMetricDefinition(ok)).toEqual(ok);
    expect(validateMetricDefinitions({ metrics: [ok] })).toEqual([ok]);
    expect(parseMetricDefinitions(JSON.stringify([ok]))).toEqual([ok]);
    const all = withDefaultMetrics([ok]);
    expect(all).toHaveLength(14);
    expect(all[13].name).toBe('revenue_by_campaign');
  });

  it('accepts every window and aggregation shape', () => {
    const defs = [
      { name: 'a', aggregation: { type: 'count' }, window: { type: 'sliding', size: 600000, hop: '1m', offset: '30s' } },
      { name: 'b', value: 'price', source: { types: ['product_view'] }, aggregation: { type: 'avg' }, window: { type: 'tumbling', size: '1h', offset: '15m' } },
      { name: 'c', value: 'price', aggregation: { type: 'min' }, window: { type: 'session', gap: '10m' }, key: 'sessionId' },
      { name: 'd', value: ['item.price', 'item.quantity'], source: { explode: 'items' }, aggregation: { type: 'max' }, window: { type: 'tumbling', size: '1m' } },
      { name: 'e', key: 'orderId', aggregation: { type: 'join', left: ['order_placed'], right: ['payment_failed'] }, window: { type: 'interval', lower: '-1m', upper: '5m' } },
      { name: 'f', source: { late: true, types: ['order_placed'] }, aggregation: { type: 'count' }, window: { type: 'sliding', size: '10m', hop: '5m' } },
    ];
    expect(validateMetricDefinitions(defs)).toHaveLength(6);
  });

  it('names the definition and the field in every error, listing all problems at once', () => {
    const err = (() => {
      try {
        validateMetricDefinitions([{ ...ok, window: { type: 'tumbling', size: 'soon' } }, { ...ok, name: 'x2', aggregation: { type: 'median' } }]);
      } catch (e) {
        return e as MetricDefinitionError;
      }
      throw new Error('not rejected');
    })();
    expect(err.message).toContain('metric "revenue_by_campaign": window.size: must be a duration like');
    expect(err.message).toContain('metric "x2": aggregation.type: must be one of count, sum');
    expect(err.issues).toHaveLength(2);
  });

  it.each([
    [{ ...ok, name: 'Bad-Name' }, /name: must match/],
    [{ ...ok, name: undefined }, /#0 name: must match/],
    [{ ...ok, description: 5 }, /description: must be a string/],
    [{ ...ok, colour: 'red' }, /colour: unknown field/],
    [{ ...ok, source: 'orders' }, /source: must be an object/],
    [{ ...ok, source: { types: [] } }, /source.types: must be a non-empty list/],
    [{ ...ok, source: { types: ['order_paid'] } }, /source.types\[0\]: unknown event type "order_paid"/],
    [{ ...ok, source: { types: ['order_placed'], filter: 'x' } }, /source.filter: unknown field/],
    [{ ...ok, source: { explode: 'item.x' } }, /source.explode: must be the field path of an array/],
    [{ ...ok, source: { late: 'yes' } }, /source.late: must be true or false/],
    [{ ...ok, source: { late: true, explode: 'items' } }, /source.explode: cannot explode the late output/],
    [{ ...ok, key: 'attrs..x' }, /key: must be a field path/],
    [{ ...ok, key: 'item.categoryId' }, /key: "item.categoryId" reads an exploded item, but source.explode is not set/],
    [{ ...ok, value: undefined }, /value: sum needs a numeric field path/],
    [{ ...ok, value: [] }, /value: must name at least one field path/],
    [{ ...ok, value: ['amount', 'x y'] }, /value\[1\]: must be a field path/],
    [{ ...ok, aggregation: { type: 'count' } }, /value: count takes no value/],
    [{ ...ok, aggregation: { type: 'distinct' }, value: undefined }, /value: distinct needs the field path of the member/],
    [{ ...ok, aggregation: 'sum' }, /aggregation: must be an object with a "type"/],
    [{ ...ok, aggregation: { type: 'sum', k: 3 } }, /aggregation.k: unknown field/],
    [{ ...ok, value: 'productId', aggregation: { type: 'topK', k: 0 } }, /aggregation.k: must be an integer from 1 to 1000/],
    [{ ...ok, value: 'productId', aggregation: { type: 'topK', k: 2.5 } }, /aggregation.k: must be an integer/],
    [{ ...ok, value: undefined, aggregation: { type: 'ratio', numerator: ['payment_failed'] } }, /aggregation.denominator: must be a non-empty list/],
    [{ ...ok, value: undefined, aggregation: { type: 'ratio', numerator: ['payment_failed'], denominator: ['payment_succeeded'] } }, /source.types: must include the types the aggregation uses \(missing payment_failed, payment_succeeded\)/],
    [{ ...ok, value: undefined, aggregation: { type: 'abandonment', started: ['add_to_cart'], completed: 'order_placed' } }, /aggregation.completed: must be a non-empty list/],
    [{ ...ok, value: 'sessionId', aggregation: { type: 'funnel', stages: [{ name: 'a', types: ['order_placed'] }] } }, /aggregation.stages: must be a list of at least 2 stages/],
    [{ ...ok, value: 'sessionId', aggregation: { type: 'funnel', stages: [{ name: 'a', types: ['order_placed'] }, { name: 'a', types: ['order_placed'] }] } }, /aggregation.stages\[1\].name: duplicate stage name "a"/],
    [{ ...ok, value: 'sessionId', aggregation: { type: 'funnel', stages: [{ name: 'a', types: ['order_placed'] }, 'b'] } }, /aggregation.stages\[1\]: must be an object/],
    [{ ...ok, value: 'sessionId', aggregation: { type: 'funnel', stages: [{ name: '', types: ['order_placed'] }, { name: 'b', types: ['nope'] }] } }, /stages\[0\].name: must be a non-empty string/],
    [{ ...ok, value: undefined, key: undefined, aggregation: { type: 'join', left: ['order_placed'], right: ['order_placed'] }, window: { type: 'interval', upper: '1m' } }, /key: a join needs a key/],
    [{ ...ok, value: undefined, aggregation: { type: 'join', left: ['order_placed'], right: ['order_placed'] }, window: { type: 'interval', upper: '1m' } }, /aggregation.right: an event type cannot be on both sides/],
    [{ ...ok, value: undefined, aggregation: { type: 'join', left: ['order_placed'], right: ['payment_failed'], fields: 'userId' }, source: undefined, window: { type: 'interval', upper: '1m' } }, /aggregation.fields: must be a list of field paths/],
    [{ ...ok, value: undefined, aggregation: { type: 'join', left: ['order_placed'], right: ['payment_failed'] }, source: undefined }, /window.type: a join needs an "interval" window/],
    [{ ...ok, value: undefined, aggregation: { type: 'join', left: ['order_placed'], right: ['payment_failed'] }, source: { late: true }, window: { type: 'interval', upper: '1m' } }, /aggregation.type: a join cannot read the late output/],
    [{ ...ok, value: undefined, aggregation: { type: 'join', left: ['order_placed'], right: ['payment_failed'] }, source: { explode: 'items' }, window: { type: 'interval', upper: '1m' } }, /source.explode: a join cannot explode items/],
    [{ ...ok, value: undefined, aggregation: { type: 'join', left: ['order_placed'], right: ['payment_failed'] }, source: undefined, window: { type: 'interval', upper: '1m', lower: '1m' } }, /window.lower: must be below window.upper/],
    [{ ...ok, window: { type: 'interval', upper: '1m' } }, /window.type: an "interval" window is for joins only/],
    [{ ...ok, window: 'tumbling' }, /window: must be an object/],
    [{ ...ok, window: { type: 'hopping', size: '1m' } }, /window.type: must be one of tumbling, sliding, session, interval/],
    [{ ...ok, window: { type: 'tumbling', size: 0 } }, /window.size: must be positive/],
    [{ ...ok, window: { type: 'tumbling', size: '1m', hop: '1m' } }, /window.hop: unknown field/],
    [{ ...ok, window: { type: 'tumbling', size: '1m', offset: '1m' } }, /window.offset: must be in \[0, size\)/],
    [{ ...ok, window: { type: 'sliding', size: '1m' } }, /window.hop: must be a duration/],
    [{ ...ok, window: { type: 'sliding', size: '1m', hop: '2m' } }, /window.hop: must not exceed the size/],
    [{ ...ok, window: { type: 'sliding', size: '2m', hop: '1m', offset: '-1s' } }, /window.offset: must be in \[0, hop\)/],
    [{ ...ok, window: { type: 'session', gap: '-5m' } }, /window.gap: must be positive/],
    [{ ...ok, source: { late: true }, window: { type: 'session', gap: '5m' } }, /window.type: the late output is counted in tumbling or sliding windows only/],
    ['gmv', /#0 \(definition\): must be an object/],
  ])('rejects %j', (raw, message) => {
    expect(issuesOf(raw).join('\n')).toMatch(message);
  });

  it('rejects duplicate names, non-lists and broken JSON', () => {
    expect(issuesOf([ok, ok]).join('\n')).toMatch(/revenue_by_campaign name: is defined twice/);
    expect(() => validateMetricDefinitions('x')).toThrow(/must be a list of metric definitions/);
    expect(() => parseMetricDefinitions('[{')).toThrow(/not valid JSON/);
    expect(() => withDefaultMetrics([{ ...ok, name: 'gmv' }])).toThrow(/metric "gmv": name: is defined twice/);
  });
});
