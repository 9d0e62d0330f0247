/** Test support: compact event builders. */
import type { EventType, OrderItem, TidemarkEvent } from '@tidemark/contracts';

let counter = 0;

export function ev(type: EventType, ts: number, fields: Partial<TidemarkEvent> = {}): TidemarkEvent {
  counter++;
  return { id: `e${counter}`, type, ts, userId: 'u1', sessionId: 's1', ...fields };
}

export function view(ts: number, productId = 'p1', fields: Partial<TidemarkEvent> = {}): TidemarkEvent {
  return ev('product_view', ts, { productId, categoryId: 'c1', price: 10, ...fields });
}

export function order(ts: number, orderId: string, amount: number, items: OrderItem[] = [], fields: Partial<TidemarkEvent> = {}): TidemarkEvent {
  return ev('order_placed', ts, { orderId, amount, items, ...fields });
}

export function paid(ts: number, orderId: string, fields: Partial<TidemarkEvent> = {}): TidemarkEvent {
  return ev('payment_succeeded', ts, { orderId, amount: 1, ...fields });
}
