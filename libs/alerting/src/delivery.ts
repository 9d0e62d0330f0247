/** Notification delivery rules: what a webhook receives, and when a failed attempt is tried again. Pure. */
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

/** 2xx delivered; 4xx other than 408/429 will never succeed (given up at once); the rest are retried. */
export function classifyStatus(status: number): 'delivered' | 'retry' | 'rejected' {
  if (status >= 200 && status < 300) return 'delivered';
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return 'rejected';
  return 'retry';
}
