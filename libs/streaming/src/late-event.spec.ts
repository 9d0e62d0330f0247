import type { TidemarkEvent } from '@tidemark/contracts';
import { lateMsgId } from './late-event';

describe('lateMsgId', () => {
  const event = { id: 'e:1|x', type: 'product_view', ts: 1, userId: 'u', sessionId: 's' } as TidemarkEvent;
  const w = (start: number) => ({ start, end: start + 3_600_000 });

  it('repeats for a replay that finds the event late for the same windows (a no-op for JetStream), in any order', () => {
    expect(lateMsgId({ event, metric: 'top_products', windows: [w(0), w(300_000)] })).toBe(lateMsgId({ event, metric: 'top_products', windows: [w(300_000), w(0)] }));
  });

  it('differs when the event is late for more windows, for another metric, or is another event', () => {
    const first = lateMsgId({ event, metric: 'top_products', windows: [w(0)] });
    expect(lateMsgId({ event, metric: 'top_products', windows: [w(0), w(300_000)] })).not.toBe(first);
    expect(lateMsgId({ event, metric: 'product_views', windows: [w(0)] })).not.toBe(first);
    expect(lateMsgId({ event: { ...event, id: 'e:2' }, metric: 'top_products', windows: [w(0)] })).not.toBe(first);
  });
});
