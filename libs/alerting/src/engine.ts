/**
 * The alert engine: rules evaluated over window results in EVENT time, window by window, one lifecycle per
 * fingerprint. Pure and deterministic: the same results in the same order give the same alerts, whatever the
 * batching (every check runs per result). The only wall-clock input is `tickWallClock` (absence rules, off for
 * replays). State is plain JSON (`FingerprintState`), so the service can persist exactly what changed.
 */
import type { WindowResultDto } from '@tidemark/contracts';
import { Alert, Change, Evaluation, fingerprint, notificationKey, step } from './alert';
import { AlertRule, CompiledRule, compare, compileRule, readField } from './rule';

/** A window result as published on results.<metric> (the contract's shape). */
export type WindowResult = WindowResultDto;

/** The series memory a rule needs between windows (before and after the last window, for re-evaluations). */
export interface SeriesCore {
  /** Consecutive breaching windows. */
  streak: number;
  /** End of the first window of the current streak. */
  activeAt: number | null;
  /** rate_of_change: the previous window's value and end. */
  prevValue: number | null;
  prevEnd: number | null;
  /** anomaly/ewma: the baseline and how many windows it folded. */
  ewma: number | null;
  count: number;
  /** anomaly/zscore: the last `history` non-anomalous values. */
  history: number[];
}

export interface FingerprintState {
  fingerprint: string;
  rule: string;
  labels: Record<string, string>;
  /** The last evaluated window of the series (absence: the last window end seen). */
  lastStart: number | null;
  lastEnd: number | null;
  lastVersion: number;
  prev: SeriesCore;
  core: SeriesCore;
  alert: Alert | null;
  /** Notified changes so far (numbering the idempotency keys). */
  notified: number;
}

export interface Transition {
  alert: Alert;
  change: Change;
  /** Set for `firing` and `resolved`: the idempotency key of the notification. */
  key: string | null;
}

export interface EngineSnapshot {
  clock: number | null;
  states: FingerprintState[];
}

const emptyCore = (): SeriesCore => ({ streak: 0, activeAt: null, prevValue: null, prevEnd: null, ewma: null, count: 0, history: [] });

export class AlertEngine {
  private rules = new Map<string, CompiledRule>();
  private readonly states = new Map<string, FingerprintState>();
  /** Fingerprints whose alert is pending or firing. */
  private readonly active = new Set<string>();
  /** Wall-clock arrival of the last matching window per absence fingerprint (memory only). */
  private readonly arrivals = new Map<string, number>();
  private clockValue: number | null;
  private readonly dirtySet = new Set<string>();
  private readonly removedSet = new Set<string>();

  constructor(rules: readonly AlertRule[] = [], snapshot: EngineSnapshot = { clock: null, states: [] }) {
    this.clockValue = snapshot.clock;
    for (const s of snapshot.states) {
      this.states.set(s.fingerprint, s);
      if (s.alert && s.alert.state !== 'resolved') this.active.add(s.fingerprint);
    }
    for (const r of [...rules].sort((a, b) => a.id.localeCompare(b.id))) if (r.enabled !== false) this.rules.set(r.id, compileRule(r));
  }

  /** Highest window end seen: the engine's event-time clock. */
  get clock(): number | null {
    return this.clockValue;
  }

  ruleIds(): string[] {
    return [...this.rules.keys()];
  }

  alerts(): Alert[] {
    const out: Alert[] = [];
    for (const s of this.states.values()) if (s.alert) out.push(s.alert);
    return out.sort((a, b) => a.startsAt - b.startsAt || a.fingerprint.localeCompare(b.fingerprint));
  }

  state(fp: string): FingerprintState | undefined {
    return this.states.get(fp);
  }

  snapshot(): EngineSnapshot {
    return { clock: this.clockValue, states: [...this.states.values()] };
  }

  /** True when something changed since the last `takeChanges()`. */
  hasChanges(): boolean {
    return this.dirtySet.size > 0 || this.removedSet.size > 0;
  }

  /** Fingerprints changed / removed since the last `takeChanges()`, for persisting. */
  takeChanges(): { changed: FingerprintState[]; removed: string[] } {
    const changed = [...this.dirtySet].map((fp) => this.states.get(fp)).filter((s): s is FingerprintState => s !== undefined);
    const removed = [...this.removedSet].filter((fp) => !this.states.has(fp));
    this.dirtySet.clear();
    this.removedSet.clear();
    return { changed, removed };
  }

