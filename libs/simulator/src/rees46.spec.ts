import * as fs from 'node:fs';
import { parse } from 'csv-parse/sync';
import { validateEvent } from '@tidemark/contracts';
import { mapRees46 } from './rees46';
import { SAMPLES } from './samples';

const SAMPLE = SAMPLES.rees46;

describe('mapRees46', () => {
  const row = ['2019-10-01 00:00:00 UTC', 'view', '44600062', '2103807459595387724', '', 'shiseido', '35.79', '541312140', '72d76fde'];

  it('maps a view to a product_view, keeping the 19-digit category id a string', () => {
    expect(mapRees46(row)).toEqual({
      ok: true,
      event: {
        id: expect.stringMatching(/^rees46-[0-9a-f]{24}$/),
        type: 'product_view',
        ts: Date.UTC(2019, 9, 1),
        userId: '541312140',
        sessionId: '72d76fde',
        productId: '44600062',
        categoryId: '2103807459595387724',
        price: 35.79,
        quantity: 1,
        attrs: { brand: 'shiseido' },
      },
    });
  });

  it('maps a purchase to an order with one item and amount = price', () => {
    const r = mapRees46(['2019-10-01 00:01:00 UTC', 'purchase', 'p', 'c', 'electronics.phone', '', '10.50', 'u', 's']);
    expect(r.ok && r.event).toMatchObject({ type: 'order_placed', amount: 10.5, items: [{ productId: 'p', categoryId: 'c', price: 10.5, quantity: 1 }], attrs: { categoryCode: 'electronics.phone' } });
    expect(r.ok && r.event.orderId).toBe(`${r.ok && r.event.id}-order`);
  });

  it('gives an exact duplicate row the same id, and a different row another', () => {
    const a = mapRees46(row);
    const b = mapRees46([...row]);
    const c = mapRees46([...row.slice(0, 6), '35.80', ...row.slice(7)]);
    expect(a.ok && b.ok && a.event.id === b.event.id).toBe(true);
    expect(a.ok && c.ok && a.event.id !== c.event.id).toBe(true);
  });

  it.each([
    [['x'], /expected 9 columns/],
    [[...row.slice(0, 1), 'click', ...row.slice(2)], /unknown event_type "click"/],
    [['yesterday', ...row.slice(1)], /event_time "yesterday"/],
    [[...row.slice(0, 6), '-1', ...row.slice(7)], /price "-1"/],
    [[...row.slice(0, 6), '', ...row.slice(7)], /price ""/],
    [[...row.slice(0, 8), ''], /user_session is empty/],
  ])('rejects a bad row: %j', (fields, error) => {
    const r = mapRees46(fields);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(error);
  });

  it('maps the real sample: counts per type, 5 exact duplicates, every event valid', () => {
    const rows: string[][] = parse(fs.readFileSync(SAMPLE), { from_line: 2, relax_column_count: true });
    const events = rows.map(mapRees46);
    expect(events.every((e) => e.ok)).toBe(true);
    const ok = events.flatMap((e) => (e.ok ? [e.event] : []));
    const byType = (t: string) => ok.filter((e) => e.type === t).length;
    expect([byType('product_view'), byType('add_to_cart'), byType('order_placed')]).toEqual([17055, 165, 214]);
    expect(ok.length - new Set(ok.map((e) => e.id)).size).toBe(5);
    for (const e of ok) expect(validateEvent(e, { now: Date.UTC(2026, 0, 1) }).ok).toBe(true);
  });
});
