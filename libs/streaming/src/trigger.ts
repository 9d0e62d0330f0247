/**
 * The event-time trigger with allowed lateness (Flink's EventTimeTrigger + allowedLateness), as pure
 * decisions; it keeps no state of its own. With W the operator watermark (null before any event) and L the
 * allowed lateness:
 *
 * - complete:  W >= end             → the window fires (final: true, version 1).
 * - late:      W >= end + L          → an event for the window goes to the late output, not into the window.
 * - between:   end <= W < end + L    → an event updates the fired window; it re-fires with version + 1.
 * - purge:     W >= end + L          → the window's state is dropped (nothing can change it any more).
 */
export type TriggerResult = 'CONTINUE' | 'FIRE' | 'PURGE' | 'FIRE_AND_PURGE';

export const DEFAULT_ALLOWED_LATENESS_MS = 60_000;

/** What the trigger needs to know about one window. */
export interface WindowFiringState {
  end: number;
  /** Versions fired so far: 0 = never fired. */
  firedVersion: number;
  /** Changed since its last firing. */
  dirty: boolean;
}

/** The window's results are final: no event with ts < end is still expected. */
export function isComplete(end: number, watermark: number | null): boolean {
  return watermark !== null && watermark >= end;
}

/** An event for this window now is late (past allowed lateness): late output, no update. */
export function isLate(end: number, watermark: number | null, allowedLatenessMs: number): boolean {
  return watermark !== null && watermark >= end + allowedLatenessMs;
}

/** The watermark at which the window's state is purged. */
export function cleanupTime(end: number, allowedLatenessMs: number): number {
  return end + allowedLatenessMs;
}

/**
 * What to do with a window when the watermark is W: fire if complete and never fired or changed since its
 * last firing; purge once past its lateness horizon (firing first if it still has an unpublished change).
 */
export function onWatermark(w: WindowFiringState, watermark: number | null, allowedLatenessMs: number): TriggerResult {
  const fire = isComplete(w.end, watermark) && (w.firedVersion === 0 || w.dirty);
  const purge = isLate(w.end, watermark, allowedLatenessMs);
  return fire ? (purge ? 'FIRE_AND_PURGE' : 'FIRE') : purge ? 'PURGE' : 'CONTINUE';
}
