import type { TidemarkEvent } from '@tidemark/contracts';
import { compileFieldPath, isItemPath, isValidFieldPath, keyString } from './field-path';

const event: TidemarkEvent = {
  id: 'e1',
  type: 'order_placed',
  ts: 1,
  userId: 'u1',
  sessionId: 's1',
  amount: 12.5,
  items: [{ productId: 'p1', categoryId: 'c1', price: 2.5, quantity: 5 }],
  attrs: { campaign: { name: 'spring' }, n: 0 },
};

describe('field paths', () => {
  it('validates', () => {
    expect(isValidFieldPath('productId')).toBe(true);
    expect(isValidFieldPath('attrs.campaign.name')).toBe(true);
    expect(isValidFieldPath('item.categoryId')).toBe(true);
    for (const bad of ['', '.x', 'x.', 'a..b', 'a-b', '1a', 'attrs.__proto__', 'constructor', 5, null]) expect(isValidFieldPath(bad)).toBe(false);
    expect(() => compileFieldPath('a..b')).toThrow(/invalid field path/);
    expect(isItemPath('item.price')).toBe(true);
    expect(isItemPath('items')).toBe(false);
  });

  it('reads the event, nested objects, and the exploded item', () => {
    const item = event.items![0];
    expect(compileFieldPath('userId')(event, undefined)).toBe('u1');
    expect(compileFieldPath('attrs.campaign.name')(event, undefined)).toBe('spring');
    expect(compileFieldPath('attrs.n')(event, undefined)).toBe(0);
    expect(compileFieldPath('attrs.missing.deeper')(event, undefined)).toBeUndefined();
    expect(compileFieldPath('productId')(event, undefined)).toBeUndefined();
    expect(compileFieldPath('item.categoryId')(event, item)).toBe('c1');
    expect(compileFieldPath('item')(event, item)).toBe(item);
    expect(compileFieldPath('item.price')(event, undefined)).toBeUndefined();
  });

  it('does not read inherited properties', () => {
    expect(compileFieldPath('toString')(event, undefined)).toBeUndefined();
    expect(compileFieldPath('attrs.hasOwnProperty')(event, undefined)).toBeUndefined();
  });

  it('turns keys into strings, missing for anything else', () => {
    expect(keyString('a')).toBe('a');
    expect(keyString(42)).toBe('42');
    expect(keyString(true)).toBe('true');
    for (const v of ['', undefined, null, Number.NaN, Infinity, {}, []]) expect(keyString(v)).toBeUndefined();
  });
});
