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

/**
 * A duration as JSON Schema: the shapes `parseDuration` accepts (an integer of ms, or a number and a unit, spaces
 * around allowed). What the schema cannot say — that `1.5ms` is not a whole number of ms, minimums — is checked by
 * parsing after the schema. `x-error` is the reason given (libs/contracts json-schema.ts).
 */
export const DURATION_PATTERN = '^\\s*-?\\d+(?:\\.\\d+)?(?:ms|s|m|h|d)\\s*$';
export const durationSchema = {
  type: ['string', 'integer'],
  pattern: DURATION_PATTERN,
  description: 'Milliseconds, or a number and a unit: "500ms", "30s", "5m", "1h", "1d".',
  'x-error': 'must be a duration like "500ms", "30s", "5m", "1h", "1d" or a number of milliseconds (got {value})',
} as const;
