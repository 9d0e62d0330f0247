/**
 * Durations in metric definitions: a number of milliseconds, or a string such as `500ms`, `30s`, `5m`,
 * `1h`, `1d` (an optional leading `-` for signed bounds such as an interval join's lower bound).
 */
export type Duration = number | string;

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^(-?\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Milliseconds of a duration, or an Error whose message says what is wrong. Results are integers. */
export function parseDuration(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`must be an integer number of milliseconds (got ${value})`);
    return value;
  }
  if (typeof value === 'string') {
    const m = PATTERN.exec(value.trim());
    if (m) {
      const ms = Number(m[1]) * UNITS[m[2]];
      if (Number.isInteger(ms)) return ms;
    }
    throw new Error(`must be a duration like "500ms", "30s", "5m", "1h", "1d" or a number of milliseconds (got ${JSON.stringify(value)})`);
  }
  throw new Error(`must be a duration like "5m" or a number of milliseconds (got ${value === undefined ? 'nothing' : JSON.stringify(value)})`);
}
