import type { TidemarkEvent, WindowResultDto } from '@tidemark/contracts';
import { compareWindows, computeReference, expectedValue, REFERENCE_METRICS } from './reference';

const MIN = 60_000;
const T = 100 * 60 * MIN;
const view = (id: string, ts: number, productId: string, userId = 'u1'): TidemarkEvent => ({ id, type: 'product_view', ts, userId, sessionId: 's', productId, categoryId: 'c' });

/** The service's answer when it is exactly right: every reference window, final, with its value. */
function perfect(events: TidemarkEvent[]): Map<string, WindowResultDto[]> {
  const ref = computeReference(events, () => true);
  const out = new Map<string, WindowResultDto[]>();
  for (const m of REFERENCE_METRICS) {
    out.set(
      m.name,
      [...ref.get(m.name)!.values()].map((c) => {
        let value = expectedValue(c.acc);
        if (value instanceof Map)
          value = [...value.entries()]
            .sort((a, b) => b[1] - a[1])
            .slice(0, 10)
            .map(([member, count]) => ({ member, count }));
        return { metric: m.name, key: c.key, windowStart: c.start, windowEnd: c.end, value, final: true, version: 1 } as WindowResultDto;
      }),
    );
  }
  return out;
}

describe('compareWindows', () => {
  const events = [view('a', T + 1_000, 'p1'), view('b', T + 2_000, 'p2', 'u2'), view('c', T + MIN + 5, 'p1')];
  const ref = computeReference(events, () => true);
  const horizon = T + 2 * 60 * MIN;

  it('finds nothing when the service equals the reference, and counts the events', () => {
    const got = perfect(events);
    const r = compareWindows(ref, (m) => got.get(m)!, horizon);
    expect(r.mismatches).toEqual([]);
    expect(r.events).toEqual({ expected: 3, counted: 3, lost: 0, doubled: 0 });
    expect(r.windows).toBeGreaterThan(10);
  });

  it('reports a lost event, a doubled one, a missing window, an extra one and one not final', () => {
    const got = perfect(events);
    const ev = got.get('events')!;
    ev[0] = { ...ev[0], value: 1 }; // minute T: 2 expected
    ev[1] = { ...ev[1], value: 2, final: false }; // minute T+1: 1 expected
    ev.push({ ...ev[0], windowStart: T + 30 * MIN, windowEnd: T + 31 * MIN, value: 4 });
    got.set('orders_per_user', []);
    got.set('product_views', got.get('product_views')!.slice(1));
    const r = compareWindows(ref, (m) => got.get(m) ?? [], horizon);
    expect(r.events).toEqual({ expected: 3, counted: 1 + 2 + 4, lost: 1, doubled: 1 + 4 });
    expect(r.mismatches.map((x) => `${x.metric} ${x.problem}`).sort()).toEqual(['events extra', 'events not final', 'events value', 'events value', 'product_views missing']);
  });

  it('allows HyperLogLog 2 % and any order of top-K ties, and nothing more', () => {
    const many = Array.from({ length: 200 }, (_, i) => view(`v${i}`, T + i, `p${i % 12}`, `u${i}`));
    const r0 = computeReference(many, () => true);
    const got = perfect(many);
    const uv = got.get('unique_visitors')!;
    uv[0] = { ...uv[0], value: 203 };
    expect(compareWindows(r0, (m) => got.get(m)!, horizon).mismatches).toEqual([]);
    uv[0] = { ...uv[0], value: 205 };
    expect(compareWindows(r0, (m) => got.get(m)!, horizon).mismatches.map((x) => x.metric)).toEqual(['unique_visitors']);
    uv[0] = { ...uv[0], value: 200 };
    // 200 views of 12 products: p0..p7 have 17, p8..p11 have 16 — a top 10 takes two of the four 16s, any two
    const top = got.get('top_products')!;
    const tied = (top[0].value as { member: string; count: number }[]).filter((x) => x.count === 16).map((x) => x.member);
    expect(tied).toHaveLength(2);
    const swap = (top[0].value as { member: string; count: number }[]).map((x) => (x.member === tied[0] ? { member: ['p8', 'p9', 'p10', 'p11'].find((p) => !tied.includes(p))!, count: 16 } : x));
    top[0] = { ...top[0], value: swap };
    expect(compareWindows(r0, (m) => got.get(m)!, horizon).mismatches).toEqual([]);
    top[0] = { ...top[0], value: swap.map((x, i) => (i === 0 ? { ...x, count: x.count + 1 } : x)) };
    expect(compareWindows(r0, (m) => got.get(m)!, horizon).mismatches.map((x) => x.metric)).toEqual(['top_products']);
  });
});
