/**
 * The event schema as JSON Schema, compiled once by ajv. One branch per event type (ajv `discriminator`),
 * so the errors are those of the event's own type only.
 */
import { EVENT_TYPES, EventType, PAYMENT_EVENT_TYPES, PRODUCT_EVENT_TYPES } from './events';

const id = { type: 'string', minLength: 1, maxLength: 128 } as const;
const name = { type: 'string', minLength: 1, maxLength: 256 } as const;
const money = { type: 'number', minimum: 0 } as const;
const quantity = { type: 'integer', minimum: 1 } as const;
const ts = { type: ['string', 'number'] } as const;

const item = {
  type: 'object',
  required: ['productId', 'price', 'quantity'],
  properties: { productId: name, categoryId: name, price: money, quantity },
} as const;

const common = {
  id,
  type: { const: '' },
  ts,
  userId: name,
  sessionId: name,
  productId: name,
  categoryId: name,
  price: money,
  quantity,
  orderId: name,
  amount: money,
  items: { type: 'array', items: item, maxItems: 1000 },
  reason: { type: 'string', maxLength: 1024 },
  attrs: { type: 'object' },
};

function requiredFor(type: EventType): string[] {
  const base = ['id', 'type', 'ts', 'userId', 'sessionId'];
  if (PRODUCT_EVENT_TYPES.includes(type)) return [...base, 'productId'];
  if (type === 'order_placed') return [...base, 'orderId', 'amount', 'items'];
  if (PAYMENT_EVENT_TYPES.includes(type)) return [...base, 'orderId'];
  return base;
}

export const eventJsonSchema = {
  type: 'object',
  discriminator: { propertyName: 'type' },
  required: ['type'],
  properties: { type: { type: 'string' } },
  oneOf: EVENT_TYPES.map((type) => ({
    type: 'object',
    required: requiredFor(type),
    properties: { ...common, type: { const: type } },
  })),
};

/** Fields the contract knows; anything else at the top level is moved into `attrs`. */
export const KNOWN_EVENT_FIELDS = new Set(Object.keys(common));
