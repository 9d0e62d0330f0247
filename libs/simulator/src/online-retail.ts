/**
 * The UCI Online Retail format (`InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,
 * Country`, data/samples/README.md) mapped to Tidemark events for basket completion. Pure.
 *   one line of an invoice → add_to_cart (level 2) of StockCode, sessionId `inv-<InvoiceNo>`;
 *   userId the CustomerID without its `.0` (`guest-<InvoiceNo>` when empty); ts the invoice time (UTC).
 * Skipped (not an error): cancellations (`C…` invoices), lines with a quantity ≤ 0, and codes that are not
 * products (postage, bank charges, manual: codes not starting with a digit). The data set has no categories:
 * the last word of the description ("… T-LIGHT HOLDER" → `HOLDER`), the product's kind, stands in.
 */
import { createHash } from 'node:crypto';
import type { TidemarkEvent } from '@tidemark/contracts';

export const ONLINE_RETAIL_COLUMNS = ['InvoiceNo', 'StockCode', 'Description', 'Quantity', 'InvoiceDate', 'UnitPrice', 'CustomerID', 'Country'] as const;

export type OnlineRetailRow = { ok: true; event: TidemarkEvent & { type: 'add_to_cart' } } | { ok: false; skipped: true; reason: string } | { ok: false; skipped: false; error: string };

/** The kind of product a description names: its last word, upper case (undefined when there is none). */
export function kindOf(description: string): string | undefined {
  const words = description.toUpperCase().match(/[A-Z][A-Z0-9'-]*/g);
  return words ? words[words.length - 1] : undefined;
}

export function mapOnlineRetail(fields: readonly string[]): OnlineRetailRow {
  if (fields.length !== ONLINE_RETAIL_COLUMNS.length) return { ok: false, skipped: false, error: `expected ${ONLINE_RETAIL_COLUMNS.length} columns, found ${fields.length}` };
  const [invoice, code, description, qtyText, time, priceText, customer] = fields.map((f) => f.trim());
  if (invoice.startsWith('C')) return { ok: false, skipped: true, reason: 'cancellation' };
  const quantity = Number(qtyText);
  if (!Number.isInteger(quantity)) return { ok: false, skipped: false, error: `Quantity "${qtyText}" is not a whole number` };
  if (quantity <= 0) return { ok: false, skipped: true, reason: 'quantity <= 0' };
  if (!/^\d/.test(code)) return { ok: false, skipped: true, reason: `"${code}" is not a product` };
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})(?::(\d{2}))?$/.exec(time);
  if (!m) return { ok: false, skipped: false, error: `InvoiceDate "${time}" is not YYYY-MM-DD HH:MM` };
  const ts = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] ?? 0));
  const price = Number(priceText);
  if (priceText === '' || !Number.isFinite(price) || price < 0) return { ok: false, skipped: false, error: `UnitPrice "${priceText}" is not a number >= 0` };
  const userId = customer === '' ? `guest-${invoice}` : customer.replace(/\.0$/, '');
  const category = kindOf(description);
  const id = 'retail-' + createHash('sha1').update(fields.join('\u0001')).digest('hex').slice(0, 24);
  return { ok: true, event: { id, type: 'add_to_cart', ts, userId, sessionId: `inv-${invoice}`, productId: code, ...(category ? { categoryId: category } : {}), price, quantity } };
}
