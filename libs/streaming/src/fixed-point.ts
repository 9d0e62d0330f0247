/**
 * Exact sums: every summed value is turned into an integer number of micro-units (value × 1e6, rounded
 * half up by Math.round) before it is added, so the order of additions never changes a sum. Sums stay
 * exact while they are safe integers: |sum| < 2^53 micro-units ≈ 9.007e9 units per window and key.
 */
export const MICRO_SCALE = 1_000_000;

/** value × 1e6, rounded (Math.round); throws a RangeError when the result is not a safe integer. */
export function toMicros(value: number): number {
  const m = Math.round(value * MICRO_SCALE);
  if (!Number.isSafeInteger(m)) throw new RangeError(`value ${value} is out of the exact fixed-point range`);
  return m || 0; // no -0
}

/** The number a micro-unit amount stands for (the scale removed). */
export function fromMicros(micros: number): number {
  return micros / MICRO_SCALE;
}

/** a + b for micro-unit amounts; throws a RangeError instead of silently losing precision. */
export function addMicros(a: number, b: number): number {
  const s = a + b;
  if (!Number.isSafeInteger(s)) throw new RangeError(`fixed-point sum ${a} + ${b} exceeds the exact range`);
  return s;
}
