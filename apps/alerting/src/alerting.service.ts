import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  ALERT_STATES,
  Alert,
  AlertRule,
  AlertState,
  DEFAULT_RULES,
  Silence,
  describeErrors,
  compileSilence,
  expiredSilences,
  validateRule,
  type WebhookPolicy,
  validateSilence,
} from '@tidemark/alerting';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import type { BatchContext, BatchOutcome, ConsumedMessage } from '@tidemark/jetstream';
import { Outcome } from '@tidemark/jetstream';
import { MetricsRegistry } from '@tidemark/observability';
import { CheckpointedPartitions } from '@tidemark/runtime';
import { parseDuration } from '@tidemark/streaming';
import { AlertHub } from './alert-hub';
import { AlertStore, OutboxEntry } from './alert-store';
import { AlertingError, AlertingErrorCode } from './alerting.errors';
import { AlertingState, ParsedResult, RESULT_DECODER } from './alerting.state';

export { RECEIVER_TARGET } from './alerting.state';

/** The results stream is not partitioned: its state is the lifecycle's partition 0. */
const RESULTS = 0;

/**
 * Binds the alerting state (alerting.state.ts) to the shared lifecycle, the API and the metrics. Results are
 * applied in memory and checkpointed every CHECKPOINT_INTERVAL_MS; rule changes and wall-clock ticks run
 * between batches and are checkpointed before they return (a failure answers 503 and changes nothing).
 */
