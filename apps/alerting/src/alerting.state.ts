/**
 * The alerting service's operator on the shared lifecycle (libs/runtime checkpointed.ts, docs/checkpoints.md):
 * the rules engine, the rules and silences and the outbox sequence, in memory; window results from
 * `results.>` are applied in memory and checkpointed every CHECKPOINT_INTERVAL_MS by one fenced script
 * (alert-store.ts) that writes the changed alert states, rule changes, the notifications of the transitions
 * (the durable outbox) and the last applied stream sequence together. Notifications go out only after the
 * checkpoint that holds them. Rule changes and wall-clock checks arrive through `exclusive`, which
 * checkpoints before it returns. The results stream is one "partition" (0).
 */
import {
  Alert,
  AlertEngine,
  AlertRule,
  SEVERITIES,
  Transition,
  WindowResult,
  compileSilence,
  silencedBy,
  type CompiledSilence,
} from '@tidemark/alerting';
import type { TidemarkConfig } from '@tidemark/config';
import type { DeadLetterRequest } from '@tidemark/jetstream';
import type { BatchDecoder, CheckpointResult, PartitionState } from '@tidemark/runtime';
import { AlertStore, OutboxEntry, TargetProgress } from './alert-store';

/** Outbox target key of a named receiver: `receiver:<name>` (a raw webhook's key is its URL). */
export const RECEIVER_TARGET = 'receiver:';

export interface ParsedResult {
  seq: number;
  result: WindowResult;
}

