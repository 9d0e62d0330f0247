/**
 * The REES46 / Open CDP e-commerce log format (`event_time,event_type,product_id,category_id,category_code,
 * brand,price,user_id,user_session`) mapped to Tidemark events. Pure.
 *   view → product_view, cart → add_to_cart, remove_from_cart → remove_from_cart,
 *   purchase → order_placed with one item and amount = price.
 * `id` is a stable hash of the row, so exact duplicate rows count once; `category_id` stays a string (its 19
 * digits are beyond 2^53); `category_code` and `brand` go to `attrs` when present.
 */
import { createHash } from 'node:crypto';
import type { TidemarkEvent } from '@tidemark/contracts';
import { parseIsoTime } from '@tidemark/contracts';

export const REES46_COLUMNS = ['event_time', 'event_type', 'product_id', 'category_id', 'category_code', 'brand', 'price', 'user_id', 'user_session'] as const;

const TYPES: Record<string, TidemarkEvent['type']> = {
  view: 'product_view',
  cart: 'add_to_cart',
  remove_from_cart: 'remove_from_cart',
  purchase: 'order_placed',
};

export type Rees46Row = { ok: true; event: TidemarkEvent } | { ok: false; error: string };

export function rowId(fields: readonly string[]): string {
  return 'rees46-' + createHash('sha1').update(fields.join('\u0001')).digest('hex').slice(0, 24);
}

export function mapRees46(fields: readonly string[]): Rees46Row {
  if (fields.length !== REES46_COLUMNS.length) return { ok: false, error: `expected ${REES46_COLUMNS.length} columns, found ${fields.length}` };
  const [time, type, productId, categoryId, categoryCode, brand, priceText, userId, sessionId] = fields;
  const mapped = TYPES[type];
  if (!mapped) return { ok: false, error: `unknown event_type "${type}"` };
  const ts = parseIsoTime(time.replace(/ UTC$/, 'Z').replace(' ', 'T'));
  if (Number.isNaN(ts)) return { ok: false, error: `event_time "${time}" is not a time` };
  const price = Number(priceText);
  if (priceText === '' || !Number.isFinite(price) || price < 0) return { ok: false, error: `price "${priceText}" is not a number >= 0` };
  if (!productId) return { ok: false, error: 'product_id is empty' };
  if (!userId) return { ok: false, error: 'user_id is empty' };
  if (!sessionId) return { ok: false, error: 'user_session is empty' };
  const id = rowId(fields);
  const attrs: Record<string, unknown> = {};
  if (categoryCode) attrs.categoryCode = categoryCode;
  if (brand) attrs.brand = brand;
  const base = { id, type: mapped, ts, userId, sessionId, ...(Object.keys(attrs).length ? { attrs } : {}) };
  const product = { productId, ...(categoryId ? { categoryId } : {}), price };
  if (mapped === 'order_placed') {
    return { ok: true, event: { ...base, orderId: `${id}-order`, amount: price, items: [{ ...product, quantity: 1 }] } };
  }
  return { ok: true, event: { ...base, ...product, quantity: 1 } };
}
