/**
 * The pure parts of `tidemark chaos` (chaos.ts): which fault comes next, how long the operator watermark
 * stood still, and the report. Time and randomness come in as arguments.
 */
import type { Random } from '@tidemark/simulator';

/**
 * `service`, `nats`, `redis`: a service instance, a nats-server or a Redis master killed with SIGKILL and
 * started again. `pause`: a service instance or a Redis master frozen with SIGSTOP for longer than a partition
 * lease, then resumed (SIGCONT) — a node that stops answering without closing its connections, as behind a
 * network partition or in a long GC pause: a paused service instance wakes as a zombie whose partitions were
 * taken over. `nats-pause`: the same for a nats-server, a separate kind because nats-server 2.9.10 does not
 * always survive it: its replicas can serve diverging histories of a stream (docs/scale-out.md "When the
 * broker rewrites its log").
 */
export type FaultKind = 'service' | 'nats' | 'redis' | 'pause' | 'nats-pause';

export const FAULT_KINDS: readonly FaultKind[] = ['service', 'nats', 'redis', 'pause', 'nats-pause'];

export interface FaultTarget {
  kind: FaultKind;
  /** e.g. `aggregation-2`, `nats n2`, `redis :7003`. */
  name: string;
}

/**
 * The next target: a kind first (uniformly among the kinds that have a target), then one of its targets,
 * so a run hits NATS and Redis as often as services however many instances there are.
 */
export function pickFault(random: Random, targets: readonly FaultTarget[]): FaultTarget | undefined {
  const kinds = [...new Set(targets.map((t) => t.kind))].sort();
  if (kinds.length === 0) return undefined;
  const kind = random.pick(kinds);
  return random.pick(targets.filter((t) => t.kind === kind));
}

/**
 * The longest time the operator watermark stood still while events kept coming in, from samples (wall
 * clock, watermark or null when no instance answered), in order. A stall runs from the first sample of a
 * watermark to the first sample of a higher one.
 */
export class StallTracker {
  private since: number | undefined;
  private value: number | null = null;
  longestMs = 0;

  sample(at: number, watermark: number | null): void {
    if (watermark !== null && (this.value === null || watermark > this.value)) {
      if (this.since !== undefined) this.longestMs = Math.max(this.longestMs, at - this.since);
      this.value = watermark;
      this.since = at;
      return;
    }
    if (this.since !== undefined) this.longestMs = Math.max(this.longestMs, at - this.since);
  }
}

export interface ChaosReport {
  seconds: number;
  rate: number;
  /** sent: events the run generated and ingestion accepted; resent: sent again after a failed attempt; accepted: distinct ids. */
  events: { sent: number; resent: number; accepted: number; counted: number; lost: number; doubled: number };
  windows: { compared: number; differing: number };
  faults: Record<FaultKind, number>;
  longestStallMs: number;
  /** Peak resident memory per service (kB), over its instances and restarts. */
  maxRssKb: Record<string, number>;
  firstMismatches: string[];
}

export function formatChaosReport(r: ChaosReport): string {
  const kb = (n: number) => `${(n / 1024).toFixed(0)} MB`;
  // Pauses only when the run had them (the line reads as before otherwise).
  const faults = (Object.keys(r.faults) as FaultKind[])
    .filter((k) => (k !== 'pause' && k !== 'nats-pause') || r.faults[k] > 0)
    .map((k) => `${k} ${r.faults[k]}`)
    .join(', ');
  const total = Object.values(r.faults).reduce((a, b) => a + b, 0);
  const lines = [
    `tidemark chaos: ${r.seconds} s at ${r.rate} events/s`,
    `  events sent            ${r.events.sent}  (distinct ids: ${r.events.accepted}; sent again after a failed request: ${r.events.resent})`,
    `  events counted         ${r.events.counted}`,
    `  lost                   ${r.events.lost}`,
    `  doubled                ${r.events.doubled}`,
    `  windows compared       ${r.windows.compared}, differing from the reference: ${r.windows.differing}`,
    `  faults                 ${total} (${faults})`,
    `  longest stall          ${(r.longestStallMs / 1000).toFixed(1)} s (operator watermark not advancing)`,
    `  max RSS                ${Object.entries(r.maxRssKb)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([s, v]) => `${s} ${kb(v)}`)
      .join(', ')}`,
  ];
  for (const m of r.firstMismatches) lines.push(`  mismatch: ${m}`);
  lines.push(r.events.lost === 0 && r.events.doubled === 0 && r.windows.differing === 0 ? 'tidemark chaos: exact — nothing lost, nothing doubled' : 'tidemark chaos: NOT exact');
  return lines.join('\n');
}