/** Decodes one `results.<metric>` message; a reason string when it is not a window result. */
export function decodeResult(data: Uint8Array): WindowResult | string {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch (e) {
    return `not JSON: ${(e as Error).message}`;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const bad: string[] = [];
  if (typeof v.metric !== 'string' || v.metric === '') bad.push('metric');
  if (typeof v.key !== 'string') bad.push('key');
  for (const f of ['windowStart', 'windowEnd', 'version']) if (!Number.isSafeInteger(v[f])) bad.push(f);
  if (typeof v.final !== 'boolean') bad.push('final');
  if (bad.length > 0) return `not a window result: bad or missing ${bad.join(', ')}`;
  return { metric: v.metric as string, key: v.key as string, windowStart: v.windowStart as number, windowEnd: v.windowEnd as number, value: v.value, final: v.final as boolean, version: v.version as number };
}

/** Results messages → window results; anything else is dead-lettered (dlq.RESULTS.alerting-results). */
export const RESULT_DECODER: BatchDecoder<ParsedResult> = {
  decode(batch) {
    const events: ParsedResult[] = [];
    const deadLetters: DeadLetterRequest[] = [];
    for (const m of batch) {
      const r = decodeResult(m.data);
      if (typeof r === 'string') deadLetters.push({ seq: m.seq, reason: r });
      else events.push({ seq: m.seq, result: r });
    }
    return { events, deadLetters };
  },
  count: () => 1,
};

/** What the service does once a checkpoint is durable, or state was restored. */
export interface AlertingEffects {
  /** After a checkpoint: its transitions, the alerts they touched (marked when silenced), its new notifications. */
  committed(transitions: Transition[], live: (Alert & { silenced?: boolean })[], outbox: OutboxEntry[]): void;
  /** After a restore: the notifications still in the outbox. */
  restored(outbox: OutboxEntry[]): void;
}

export class AlertingState implements PartitionState<ParsedResult> {
  engine = new AlertEngine();
  rules = new Map<string, AlertRule>();
  /** Silences with their matchers compiled once (libs/alerting silence.ts), never per alert transition. */
  silences = new Map<string, CompiledSilence>();
  private outboxSeq = 0;
  /** Since the last checkpoint. */
  private transitions: Transition[] = [];
  private readonly rulesPut = new Map<string, AlertRule>();
  private readonly rulesDeleted = new Set<string>();
  private lastPrune = 0;
  /** Checkpoints written, as far as this process knows: the fence beside the sequence. */
  private epoch = 0;

  constructor(
    private readonly store: AlertStore,
    private readonly config: TidemarkConfig,
    private readonly effects: AlertingEffects,
  ) {}

  async restore(): Promise<number> {
    const loaded = await this.store.load();
    this.rules = new Map(loaded.rules.map((r) => [r.id, r]));
    this.engine = new AlertEngine(loaded.rules, loaded.snapshot);
    this.silences = new Map(loaded.silences.map((s) => [s.id, compileSilence(s)]));
    this.outboxSeq = loaded.outboxSeq;
    this.epoch = loaded.epoch;
    this.transitions = [];
    this.rulesPut.clear();
    this.rulesDeleted.clear();
    this.effects.restored(loaded.outbox);
    return loaded.lastSeq;
  }

  apply(results: ParsedResult[], now: number): void {
    for (const r of results) for (const t of this.engine.applyResult(r.result, now)) this.transitions.push(t);
  }

  dirty(): boolean {
    return this.transitions.length > 0 || this.engine.hasChanges() || this.rulesPut.size > 0 || this.rulesDeleted.size > 0;
  }

  /** Adds or replaces a rule (validated by the caller). */
  putRule(rule: AlertRule): void {
    for (const t of this.engine.upsertRule(rule)) this.transitions.push(t);
    this.rules.set(rule.id, rule);
    this.rulesPut.set(rule.id, rule);
    this.rulesDeleted.delete(rule.id);
  }

  deleteRule(id: string): void {
    for (const t of this.engine.removeRule(id)) this.transitions.push(t);
    this.rules.delete(id);
    this.rulesPut.delete(id);
    this.rulesDeleted.add(id);
  }

  /** Wall-clock absence checks (ALERTING_ABSENCE_WALLCLOCK) and, once a minute, pruning old series. */
  tick(now: number, bootedAt: number): void {
    const a = this.config.alerting;
    if (a.absenceWallclock) for (const t of this.engine.tickWallClock(now, bootedAt)) this.transitions.push(t);
    if (now - this.lastPrune > 60_000) {
      this.lastPrune = now;
      this.engine.prune(a.retentionMs);
    }
  }

  async checkpoint(expectedSeq: number, seq: number, now: number): Promise<CheckpointResult> {
    const { outbox, live, outboxSeq } = this.notifications(now);
    const changes = this.engine.takeChanges();
    let r: CheckpointResult;
    try {
      r = await this.store.commit({
        expectedSeq,
        expectedEpoch: this.epoch,
        lastSeq: seq,
        clock: this.engine.clock,
        outboxSeq,
        changed: changes.changed,
        removed: changes.removed,
        outbox,
        rulesPut: [...this.rulesPut.values()],
        rulesDeleted: [...this.rulesDeleted],
      });
    } catch (e) {
      this.engine.requeueChanges(changes); // kept in memory: the next checkpoint writes them
      throw e;
    }
    if (r.status !== 'ok') return r; // the lifecycle restores the other writer's state
    this.epoch++;
    const transitions = this.transitions;
    this.transitions = [];
    this.rulesPut.clear();
    this.rulesDeleted.clear();
    this.outboxSeq = outboxSeq;
    this.effects.committed(transitions, live, outbox);
    return r;
  }

  /** The notifications of the transitions since the last checkpoint: silenced ones are muted, not sent. */
  private notifications(now: number): { outbox: OutboxEntry[]; live: (Alert & { silenced?: boolean })[]; outboxSeq: number } {
    const outbox: OutboxEntry[] = [];
    const live: (Alert & { silenced?: boolean })[] = [];
    let outboxSeq = this.outboxSeq;
    const silences = [...this.silences.values()];
    const a = this.config.alerting;
    for (const t of this.transitions) {
      const muting = silencedBy(t.alert, silences, now);
      live.push(muting.length > 0 && t.key ? { ...t.alert, silenced: true } : t.alert);
      if (!t.key || (t.change !== 'firing' && t.change !== 'resolved')) continue;
      if (muting.length > 0) continue;
      const fresh = (): TargetProgress => ({ done: false, attempts: 0, nextAt: now });
      const rule = this.rules.get(t.alert.rule);
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
    return { outbox, live, outboxSeq };
  }
}
