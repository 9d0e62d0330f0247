/**
 * The late output: an event that arrived after its window's lateness horizon (watermark >= window end +
 * allowed lateness) is not counted in that window; it is reported here, once per (event, metric, windows
 * missed), with the windows it missed and why. It also feeds the `late_events` metric (each late event once,
 * by type).
 */
import type { TidemarkEvent } from '@tidemark/contracts';
import { formatWindow, TimeWindow } from './window';

export interface LateEvent {
  metric: string;
  event: TidemarkEvent;
  /** Stream sequence of the event, when known. */
  seq: number | null;
  partition: string;
  /** The metric's windows the event was too late for (it was counted in the metric's other windows, if any). */
  windows: TimeWindow[];
  /** Operator watermark when the event was processed. */
  watermark: number;
  allowedLatenessMs: number;
  /** One line for humans. */
  reason: string;
}

export function lateReason(metric: string, ts: number, windows: readonly TimeWindow[], watermark: number, allowedLatenessMs: number, what = 'window'): string {
  const list = windows.map(formatWindow).join(', ');
  return `event at ${ts} too late for ${metric} ${what}${windows.length > 1 ? 's' : ''} ${list}: watermark ${watermark} >= end + allowed lateness ${allowedLatenessMs}`;
}

/**
 * The `Nats-Msg-Id` of a late report (docs/semantics.md "Too late"): the event, the metric and the windows it
 * missed. A replay that finds the event late for the same windows repeats the id, a no-op. One that finds it
 * late for more windows — the watermark moved on while a failover took the checkpoint that had counted it —
 * reports it again, with all of them: an event is either counted in a window or reported late for it.
 */
export function lateMsgId(l: Pick<LateEvent, 'event' | 'metric' | 'windows'>): string {
  let last = -Infinity;
  for (const w of l.windows) if (w.end > last) last = w.end;
  return `${l.event.id}|${l.metric}|${l.windows.length}|${last}`;
}