  /** Puts changes taken by `takeChanges()` back (their write failed): the next `takeChanges()` returns them again. */
  requeueChanges(changes: { changed: readonly FingerprintState[]; removed: readonly string[] }): void {
    for (const s of changes.changed) if (this.states.has(s.fingerprint)) this.dirtySet.add(s.fingerprint);
    for (const fp of changes.removed) if (!this.states.has(fp)) this.removedSet.add(fp);
  }

  /**
   * Adds or replaces a rule. A replaced rule keeps its alerts when it still reads the same series (kind, metric,
   * key and field unchanged): the next window is judged by the new rule. Otherwise (or when disabled) its
   * alerts end as if the rule were deleted.
   */
  upsertRule(rule: AlertRule): Transition[] {
    const old = this.rules.get(rule.id)?.rule;
    const same = old && old.kind === rule.kind && old.metric === rule.metric && old.key === rule.key && old.field === rule.field;
    const out = old && (!same || rule.enabled === false) ? this.removeRule(rule.id) : [];
    if (rule.enabled === false) this.rules.delete(rule.id);
    else {
      this.rules.set(rule.id, compileRule(rule));
      this.rules = new Map([...this.rules.entries()].sort(([a], [b]) => a.localeCompare(b)));
    }
    return out;
  }

  /** Deletes a rule: its firing alerts resolve (notified), pending ones are cancelled, its state is dropped. */
  removeRule(ruleId: string): Transition[] {
    this.rules.delete(ruleId);
    const out: Transition[] = [];
    const at = this.clockValue ?? 0;
    for (const s of [...this.states.values()]) {
      if (s.rule !== ruleId) continue;
      if (s.alert && s.alert.state !== 'resolved') {
        const ev: Evaluation = { active: false, ready: false, at: Math.max(at, s.alert.updatedAt), since: s.alert.startsAt, value: s.alert.value, summary: s.alert.summary };
        this.transition(s, ev, out);
      }
      this.states.delete(s.fingerprint);
      this.active.delete(s.fingerprint);
      this.arrivals.delete(s.fingerprint);
      this.dirtySet.delete(s.fingerprint);
      this.removedSet.add(s.fingerprint);
    }
    return out;
  }

  /**
   * One window result (final ones only). Evaluates every rule on its metric, then the clock checks (absence,
   * staleness). `arrivedAt` (wall clock) only feeds the wall-clock absence check.
   */
  applyResult(r: WindowResult, arrivedAt?: number): Transition[] {
    const out: Transition[] = [];
    if (!r.final) return out;
    for (const rule of this.rules.values()) {
      if (rule.rule.metric !== r.metric) continue;
      if (rule.rule.key !== undefined && rule.rule.key !== r.key) continue;
      if (rule.kind === 'absence') this.absenceSeen(rule, r, arrivedAt, out);
      else this.evaluateSeries(rule, r, out);
    }
    if (this.clockValue === null || r.windowEnd > this.clockValue) {
      this.clockValue = r.windowEnd;
      this.clockChecks(out);
    }
    return out;
  }

  /** Wall-clock absence: a rule fires when nothing matching arrived for its duration (since `bootedAt` at first). */
  tickWallClock(now: number, bootedAt: number): Transition[] {
    const out: Transition[] = [];
    for (const rule of this.rules.values()) {
      if (rule.kind !== 'absence') continue;
      const s = this.absenceState(rule);
      if (s.alert && s.alert.state !== 'resolved') continue;
      const since = this.arrivals.get(s.fingerprint) ?? bootedAt;
      if (now - since < rule.forMs) continue;
      this.transition(s, this.absenceEvaluation(rule, s, true, now, since, 'wall clock'), out);
    }
    return out;
  }

