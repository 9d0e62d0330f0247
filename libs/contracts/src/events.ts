/**
 * The input contract: one shop event. See docs/architecture.md "Contracts: events".
 * After validation, `ts` is always epoch milliseconds and unknown top-level fields have been moved into `attrs`.
 */
export const EVENT_TYPES = [
  'page_view',
  'product_view',
  'add_to_cart',
  'remove_from_cart',
  'checkout_started',
  'order_placed',
  'payment_succeeded',
  'payment_failed',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** Events that describe one product: `productId` is required. */
export const PRODUCT_EVENT_TYPES: readonly EventType[] = ['product_view', 'add_to_cart', 'remove_from_cart'];
/** Events that describe a payment for an order: `orderId` is required. */
export const PAYMENT_EVENT_TYPES: readonly EventType[] = ['payment_succeeded', 'payment_failed'];

export interface OrderItem {
  productId: string;
  categoryId?: string;
  price: number;
  quantity: number;
}

export interface TidemarkEvent {
  id: string;
  type: EventType;
  /** Event time, epoch milliseconds. */
  ts: number;
  userId: string;
  sessionId: string;
  productId?: string;
  categoryId?: string;
  price?: number;
  quantity?: number;
  orderId?: string;
  amount?: number;
  items?: OrderItem[];
  reason?: string;
  attrs?: Record<string, unknown>;
}
