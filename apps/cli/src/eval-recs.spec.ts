import type { TidemarkEvent } from '@tidemark/contracts';
import { DEFAULT_PARAMS, InMemoryRecStore } from '@tidemark/recommend';
import { evaluate } from './eval-recs';

const T = Date.UTC(2019, 9, 1);
let n = 0;
const view = (u: string, p: string, ts: number): TidemarkEvent => ({ id: `e${n++}`, type: 'product_view', ts, userId: u, sessionId: `s-${u}`, productId: p });
const order = (u: string, p: string, ts: number): TidemarkEvent => ({ id: `e${n++}`, type: 'order_placed', ts, userId: u, sessionId: `s-${u}`, orderId: `o${n}`, amount: 1, items: [{ productId: p, price: 1, quantity: 1 }] });

describe('evaluate (hand-computed)', () => {
  const log = [
    view('u3', 'A', T),
    view('u4', 'A', T + 1),
    view('u5', 'A', T + 2),
    view('u1', 'B', T + 3),
    // u1 buys B: the service ranks u1's own recent B first (hit, rank 1); popularity ranks A (3) over B (1): miss at k=1
    order('u1', 'B', T + 4),
    // u6, unknown, buys A: the service answers trending, where B leads (view 1 + purchase 5 = 6 > A's 3): miss;
    // popularity: A (3 interactions) over B (2): hit
    order('u6', 'A', T + 5),
  ];

  it('asks before each purchase, then applies it; HR@k and MRR for the service and the baseline', async () => {
    const r = await evaluate(log, new InMemoryRecStore(DEFAULT_PARAMS), DEFAULT_PARAMS, 1, 0);
    expect(r).toEqual({
      events: 6,
      scored: 2,
      service: { purchases: 2, hits: 1, hr: 0.5, mrr: 0.5 },
      baseline: { purchases: 2, hits: 1, hr: 0.5, mrr: 0.5 },
      touchedBefore: 1,
    });
  });

  it('scores reciprocal ranks, and nothing during the warm-up', async () => {
    const r = await evaluate(log, new InMemoryRecStore(DEFAULT_PARAMS), DEFAULT_PARAMS, 10, 0);
    // k=10: u1's B is 1st for the service, 2nd for popularity; u6's A is 2nd for the service, 1st for popularity
    expect(r.service).toEqual({ purchases: 2, hits: 2, hr: 1, mrr: 0.75 });
    expect(r.baseline).toEqual({ purchases: 2, hits: 2, hr: 1, mrr: 0.75 });
    const later = await evaluate(log, new InMemoryRecStore(DEFAULT_PARAMS), DEFAULT_PARAMS, 10, 5);
    expect(later.scored).toBe(1);
  });
});
