/**
 * The late output: an event that arrived after its window's lateness horizon (watermark >= window end +
 * allowed lateness) is not counted in that window; it is reported here, once per (event, metric), with the
 * windows it missed and why. It also feeds the `late_events` metric (each late event once, by type).
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