  /** Drops inactive series and resolved alerts whose last window ended more than `retentionMs` before the clock. */
  prune(retentionMs: number): number {
    if (this.clockValue === null) return 0;
    let n = 0;
    for (const s of [...this.states.values()]) {
      if (s.alert && s.alert.state !== 'resolved') continue;
      const last = Math.max(s.lastEnd ?? -Infinity, s.alert?.updatedAt ?? -Infinity);
      if (last >= this.clockValue - retentionMs) continue;
      const rule = this.rules.get(s.rule);
      if (rule?.kind === 'absence') continue;
      this.states.delete(s.fingerprint);
      this.dirtySet.delete(s.fingerprint);
      this.removedSet.add(s.fingerprint);
      n++;
    }
    return n;
  }

  // ---- series rules -------------------------------------------------------------------------------------

  private evaluateSeries(rule: CompiledRule, r: WindowResult, out: Transition[]): void {
    const labels = { ...(rule.rule.labels ?? {}), metric: r.metric, key: r.key };
    const fp = fingerprint(rule.id, labels);
    let s = this.states.get(fp);
    let base: SeriesCore;
    if (!s) {
      s = { fingerprint: fp, rule: rule.id, labels, lastStart: null, lastEnd: null, lastVersion: 0, prev: emptyCore(), core: emptyCore(), alert: null, notified: 0 };
      this.states.set(fp, s);
      base = s.core;
    } else if (s.lastStart !== null && r.windowStart < s.lastStart) {
      return; // an older window re-published after a newer one was judged: ignored (documented)
    } else if (s.lastStart === r.windowStart) {
      if (r.version <= s.lastVersion) return; // duplicate or redelivery
      base = s.prev; // a newer version of the last window: judge it again from the state before it
    } else base = s.core;

    const { active, core, value, detail } = judge(rule, base, r);
    if (active) {
      core.streak = base.streak + 1;
      core.activeAt = base.activeAt ?? r.windowEnd;
    } else {
      core.streak = 0;
      core.activeAt = null;
    }
    s.prev = base;
    s.core = core;
    s.lastStart = r.windowStart;
    s.lastEnd = r.windowEnd;
    s.lastVersion = r.version;
    this.dirtySet.add(fp);
    const ready = active && core.streak >= rule.forWindows && r.windowEnd - (core.activeAt ?? r.windowEnd) >= rule.forMs;
    const ev: Evaluation = { active, ready, at: r.windowEnd, since: core.activeAt ?? r.windowEnd, value, summary: summarize(rule.rule, r.key, value, detail) };
    this.transition(s, ev, out);
  }

  // ---- absence rules ------------------------------------------------------------------------------------

  private absenceState(rule: CompiledRule): FingerprintState {
    const labels: Record<string, string> = { ...(rule.rule.labels ?? {}), metric: rule.rule.metric };
    if (rule.rule.key !== undefined) labels.key = rule.rule.key;
    const fp = fingerprint(rule.id, labels);
    let s = this.states.get(fp);
    if (!s) {
      s = { fingerprint: fp, rule: rule.id, labels, lastStart: null, lastEnd: null, lastVersion: 0, prev: emptyCore(), core: emptyCore(), alert: null, notified: 0 };
      this.states.set(fp, s);
      this.dirtySet.add(fp);
    }
    return s;
  }

  private absenceEvaluation(rule: CompiledRule, s: FingerprintState, active: boolean, at: number, since: number, how: string): Evaluation {
    const what = `${rule.rule.metric}${rule.rule.key !== undefined ? `{${rule.rule.key}}` : ''}`;
    const summary = rule.rule.summary
      ? render(rule.rule.summary, rule.id, rule.rule.metric, rule.rule.key ?? '', null)
      : active
        ? `${rule.id}: no ${what} window for ${Math.round((at - since) / 1000)} s (${how})`
        : `${rule.id}: ${what} windows are back`;
    return { active, ready: true, at, since, value: null, summary };
  }

