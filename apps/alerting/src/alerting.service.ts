import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  ALERT_STATES,
  Alert,
  AlertEngine,
  AlertRule,
  AlertState,
  DEFAULT_RULES,
  SEVERITIES,
  Silence,
  Transition,
  WindowResult,
  describeErrors,
  silencedBy,
  compileSilence,
  expiredSilences,
  type CompiledSilence,
  validateRule,
  type WebhookPolicy,
  validateSilence,
} from '@tidemark/alerting';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { MetricsRegistry } from '@tidemark/observability';
import { parseDuration } from '@tidemark/streaming';
import { AlertHub } from './alert-hub';
import { AlertStore, OutboxEntry, TargetProgress } from './alert-store';
import { AlertingError, AlertingErrorCode } from './alerting.errors';

export interface ParsedResult {
  seq: number;
  result: WindowResult;
}

/**
 * The alerting service's state: the engine (rules, per-fingerprint lifecycles), silences and the outbox
 * sequence, kept in memory and written through to Redis. Every mutation (a batch of results, a rule change, a
 * wall-clock tick) runs one at a time; its state changes, notifications and stream position are committed in
 * one Redis transaction, and if that fails everything is reloaded from Redis and the caller retries.
 */
/** Outbox target key of a named receiver: `receiver:<name>` (a raw webhook's key is its URL). */
export const RECEIVER_TARGET = 'receiver:';

