import * as fs from 'node:fs';
import { parse } from 'csv-parse/sync';
import { kindOf, mapOnlineRetail } from './online-retail';
import { SAMPLES } from './samples';

describe('mapOnlineRetail', () => {
  it('an invoice line → add_to_cart of the stock code in visit inv-<invoice>, category the kind of product', () => {
    const r = mapOnlineRetail(['536365', '85123A', 'WHITE HANGING HEART T-LIGHT HOLDER', '6', '2010-12-01 08:26:00', '2.55', '17850.0', 'United Kingdom']);
    expect(r).toEqual({
      ok: true,
      event: { id: expect.stringMatching(/^retail-[0-9a-f]{24}$/), type: 'add_to_cart', ts: Date.UTC(2010, 11, 1, 8, 26), userId: '17850', sessionId: 'inv-536365', productId: '85123A', categoryId: 'HOLDER', price: 2.55, quantity: 6 },
    });
    const guest = mapOnlineRetail(['536544', '21773', '', '1', '2010-12-01 14:32', '2.51', '', 'United Kingdom']);
    expect(guest.ok && guest.event).toMatchObject({ userId: 'guest-536544', ts: Date.UTC(2010, 11, 1, 14, 32) });
    expect(guest.ok && 'categoryId' in guest.event).toBe(false);
  });

  it('skips cancellations, non-positive quantities and codes that are not products; refuses malformed rows', () => {
    expect(mapOnlineRetail(['C536379', 'D', 'Discount', '-1', '2010-12-01 09:41', '27.5', '14527.0', 'UK'])).toEqual({ ok: false, skipped: true, reason: 'cancellation' });
    expect(mapOnlineRetail(['536414', '22139', '', '-56', '2010-12-01 11:52', '0', '', 'UK'])).toMatchObject({ skipped: true });
    expect(mapOnlineRetail(['536370', 'POST', 'POSTAGE', '3', '2010-12-01 08:45', '18', '12583.0', 'France'])).toMatchObject({ skipped: true });
    expect(mapOnlineRetail(['1', '2'])).toMatchObject({ ok: false, skipped: false });
    expect(mapOnlineRetail(['536370', '22728', 'X', 'two', '2010-12-01 08:45', '1', '', 'UK'])).toMatchObject({ skipped: false, error: expect.stringContaining('Quantity') });
    expect(mapOnlineRetail(['536370', '22728', 'X', '2', '1 Dec 2010', '1', '', 'UK'])).toMatchObject({ skipped: false, error: expect.stringContaining('InvoiceDate') });
    expect(mapOnlineRetail(['536370', '22728', 'X', '2', '2010-12-01 08:45', '-1', '', 'UK'])).toMatchObject({ skipped: false, error: expect.stringContaining('UnitPrice') });
    expect(kindOf('SET OF 2 TINS VINTAGE BATHROOM')).toBe('BATHROOM');
    expect(kindOf('  ')).toBeUndefined();
  });

  it('maps every row of the sample in the repository: no row is malformed', () => {
    const rows = parse(fs.readFileSync(SAMPLES.onlineRetail), { from_line: 2, relax_column_count: true, relax_quotes: true }) as string[][];
    const out = rows.map(mapOnlineRetail);
    expect(out.filter((r) => !r.ok && !r.skipped)).toEqual([]);
    expect(out.filter((r) => r.ok).length).toBeGreaterThan(9_000);
  });
});
