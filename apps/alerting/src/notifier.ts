import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { classifyStatus, rawWebhookProblem, retryDelay, webhookSignatureHeaders, type RetryPolicy } from '@tidemark/alerting';
import { CONFIG, TidemarkConfig, redactUrl } from '@tidemark/config';
import { subjects } from '@tidemark/contracts';
import { JetStreamPublisher } from '@tidemark/jetstream';
import { MetricsRegistry } from '@tidemark/observability';
import { AlertStore, OutboxEntry, TargetProgress } from './alert-store';
import { AlertingService, RECEIVER_TARGET } from './alerting.service';
import { BlockedAddressError, postWebhook } from './webhook-client';

/**
 * Delivers the durable outbox: each notification to NATS `alerts.<rule>` (`Nats-Msg-Id` = its idempotency key)
 * and POSTed to every webhook (`Idempotency-Key` header, the same on every retry), retried with exponential
 * backoff. Per target, the notifications of one fingerprint go out in order (a resolved never overtakes its
 * firing). Progress is saved in Redis; an entry leaves the outbox once every target is done, so a crash at any
 * point delivers again with the same key (at least once, idempotent by key).
 */
@Injectable()
export class Notifier implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Notifier');
  private readonly entries = new Map<string, OutboxEntry>();
  private timer?: NodeJS.Timeout;
  private running = false;
  private again = false;
  private stopped = false;
  private started = false;
  private readonly policy: RetryPolicy;
  private readonly deliveries;

  constructor(
    @Inject(CONFIG) private readonly config: TidemarkConfig,
    private readonly service: AlertingService,
    private readonly store: AlertStore,
    private readonly publisher: JetStreamPublisher,
    metrics: MetricsRegistry,
  ) {
    this.policy = { maxAttempts: config.alerting.webhookMaxAttempts, initialMs: config.alerting.webhookBackoffMs, maxMs: config.alerting.webhookBackoffMaxMs };
    this.deliveries = metrics.counter('tidemark_alert_notifications_total', 'Notification delivery attempts, by target kind and outcome', ['target', 'outcome']);
  }

  onApplicationBootstrap(): void {
    if (this.started) return;
    this.started = true;
    for (const e of this.service.pendingOutbox) this.entries.set(e.id, e);
    this.service.onOutbox((added) => {
      for (const e of added) this.entries.set(e.id, e);
      this.kick();
    });
    this.kick();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 10));
  }

  /** Runs a delivery round now (or right after the current one). */
  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.round(), 0);
  }

  private async round(): Promise<void> {
    this.running = true;
    this.again = false;
    try {
      await this.deliverDue(Date.now());
    } catch (e) {
      this.logger.warn(`delivery round: ${(e as Error).message}`);
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    if (this.again) return this.kick();
    const next = this.nextDue();
    if (next !== undefined) this.timer = setTimeout(() => void this.round(), Math.max(10, Math.min(next - Date.now(), 5000)));
  }

  private nextDue(): number | undefined {
    let min: number | undefined;
    for (const e of this.entries.values()) {
      const targets = [e.nats, ...Object.values(e.webhooks)];
      // Done but still here: its removal from Redis failed; try again in a while.
      if (targets.every((t) => t.done)) min = Math.min(min ?? Infinity, Date.now() + 1000);
      for (const t of targets) if (!t.done && (min === undefined || t.nextAt < min)) min = t.nextAt;
    }
    return min;
  }

  private async deliverDue(now: number): Promise<void> {
    const ordered = [...this.entries.values()].sort((a, b) => a.seq - b.seq);
    /** `<fingerprint>|<target>` lanes that have an earlier undelivered notification. */
    const blocked = new Set<string>();
    const attempts: Promise<void>[] = [];
    const touched = new Set<OutboxEntry>();
    for (const e of ordered) {
      const fp = e.notification.fingerprint;
      const targets: [string, TargetProgress, () => Promise<void>][] = [
        ['nats', e.nats, () => this.publishNats(e)],
        ...Object.entries(e.webhooks).map(([url, t]): [string, TargetProgress, () => Promise<void>] => [url, t, () => this.postWebhook(url, e, t.attempts)]),
      ];
      for (const [name, t, send] of targets) {
        if (t.done) continue;
        const lane = `${fp}|${name}`;
        if (blocked.has(lane)) continue;
        blocked.add(lane);
        if (t.nextAt > now) continue;
        touched.add(e);
        attempts.push(this.attempt(e, name, t, send));
      }
    }
    await Promise.all(attempts);
    // Entries done earlier whose removal from Redis failed are finished again too.
    for (const e of this.entries.values()) if ([e.nats, ...Object.values(e.webhooks)].every((t) => t.done)) touched.add(e);
    const going: OutboxEntry[] = [];
    const done: { entry: OutboxEntry; failures: string[] }[] = [];
    for (const e of touched) {
      if ([e.nats, ...Object.values(e.webhooks)].every((t) => t.done)) {
        const failures = Object.entries(e.webhooks)
          .filter(([, t]) => t.lastError !== undefined && t.attempts >= this.policy.maxAttempts)
          .map(([u]) => u);
        done.push({ entry: e, failures });
      } else going.push(e);
    }
    try {
      await this.store.saveProgress(going, done);
      for (const d of done) this.entries.delete(d.entry.id);
    } catch (err) {
      // Delivered targets stay marked in memory; Redis is told again next round (a crash meanwhile re-sends with the same key).
      this.logger.warn(`could not save delivery progress: ${(err as Error).message}`);
    }
  }

  private async attempt(e: OutboxEntry, name: string, t: TargetProgress, send: () => Promise<void>): Promise<void> {
    const kind = name === 'nats' ? 'nats' : 'webhook';
    t.attempts++;
    try {
      await send();
      t.done = true;
      delete t.lastError;
      this.deliveries.inc({ target: kind, outcome: 'delivered' });
    } catch (err) {
      const rejected = err instanceof RejectedError || err instanceof BlockedAddressError;
      t.lastError = (err as Error).message;
      // NATS is retried forever (it is our own stream); a webhook gives up after maxAttempts or a 4xx answer.
      if (kind === 'webhook' && (rejected || t.attempts >= this.policy.maxAttempts)) {
        t.done = true;
        this.deliveries.inc({ target: kind, outcome: 'failed' });
        this.logger.error(`webhook ${targetLabel(name)}: gave up on ${e.id} after ${t.attempts} attempts: ${t.lastError}`);
        t.attempts = Math.max(t.attempts, this.policy.maxAttempts);
      } else {
        t.nextAt = Date.now() + retryDelay(t.attempts, this.policy);
        this.deliveries.inc({ target: kind, outcome: 'retry' });
        this.logger.warn(`${kind} ${targetLabel(name)}: attempt ${t.attempts} for ${e.id} failed (${t.lastError}); next in ${t.nextAt - Date.now()} ms`);
      }
    }
  }

  private async publishNats(e: OutboxEntry): Promise<void> {
    const { idempotencyKey, ...body } = e.notification;
    await this.publisher.publish(subjects.alert(e.notification.rule), Buffer.from(JSON.stringify({ ...body, idempotencyKey })), { msgId: idempotencyKey });
  }

  /**
   * One POST to a target: a receiver (`receiver:<name>`: its URL, headers, Standard Webhooks signature and
   * private-address permission) or a raw URL (ALERTING_WEBHOOK_URLS, or a rule's URL still on the allow-list).
   * Addresses are checked after DNS and redirects are not followed (webhook-client.ts, docs/security.md).
   */
  private async postWebhook(target: string, e: OutboxEntry, attempt: number): Promise<void> {
    const a = this.config.alerting;
    let url: string;
    let headers: Record<string, string> = {};
    let secret: string | undefined;
    let allowPrivate = false;
    if (target.startsWith(RECEIVER_TARGET)) {
      const r = a.receivers.get(target.slice(RECEIVER_TARGET.length));
      if (!r) throw new RejectedError(`receiver "${target.slice(RECEIVER_TARGET.length)}" is no longer defined in ALERTING_RECEIVERS_FILE`);
      ({ url, headers, secret, allowPrivate } = r);
    } else {
      url = target;
      if (!a.webhookUrls.includes(url) && rawWebhookProblem(url, a.webhookAllowlist) !== undefined) {
        throw new RejectedError('the URL is not on ALERTING_WEBHOOK_ALLOWLIST (any more)');
      }
    }
    const body = JSON.stringify(e.notification);
    const signature = secret ? webhookSignatureHeaders(secret, e.id, Math.floor(Date.now() / 1000), body) : {};
    const status = await postWebhook({
      url,
      allowPrivate,
      body,
      timeoutMs: a.webhookTimeoutMs,
      headers: {
        ...headers,
        'content-type': 'application/json',
        'idempotency-key': e.id,
        'x-tidemark-attempt': String(attempt),
        'x-tidemark-rule': e.notification.rule,
        ...signature,
      },
    });
    const verdict = classifyStatus(status);
    if (verdict === 'delivered') return;
    if (verdict === 'rejected') throw new RejectedError(`HTTP ${status} (not retried${status >= 300 && status < 400 ? '; redirects are not followed' : ''})`);
    throw new Error(`HTTP ${status}`);
  }
}

/** A target as logs show it: `receiver:<name>`, or a raw URL without its credentials. */
function targetLabel(target: string): string {
  return target === 'nats' || target.startsWith(RECEIVER_TARGET) ? target : redactUrl(target);
}

class RejectedError extends Error {}
