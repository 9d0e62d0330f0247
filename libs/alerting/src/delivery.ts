/** Notification delivery rules: what a webhook receives, and when a failed attempt is tried again. Pure. */
import { createHmac } from 'node:crypto';
import type { Alert } from './alert';

export type NotificationKind = 'firing' | 'resolved';

/** The body of `alerts.<rule>` and of a webhook POST: the alert plus what happened. */
export type Notification = Alert & { notification: NotificationKind; idempotencyKey: string };

export interface RetryPolicy {
  maxAttempts: number;
  initialMs: number;
  maxMs: number;
}

/** Delay before attempt `attempt + 1` after `attempt` failures (1-based): initial × 2^(attempt-1), capped. */
export function retryDelay(attempt: number, policy: RetryPolicy): number {
  return Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt - 1));
}

/**
 * 2xx delivered; 4xx other than 408/429 will never succeed (given up at once), nor will a redirect (3xx: never
 * followed, docs/security.md "Webhooks"); the rest are retried.
 */
export function classifyStatus(status: number): 'delivered' | 'retry' | 'rejected' {
  if (status >= 200 && status < 300) return 'delivered';
  if (status >= 300 && status < 400) return 'rejected';
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return 'rejected';
  return 'retry';
}

/**
 * Standard Webhooks v1 signature (https://www.standardwebhooks.com, docs/security.md "Webhooks"): base64 of
 * HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>` keyed with the base64-decoded secret (after
 * `whsec_`), as the `webhook-signature` header value `v1,<base64>`.
 */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
  const mac = createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers of one delivery attempt. */
export function webhookSignatureHeaders(secret: string, id: string, timestampSeconds: number, body: string): Record<string, string> {
  return { 'webhook-id': id, 'webhook-timestamp': String(timestampSeconds), 'webhook-signature': signWebhook(secret, id, timestampSeconds, body) };
}
