/**
 * Field paths in metric definitions: dot-separated property names, e.g. `productId`, `attrs.campaign`.
 * With `source.explode`, paths starting with `item.` read the exploded element (e.g. `item.categoryId`),
 * every other path reads the event.
 */
import type { TidemarkEvent } from '@tidemark/contracts';

export type Accessor = (event: TidemarkEvent, item: unknown) => unknown;

const SEGMENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const FORBIDDEN = new Set(['__proto__', 'prototype', 'constructor']);

export const ITEM_ALIAS = 'item';

export function isValidFieldPath(path: unknown): path is string {
  return typeof path === 'string' && path.length > 0 && path.split('.').every((s) => SEGMENT.test(s) && !FORBIDDEN.has(s));
}

export function isItemPath(path: string): boolean {
  return path === ITEM_ALIAS || path.startsWith(`${ITEM_ALIAS}.`);
}

/** One property step. Functions (inherited methods such as toString) read as missing; `__proto__`, `constructor` and `prototype` are refused by validation. */
function step(v: unknown, name: string): unknown {
  if (v === null || typeof v !== 'object') return undefined;
  const x = (v as Record<string, unknown>)[name];
  return typeof x === 'function' ? undefined : x;
}

/** A function reading the path (undefined when any step is missing). */
export function compileFieldPath(path: string): Accessor {
  if (!isValidFieldPath(path)) throw new Error(`invalid field path ${JSON.stringify(path)}`);
  const fromItem = isItemPath(path);
  const segments = path.split('.').slice(fromItem ? 1 : 0);
  if (segments.length === 0) return (_e, item) => item;
  if (segments.length === 1) {
    const [a] = segments;
    return fromItem ? (_e, item) => step(item, a) : (e) => step(e, a);
  }
  return (e, item) => {
    let v: unknown = fromItem ? item : e;
    for (const s of segments) {
      v = step(v, s);
      if (v === undefined) return undefined;
    }
    return v;
  };
}

/** A key or member as a string: non-empty strings, finite numbers and booleans; anything else is missing. */
export function keyString(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length > 0 ? v : undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === 'boolean') return String(v);
  return undefined;
}
