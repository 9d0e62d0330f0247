/**
 * Which events teach the recommender something, and how much: a product view (level 1), an add to cart
 * (level 2), and each item of a placed order (level 3, a purchase). Everything else is ignored.
 */
import type { Level } from './params';

export interface Interaction {
  userId: string;
  sessionId: string;
  productId: string;
  categoryId?: string;
  level: Level;
  ts: number;
}

/** The event types that carry interactions: every other type gives none (interactionsOf). */
export const INTERACTION_TYPES = ['product_view', 'add_to_cart', 'order_placed'] as const;

/** The interactions an event carries (none for events that say nothing about products). Pure, total. */
export function interactionsOf(event: unknown): Interaction[] {
  const out: Interaction[] = [];
  pushInteractions(event, out);
  return out;
}

/**
 * interactionsOf, appended to `out` (the service collects a batch's interactions into one array). Every
 * interaction has the same fields in the same order (categoryId undefined when the event names none), so the
 * planner's reads of them stay monomorphic.
 */
export function pushInteractions(event: unknown, out: Interaction[]): void {
  if (typeof event !== 'object' || event === null) return;
  const e = event as Record<string, unknown>;
  const userId = e.userId;
  const sessionId = e.sessionId;
  const ts = e.ts;
  if (typeof userId !== 'string' || typeof sessionId !== 'string' || typeof ts !== 'number' || !Number.isFinite(ts)) return;
  switch (e.type) {
    case 'product_view':
      return push(out, userId, sessionId, ts, e.productId, e.categoryId, 1);
    case 'add_to_cart':
      return push(out, userId, sessionId, ts, e.productId, e.categoryId, 2);
    case 'order_placed':
      if (Array.isArray(e.items))
        for (const i of e.items) if (typeof i === 'object' && i !== null) push(out, userId, sessionId, ts, (i as Record<string, unknown>).productId, (i as Record<string, unknown>).categoryId, 3);
      return;
    default:
      return;
  }
}

/** One interaction, if the product is named (a function, not a closure: no context allocated per event). */
function push(out: Interaction[], userId: string, sessionId: string, ts: number, p: unknown, c: unknown, level: Level): void {
  if (typeof p === 'string' && p !== '') out.push({ userId, sessionId, productId: p, categoryId: typeof c === 'string' && c !== '' ? c : undefined, level, ts });
}