@Injectable()
export class AlertingService implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Alerting');
  private readonly partitions: CheckpointedPartitions<AlertingState, ParsedResult>;
  private readonly bootedAt = Date.now();
  private ticker?: NodeJS.Timeout;
  private readonly outboxListeners = new Set<(entries: OutboxEntry[]) => void>();
  private readonly transitionsTotal;
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
    this.transitionsTotal = metrics.counter('tidemark_alert_transitions_total', 'Alert state changes, by rule and change', ['rule', 'change']);
    this.muted = metrics.counter('tidemark_alert_silenced_total', 'Notifications muted by a silence, by rule', ['rule']);
    this.activeGauge = metrics.gauge('tidemark_alerts', 'Alerts by state', ['state']);
    const checkpointSeconds = metrics.histogram('tidemark_checkpoint_duration_seconds', 'One checkpoint of a partition: the fenced write of what changed, by outcome', ['outcome'], [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]);
    this.webhookPolicy = { receivers: new Set(config.alerting.receivers.keys()), allowlist: config.alerting.webhookAllowlist };
    this.partitions = new CheckpointedPartitions(
      () =>
        new AlertingState(store, config, {
          committed: (transitions, live, outbox) => {
            for (const t of transitions) {
              this.transitionsTotal.inc({ rule: t.alert.rule, change: t.change });
              const note = t.key && (t.change === 'firing' || t.change === 'resolved') ? ` (${t.key})` : '';
              this.logger.log(`alert ${t.alert.rule} ${JSON.stringify(t.alert.labels)} ${t.change}${note}: ${t.alert.summary}`);
            }
            for (const a of live) {
              if (a.silenced) this.muted.inc({ rule: a.rule });
              this.hub.publish(a);
            }
            if (outbox.length > 0) for (const l of this.outboxListeners) l(outbox);
            this.updateGauge();
          },
          restored: (outbox) => {
            this.pendingOutbox = outbox;
            if (outbox.length > 0) for (const l of this.outboxListeners) l(outbox);
            this.updateGauge();
          },
        }),
      {
        decoder: RESULT_DECODER,
        intervalMs: config.checkpointIntervalMs,
        maxEvents: config.checkpointMaxEvents,
        logger: this.logger,
        onCheckpoint: (i) => checkpointSeconds.observe({ outcome: i.outcome }, i.durationMs / 1000),
      },
    );
  }

  async onModuleInit(): Promise<void> {
    const moved = await this.store.migrateLegacyKeys();
    if (moved > 0) this.logger.log(`renamed ${moved} alerting keys to their {a} hash-tagged names`);
    if (this.config.alerting.seedDefaultRules && (await this.store.seedOnce(DEFAULT_RULES))) this.logger.log(`seeded ${DEFAULT_RULES.length} default rules`);
    await this.partitions.open([RESULTS], Date.now());
  }

  onApplicationBootstrap(): void {
    if (this.ticker) return;
    this.partitions.start();
    this.ticker = setInterval(() => void this.tick().catch((e) => this.logger.warn(`tick: ${(e as Error).message}`)), this.config.alerting.tickMs);
    this.ticker.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    await this.partitions.stop(Date.now());
  }

  /** The outbox entries loaded at start, for the notifier; later ones come through `onOutbox`. */
  pendingOutbox: OutboxEntry[] = [];

  onOutbox(listener: (entries: OutboxEntry[]) => void): void {
    this.outboxListeners.add(listener);
  }

  /** One batch of `results.>`, in stream order: applied in memory, acked after the checkpoint that holds it. */
  async process(batch: ConsumedMessage[], ctx: BatchContext): Promise<BatchOutcome> {
    try {
      return await this.partitions.handle(batch, ctx, RESULTS, Date.now());
    } catch (e) {
      // Redis away (the restore failed): the whole batch again, later — never dead-lettered for it.
      return Outcome.retry(undefined, `Redis is unavailable: ${(e as Error).message}`);
    }
  }

  private get state(): AlertingState {
    const s = this.partitions.state(RESULTS);
    if (!s) throw new AlertingError(AlertingErrorCode.Unavailable, 'the alerting state is not loaded yet');
    return s;
  }

  // ---- queries ------------------------------------------------------------------------------------------

  listAlerts(state?: string): Alert[] {
    if (state !== undefined && state !== '' && !ALERT_STATES.includes(state as AlertState))
      throw new AlertingError(AlertingErrorCode.Invalid, `state must be one of ${ALERT_STATES.join(', ')}`, [{ field: 'state', reason: `must be one of ${ALERT_STATES.join(', ')}` }]);
    const all = this.state.engine.alerts();
    return state ? all.filter((a) => a.state === state) : all;
  }

  listRules(): AlertRule[] {
    return [...this.state.rules.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  getRule(id: string): AlertRule {
    const r = this.state.rules.get(id);
    if (!r) throw new AlertingError(AlertingErrorCode.NotFound, `no alert rule "${id}"`);
    return r;
  }

  listSilences(): Silence[] {
    return [...this.state.silences.values()].map(({ compiled: _compiled, ...silence }) => silence);
  }

  // ---- mutations ----------------------------------------------------------------------------------------

  createRule(input: unknown): Promise<AlertRule> {
    return this.change((s) => {
      const rule = this.validate(input);
      if (s.rules.has(rule.id)) throw new AlertingError(AlertingErrorCode.Conflict, `alert rule "${rule.id}" exists: PUT /v1/alert-rules/${rule.id} replaces it`);
      this.checkRuleCount(s);
      s.putRule(rule);
      return rule;
    });
  }

  /** PUT: creates or replaces. */
  replaceRule(id: string, input: unknown): Promise<{ rule: AlertRule; created: boolean }> {
    return this.change((s) => {
      const rule = this.validate(input, id);
      const created = !s.rules.has(id);
      if (created) this.checkRuleCount(s);
      s.putRule(rule);
      return { rule, created };
    });
  }

  deleteRule(id: string): Promise<void> {
    return this.change((s) => {
      if (!s.rules.has(id)) throw new AlertingError(AlertingErrorCode.NotFound, `no alert rule "${id}"`);
      s.deleteRule(id);
    });
  }

  async createSilence(input: unknown): Promise<Silence> {
    const now = Date.now();
    const v = validateSilence(input, now, parseDuration, { maxDurationMs: this.config.alerting.maxSilenceDurationMs });
    if (!v.ok) throw new AlertingError(AlertingErrorCode.Invalid, describeErrors(v.errors), v.errors);
    const max = this.config.alerting.maxSilences;
    const current = [...this.state.silences.values()].filter((s) => s.endsAt > now).length;
    if (current >= max) {
      const reason = `there are already ${current} silences, the limit (ALERTING_MAX_SILENCES); delete one or let one end`;
      throw new AlertingError(AlertingErrorCode.Invalid, reason, [{ field: 'silences', reason }]);
    }
    const silence: Silence = { id: randomUUID(), ...v.silence, createdAt: now };
    await this.unavailableOnError(() => this.store.putSilence(silence));
    this.state.silences.set(silence.id, compileSilence(silence));
    return silence;
  }

  /** Forgets the silences that have ended (in memory and in Redis). */
  async pruneSilences(now = Date.now()): Promise<number> {
    const silences = this.state.silences;
    const ended = expiredSilences(silences.values(), now);
    if (ended.length === 0) return 0;
    await this.store.deleteSilences(ended);
    for (const id of ended) silences.delete(id);
    return ended.length;
  }

  async deleteSilence(id: string): Promise<void> {
    if (!this.state.silences.has(id)) throw new AlertingError(AlertingErrorCode.NotFound, `no silence "${id}"`);
    await this.unavailableOnError(() => this.store.deleteSilence(id));
    this.state.silences.delete(id);
  }

  // ---- internals ----------------------------------------------------------------------------------------

  /** A change between batches, checkpointed before it returns; domain errors are thrown before anything changes. */
  private async change<T>(apply: (s: AlertingState) => T): Promise<T> {
    try {
      return await this.partitions.exclusive(RESULTS, Date.now(), apply);
    } catch (e) {
      if (e instanceof AlertingError) throw e;
      throw new AlertingError(AlertingErrorCode.Unavailable, `Redis is unavailable: ${(e as Error).message}`);
    }
  }

  private checkRuleCount(s: AlertingState): void {
    const max = this.config.alerting.maxRules;
    if (s.rules.size >= max) {
      const reason = `there are already ${s.rules.size} rules, the limit (ALERTING_MAX_RULES)`;
      throw new AlertingError(AlertingErrorCode.Invalid, reason, [{ field: 'rules', reason }]);
    }
  }

  private validate(input: unknown, id?: string): AlertRule {
    const v = validateRule(input, id, this.webhookPolicy);
    if (!v.ok) throw new AlertingError(AlertingErrorCode.Invalid, describeErrors(v.errors), v.errors);
    return v.rule;
  }

  /** Wall-clock absence checks and pruning. */
  private async tick(): Promise<void> {
    const now = Date.now();
    await this.change((s) => s.tick(now, this.bootedAt));
    await this.pruneSilences(now).catch((e) => this.logger.warn(`pruning silences: ${(e as Error).message}`));
  }

  private updateGauge(): void {
    const s = this.partitions.state(RESULTS);
    if (!s) return;
    const counts: Record<string, number> = { pending: 0, firing: 0, resolved: 0 };
    for (const a of s.engine.alerts()) counts[a.state]++;
    for (const [state, n] of Object.entries(counts)) this.activeGauge.set({ state }, n);
  }

  private async unavailableOnError<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      throw new AlertingError(AlertingErrorCode.Unavailable, `Redis is unavailable: ${(e as Error).message}`);
    }
  }
}
