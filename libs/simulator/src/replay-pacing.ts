/** Replay pacing: `--speed 60x` plays an hour of event time in a minute; `max` does not wait. Pure. */

export function parseSpeed(text: string): number {
  const t = text.trim().toLowerCase();
  if (t === 'max') return Infinity;
  const m = /^(\d+(?:\.\d+)?)x?$/.exec(t);
  if (!m || Number(m[1]) <= 0) throw new Error(`--speed must be like 1x, 60x or max, not "${text}"`);
  return Number(m[1]);
}

/** Wall-clock time at which an event of time `ts` is due, given the first event's time and the start. */
export function dueAt(ts: number, firstTs: number, startedAt: number, speed: number): number {
  if (speed === Infinity) return startedAt;
  return startedAt + Math.max(0, ts - firstTs) / speed;
}

/** `[#########...........]  45%` */
export function progressBar(done: number, total: number, width = 30): string {
  const f = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(f * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(f * 100)).padStart(3)}%`;
}