@Injectable()
export class AlertingService implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Alerting');
  private engine = new AlertEngine();
  private rules = new Map<string, AlertRule>();
  /** Silences with their matchers compiled once (libs/alerting silence.ts), never per alert transition. */
  private silences = new Map<string, CompiledSilence>();
  private lastSeq = 0;
  private outboxSeq = 0;
  /** Mutations wait for the state loaded from Redis (the consumer may start before the module's init hooks). */
  private loaded!: () => void;
  private queue: Promise<unknown> = new Promise<void>((resolve) => (this.loaded = resolve));
  private readonly bootedAt = Date.now();
  private ticker?: NodeJS.Timeout;
  private lastPrune = 0;
  /** True after a failed commit until the state is reloaded from Redis. */
  private stale = false;
  private readonly outboxListeners = new Set<(entries: OutboxEntry[]) => void>();
  private readonly transitions;
  private readonly muted;
  private readonly activeGauge;
  /** Receivers and raw URLs a rule may name (docs/security.md "Webhooks"). */
  private readonly webhookPolicy: WebhookPolicy;

  constructor(
    @Inject(CONFIG) private readonly config: TidemarkConfig,
    private readonly store: AlertStore,
    private readonly hub: AlertHub,
    metrics: MetricsRegistry,
  ) {
    this.transitions = metrics.counter('tidemark_alert_transitions_total', 'Alert state changes, by rule and change', ['rule', 'change']);
    this.muted = metrics.counter('tidemark_alert_silenced_total', 'Notifications muted by a silence, by rule', ['rule']);
    this.activeGauge = metrics.gauge('tidemark_alerts', 'Alerts by state', ['state']);
    this.webhookPolicy = { receivers: new Set(config.alerting.receivers.keys()), allowlist: config.alerting.webhookAllowlist };
  }

  async onModuleInit(): Promise<void> {
    const moved = await this.store.migrateLegacyKeys();
    if (moved > 0) this.logger.log(`renamed ${moved} alerting keys to their {a} hash-tagged names`);
    if (this.config.alerting.seedDefaultRules && (await this.store.seedOnce(DEFAULT_RULES))) this.logger.log(`seeded ${DEFAULT_RULES.length} default rules`);
    await this.reload();
    this.loaded();
  }

  onApplicationBootstrap(): void {
    if (this.ticker) return;
    this.ticker = setInterval(() => void this.tick().catch((e) => this.logger.warn(`tick: ${(e as Error).message}`)), this.config.alerting.tickMs);
    this.ticker.unref();
  }

  onApplicationShutdown(): void {
    if (this.ticker) clearInterval(this.ticker);
  }

  /** The outbox entries loaded at start, for the notifier; later ones come through `onOutbox`. */
  pendingOutbox: OutboxEntry[] = [];

  onOutbox(listener: (entries: OutboxEntry[]) => void): void {
    this.outboxListeners.add(listener);
  }

  // ---- queries ------------------------------------------------------------------------------------------

  listAlerts(state?: string): Alert[] {
    if (state !== undefined && state !== '' && !ALERT_STATES.includes(state as AlertState))
      throw new AlertingError(AlertingErrorCode.Invalid, `state must be one of ${ALERT_STATES.join(', ')}`, [{ field: 'state', reason: `must be one of ${ALERT_STATES.join(', ')}` }]);
    const all = this.engine.alerts();
    return state ? all.filter((a) => a.state === state) : all;
  }

  listRules(): AlertRule[] {
    return [...this.rules.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  getRule(id: string): AlertRule {
    const r = this.rules.get(id);
    if (!r) throw new AlertingError(AlertingErrorCode.NotFound, `no alert rule "${id}"`);
    return r;
  }

  listSilences(): Silence[] {
    return [...this.silences.values()].map(({ compiled: _compiled, ...silence }) => silence);
  }

  // ---- mutations ----------------------------------------------------------------------------------------

  /** A batch of results in stream order (already decoded). Resolves once committed; rejects = retry the batch. */
  processResults(batch: ParsedResult[]): Promise<void> {
    return this.serial(async () => {
      const fresh = batch.filter((b) => b.seq > this.lastSeq);
      if (fresh.length === 0) return;
      const now = Date.now();
      const transitions = fresh.flatMap((b) => this.engine.applyResult(b.result, now));
      await this.commit(transitions, { lastSeq: fresh[fresh.length - 1].seq });
    });
  }

  createRule(input: unknown): Promise<AlertRule> {
    return this.serial(async () => {
      const rule = this.validate(input);
      if (this.rules.has(rule.id)) throw new AlertingError(AlertingErrorCode.Conflict, `alert rule "${rule.id}" exists: PUT /v1/alert-rules/${rule.id} replaces it`);
      this.checkRuleCount();
      await this.commit(this.engine.upsertRule(rule), { rules: { put: rule } });
      this.rules.set(rule.id, rule);
      return rule;
    });
  }

  /** PUT: creates or replaces. */
  replaceRule(id: string, input: unknown): Promise<{ rule: AlertRule; created: boolean }> {
    return this.serial(async () => {
      const rule = this.validate(input, id);
      const created = !this.rules.has(id);
      if (created) this.checkRuleCount();
      await this.commit(this.engine.upsertRule(rule), { rules: { put: rule } });
      this.rules.set(id, rule);
      return { rule, created };
    });
  }

  deleteRule(id: string): Promise<void> {
    return this.serial(async () => {
      if (!this.rules.has(id)) throw new AlertingError(AlertingErrorCode.NotFound, `no alert rule "${id}"`);
      await this.commit(this.engine.removeRule(id), { rules: { delete: id } });
      this.rules.delete(id);
    });
  }

  async createSilence(input: unknown): Promise<Silence> {
    const now = Date.now();
    const v = validateSilence(input, now, parseDuration, { maxDurationMs: this.config.alerting.maxSilenceDurationMs });
    if (!v.ok) throw new AlertingError(AlertingErrorCode.Invalid, describeErrors(v.errors), v.errors);
    const max = this.config.alerting.maxSilences;
    const current = [...this.silences.values()].filter((s) => s.endsAt > now).length;
    if (current >= max) {
      const reason = `there are already ${current} silences, the limit (ALERTING_MAX_SILENCES); delete one or let one end`;
      throw new AlertingError(AlertingErrorCode.Invalid, reason, [{ field: 'silences', reason }]);
    }
    const silence: Silence = { id: randomUUID(), ...v.silence, createdAt: now };
    await this.unavailableOnError(() => this.store.putSilence(silence));
    this.silences.set(silence.id, compileSilence(silence));
    return silence;
  }

  /** Forgets the silences that have ended (in memory and in Redis). */
  async pruneSilences(now = Date.now()): Promise<number> {
    const ended = expiredSilences(this.silences.values(), now);
    if (ended.length === 0) return 0;
    await this.store.deleteSilences(ended);
    for (const id of ended) this.silences.delete(id);
    return ended.length;
  }

  async deleteSilence(id: string): Promise<void> {
    if (!this.silences.has(id)) throw new AlertingError(AlertingErrorCode.NotFound, `no silence "${id}"`);
    await this.unavailableOnError(() => this.store.deleteSilence(id));
    this.silences.delete(id);
  }

  // ---- internals ----------------------------------------------------------------------------------------

  private checkRuleCount(): void {
    const max = this.config.alerting.maxRules;
    if (this.rules.size >= max) {
      const reason = `there are already ${this.rules.size} rules, the limit (ALERTING_MAX_RULES)`;
      throw new AlertingError(AlertingErrorCode.Invalid, reason, [{ field: 'rules', reason }]);
    }
  }

  private validate(input: unknown, id?: string): AlertRule {
    const v = validateRule(input, id, this.webhookPolicy);
    if (!v.ok) throw new AlertingError(AlertingErrorCode.Invalid, describeErrors(v.errors), v.errors);
    return v.rule;
  }

  /** Wall-clock absence checks and pruning. */
  private tick(): Promise<void> {
    return this.serial(async () => {
      const now = Date.now();
      const transitions = this.config.alerting.absenceWallclock ? this.engine.tickWallClock(now, this.bootedAt) : [];
      if (now - this.lastPrune > 60_000) {
        this.lastPrune = now;
        this.engine.prune(this.config.alerting.retentionMs);
      }
      await this.pruneSilences(now).catch((e) => this.logger.warn(`pruning silences: ${(e as Error).message}`));
      if (transitions.length === 0 && !this.engine.hasChanges()) return;
      await this.commit(transitions, {});
    });
  }

  private async commit(transitions: Transition[], extra: { lastSeq?: number; rules?: { put?: AlertRule; delete?: string } }): Promise<void> {
    const { changed, removed } = this.engine.takeChanges();
    const now = Date.now();
    const outbox: OutboxEntry[] = [];
    const live: (Alert & { silenced?: boolean })[] = [];
    let outboxSeq = this.outboxSeq;
    const silences = [...this.silences.values()];
    for (const t of transitions) {
      const muting = silencedBy(t.alert, silences, now);
      live.push(muting.length > 0 && t.key ? { ...t.alert, silenced: true } : t.alert);
      if (!t.key || (t.change !== 'firing' && t.change !== 'resolved')) continue;
      if (muting.length > 0) continue;
      const fresh = (): TargetProgress => ({ done: false, attempts: 0, nextAt: now });
      const rule = this.rules.get(t.alert.rule);
      const a = this.config.alerting;
      const global = SEVERITIES.indexOf(t.alert.severity) >= SEVERITIES.indexOf(a.webhookMinSeverity) ? [...a.webhookUrls, ...a.defaultReceivers.map((n) => RECEIVER_TARGET + n)] : [];
      const urls = [...new Set([...global, ...(rule?.receivers ?? []).map((n) => RECEIVER_TARGET + n), ...(rule?.webhooks ?? [])])];
      outbox.push({
        id: t.key,
        seq: ++outboxSeq,
        notification: { ...t.alert, notification: t.change, idempotencyKey: t.key },
        nats: fresh(),
        webhooks: Object.fromEntries(urls.map((u) => [u, fresh()])),
      });
    }
    try {
      await this.store.commit({ lastSeq: extra.lastSeq, clock: this.engine.clock, outboxSeq, changed, removed, outbox, rules: extra.rules });
    } catch (e) {
      // The engine holds changes Redis does not: nothing may run on it until it is reloaded from Redis.
      this.stale = true;
      this.logger.warn(`commit failed, reloading the state from Redis: ${(e as Error).message}`);
      await this.reload().catch((re) => this.logger.warn(`reload failed (tried again before the next change): ${(re as Error).message}`));
      throw new AlertingError(AlertingErrorCode.Unavailable, `Redis is unavailable: ${(e as Error).message}`);
    }
    if (extra.lastSeq !== undefined) this.lastSeq = extra.lastSeq;
    this.outboxSeq = outboxSeq;
    for (const t of transitions) {
      this.transitions.inc({ rule: t.alert.rule, change: t.change });
      const note = t.key && (t.change === 'firing' || t.change === 'resolved') ? ` (${t.key})` : '';
      this.logger.log(`alert ${t.alert.rule} ${JSON.stringify(t.alert.labels)} ${t.change}${note}: ${t.alert.summary}`);
    }
    for (const a of live) {
      if (a.silenced) this.muted.inc({ rule: a.rule });
      this.hub.publish(a);
    }
    if (outbox.length > 0) for (const l of this.outboxListeners) l(outbox);
    this.updateGauge();
  }

  private updateGauge(): void {
    const counts: Record<string, number> = { pending: 0, firing: 0, resolved: 0 };
    for (const a of this.engine.alerts()) counts[a.state]++;
    for (const [state, n] of Object.entries(counts)) this.activeGauge.set({ state }, n);
  }

  /** Replaces the in-memory state with Redis's. */
  private async reload(): Promise<void> {
    const loaded = await this.store.load();
    this.rules = new Map(loaded.rules.map((r) => [r.id, r]));
    this.engine = new AlertEngine(loaded.rules, loaded.snapshot);
    this.silences = new Map(loaded.silences.map((s) => [s.id, compileSilence(s)]));
    this.lastSeq = loaded.lastSeq;
    this.outboxSeq = loaded.outboxSeq;
    this.pendingOutbox = loaded.outbox;
    this.stale = false;
    this.updateGauge();
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = async () => {
      if (this.stale) await this.unavailableOnError(() => this.reload());
      try {
        return await work();
      } catch (e) {
        // Domain errors are raised before anything changes; anything else may have left the engine half-changed.
        if (!(e instanceof AlertingError)) this.stale = true;
        throw e;
      }
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async unavailableOnError<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      throw new AlertingError(AlertingErrorCode.Unavailable, `Redis is unavailable: ${(e as Error).message}`);
    }
  }
}