  private absenceSeen(rule: CompiledRule, r: WindowResult, arrivedAt: number | undefined, out: Transition[]): void {
    const s = this.absenceState(rule);
    if (arrivedAt !== undefined) this.arrivals.set(s.fingerprint, Math.max(arrivedAt, this.arrivals.get(s.fingerprint) ?? 0));
    const wasActive = s.alert !== null && s.alert.state !== 'resolved';
    const newer = s.lastEnd === null || r.windowEnd > s.lastEnd;
    // A gap in event time that this window reveals: it fires (if it had not) and resolves now.
    if (!wasActive && s.lastEnd !== null && r.windowStart - s.lastEnd >= rule.forMs) {
      this.transition(s, this.absenceEvaluation(rule, s, true, s.lastEnd + rule.forMs, s.lastEnd, 'event time'), out);
    }
    // Only a newer window ends the absence (a re-fired older one is no sign of fresh data).
    if (newer && s.alert && s.alert.state !== 'resolved') {
      const at = Math.max(r.windowStart, s.alert.updatedAt);
      this.transition(s, this.absenceEvaluation(rule, s, false, at, s.alert.startsAt, ''), out);
    }
    if (s.lastEnd === null || r.windowEnd > s.lastEnd) {
      s.lastEnd = r.windowEnd;
      s.lastStart = r.windowStart;
    }
    this.dirtySet.add(s.fingerprint);
  }

  /** After the clock moved: absence in event time, and stale series of active alerts. */
  private clockChecks(out: Transition[]): void {
    const clock = this.clockValue!;
    for (const rule of this.rules.values()) {
      if (rule.kind !== 'absence') continue;
      const s = this.absenceState(rule);
      if (s.lastEnd === null || (s.alert && s.alert.state !== 'resolved')) continue;
      if (clock - s.lastEnd >= rule.forMs) this.transition(s, this.absenceEvaluation(rule, s, true, s.lastEnd + rule.forMs, s.lastEnd, 'event time'), out);
    }
    // The series gone stale, in the order they went stale (then by fingerprint): not the active set's order,
    // which depends on the engine's history, so an engine restored from a snapshot emits the same sequence.
    const stale: { s: FingerprintState; afterMs: number; at: number }[] = [];
    for (const fp of this.active) {
      const s = this.states.get(fp)!;
      const rule = this.rules.get(s.rule);
      if (!rule || rule.kind === 'absence' || rule.staleAfterMs === null || s.lastEnd === null) continue;
      if (clock - s.lastEnd < rule.staleAfterMs) continue;
      stale.push({ s, afterMs: rule.staleAfterMs, at: s.lastEnd + rule.staleAfterMs });
    }
    stale.sort((x, y) => x.at - y.at || (x.s.fingerprint < y.s.fingerprint ? -1 : x.s.fingerprint > y.s.fingerprint ? 1 : 0));
    for (const { s, afterMs, at } of stale) {
      s.core = { ...s.core, streak: 0, activeAt: null };
      s.prev = s.core;
      const summary = `${s.alert!.summary} (no window for ${Math.round(afterMs / 1000)} s)`;
      this.transition(s, { active: false, ready: false, at, since: s.alert!.startsAt, value: s.alert!.value, summary }, out);
    }
  }

  private transition(s: FingerprintState, ev: Evaluation, out: Transition[]): void {
    const rule = this.rules.get(s.rule);
    const severity = rule?.rule.severity ?? s.alert?.severity ?? 'warning';
    const { alert, change } = step(s.alert, ev, { fingerprint: s.fingerprint, rule: s.rule, severity, labels: s.labels });
    const shown = alert ?? (s.alert ? { ...s.alert, state: 'resolved' as const, updatedAt: ev.at, endsAt: ev.at } : null);
    s.alert = alert;
    this.dirtySet.add(s.fingerprint);
    if (alert && alert.state !== 'resolved') this.active.add(s.fingerprint);
    else this.active.delete(s.fingerprint);
    if (!change || !shown) return;
    let key: string | null = null;
    if (change === 'firing' || change === 'resolved') {
      s.notified++;
      key = notificationKey(s.fingerprint, shown.startsAt, s.notified, change);
    }
    out.push({ alert: shown, change, key });
  }
}

interface Judgement {
  active: boolean;
  core: SeriesCore;
  value: number | null;
  detail: string;
}

