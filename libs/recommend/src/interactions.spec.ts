import fc from 'fast-check';
import { INTERACTION_TYPES, type Interaction, interactionsOf, pushInteractions } from './interactions';

const T = Date.UTC(2026, 0, 1);
const base = { userId: 'u', sessionId: 's', ts: T, productId: 'p', categoryId: 'c', items: [{ productId: 'p', categoryId: 'c' }] };

describe('interactionsOf and INTERACTION_TYPES (the recommendation service decodes only events that name one)', () => {
  it('every listed type carries an interaction', () => {
    for (const type of INTERACTION_TYPES) expect(interactionsOf({ ...base, type })).toEqual([{ userId: 'u', sessionId: 's', productId: 'p', categoryId: 'c', ts: T, level: expect.any(Number) }]);
  });

  it('appends to a batch, every interaction with the same fields in the same order (no category: undefined)', () => {
    const out: Interaction[] = interactionsOf({ ...base, type: 'product_view' });
    pushInteractions({ ...base, type: 'order_placed', items: [{ productId: 'a', categoryId: 'k' }, { productId: 'b' }, { productId: '' }, null, 'x'] }, out);
    pushInteractions({ ...base, type: 'page_view' }, out);
    expect(out.map((x) => [x.productId, x.categoryId, x.level])).toEqual([['p', 'c', 1], ['a', 'k', 3], ['b', undefined, 3]]);
    for (const x of out) expect(Object.keys(x)).toEqual(['userId', 'sessionId', 'productId', 'categoryId', 'level', 'ts']);
  });

  it('any other type carries none, whatever the event holds', () => {
    fc.assert(
      fc.property(
        fc.string().filter((t) => !(INTERACTION_TYPES as readonly string[]).includes(t)),
        fc.dictionary(fc.string(), fc.jsonValue()),
        (type, extra) => {
          expect(interactionsOf({ ...extra, ...base, type })).toEqual([]);
        },
      ),
      { numRuns: 500 },
    );
  });
});