/** Evaluates one window of a series rule from the series memory `base` (not modified). */
export function judge(rule: CompiledRule, base: SeriesCore, r: WindowResult): Judgement {
  const core: SeriesCore = { ...base, history: base.history };
  const def = rule.rule;
  const raw = readField(r.value, def.field);
  const value = typeof raw === 'number' && Number.isFinite(raw) ? raw : null;
  const guard = def.guard;
  const guardOk = (() => {
    if (!guard) return true;
    const g = readField(r.value, guard.field);
    return typeof g === 'number' && compare(g, guard.op, guard.value);
  })();
  switch (def.kind) {
    case 'threshold': {
      const comparable = typeof def.value === 'string' ? typeof raw === 'string' : value !== null;
      const active = guardOk && comparable && compare(raw as number | string, def.op, def.value);
      return { active, core, value, detail: `${typeof raw === 'string' ? JSON.stringify(raw) : fmt(value)} ${def.op} ${typeof def.value === 'string' ? JSON.stringify(def.value) : def.value}` };
    }
    case 'rate_of_change': {
      if (value === null) return { active: false, core, value, detail: 'no numeric value' };
      const previous = base.prevEnd === null ? null : r.windowStart > base.prevEnd ? 0 : base.prevValue;
      core.prevValue = value;
      core.prevEnd = r.windowEnd;
      if (previous === null) return { active: false, core, value, detail: 'first window' };
      const delta = def.change === 'absolute' ? value - previous : previous === 0 ? (value === 0 ? 0 : Math.sign(value) * Infinity) : (value - previous) / Math.abs(previous);
      const big = def.minValue === undefined || value >= def.minValue;
      const active = guardOk && big && compare(delta, def.op, def.value);
      return { active, core, value, detail: `${def.change} change ${fmt(delta)} from ${fmt(previous)} ${def.op} ${def.value}` };
    }
    case 'anomaly': {
      if (value === null || !guardOk) return { active: false, core, value, detail: 'not evaluated' };
      if (def.method === 'ewma') {
        const baseline = base.ewma;
        let active = false;
        let detail = `warming up (${base.count}/${rule.minHistory} windows)`;
        if (baseline !== null && base.count >= rule.minHistory) {
          const dev = baseline === 0 ? (value === 0 ? 0 : Math.sign(value) * Infinity) : (value - baseline) / Math.abs(baseline);
          active = def.direction === 'down' ? dev <= -def.threshold : def.direction === 'up' ? dev >= def.threshold : Math.abs(dev) >= def.threshold;
          detail = `${fmt(value)} is ${fmt(dev * 100)} % from its EWMA baseline ${fmt(baseline)}`;
        }
        if (!active) {
          core.ewma = baseline === null ? value : rule.alpha * value + (1 - rule.alpha) * baseline;
          core.count = base.count + 1;
        }
        return { active, core, value, detail };
      }
      const h = base.history;
      let active = false;
      let detail = `warming up (${h.length}/${rule.minHistory} windows)`;
      if (h.length >= rule.minHistory) {
        const mean = h.reduce((a, b) => a + b, 0) / h.length;
        const sd = Math.sqrt(h.reduce((a, b) => a + (b - mean) ** 2, 0) / h.length);
        const floor = Math.max(sd, Math.abs(mean) * 0.01, 1e-9);
        const z = (value - mean) / floor;
        active = def.direction === 'down' ? z <= -def.threshold : def.direction === 'up' ? z >= def.threshold : Math.abs(z) >= def.threshold;
        detail = `${fmt(value)} is z=${fmt(z)} from the mean ${fmt(mean)} of ${h.length} windows`;
      }
      if (!active) core.history = [...h, value].slice(-rule.history);
      return { active, core, value, detail };
    }
    case 'absence':
      return { active: false, core, value, detail: '' };
  }
}

function fmt(n: number | null): string {
  if (n === null) return 'null';
  if (!Number.isFinite(n)) return n > 0 ? '+inf' : '-inf';
  return String(Math.round(n * 1000) / 1000);
}

function render(template: string, rule: string, metric: string, key: string, value: number | null): string {
  return template.replace(/\{\{\s*(rule|metric|key|value)\s*\}\}/g, (_, k: string) => (k === 'rule' ? rule : k === 'metric' ? metric : k === 'key' ? key : fmt(value)));
}

function summarize(rule: AlertRule, key: string, value: number | null, detail: string): string {
  if (rule.summary) return render(rule.summary, rule.id, rule.metric, key, value);
  return `${rule.id}: ${rule.metric}{${key}}${rule.field ? `.${rule.field}` : ''} ${detail}`;
}
