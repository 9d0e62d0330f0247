/**
 * What provisioning (JETSTREAM_PROVISION=auto) may change on a stream that already exists: a pure function of
 * (current config, wanted config), no NATS, no Nest. The rule: only ever add what is missing, never take away
 * what an operator gave a stream (docs/operations.md "NATS clusters").
 *
 *  - subjects: missing ones are added; extra ones an operator added stay (warned);
 *  - num_replicas: raised to the configured JETSTREAM_REPLICAS; more replicas than configured stay (warned);
 *  - max_age, duplicate_window: raised when below what Tidemark needs; longer (or unlimited) ones stay (warned);
 *  - max_bytes: `decideMaxBytes` (ours or unlimited follow the setting, an operator's larger size stays);
 *  - max_msgs, max_msgs_per_subject, max_msg_size, discard: never set by Tidemark; an operator's value stays
 *    (warned when it is not the server default);
 *  - storage and retention cannot change in place: an error.
 */

/** The stream settings provisioning looks at (nats.js `StreamConfig` fields, nanoseconds / bytes; 0 or -1 = unlimited). */
export interface StreamSettings {
  subjects: string[];
  storage: string;
  retention: string;
  discard: string;
  num_replicas: number;
  /** ns; 0 = unlimited. */
  max_age: number;
  /** ns; 0 = the server default (2 min). */
  duplicate_window: number;
  /** bytes; -1 = unlimited. */
  max_bytes: number;
  max_msgs?: number;
  max_msgs_per_subject?: number;
  max_msg_size?: number;
}

export type StreamUpdate = Partial<Pick<StreamSettings, 'subjects' | 'num_replicas' | 'max_age' | 'duplicate_window' | 'max_bytes'>>;

export interface StreamPlan {
  /** The fields to send in a stream update (empty: leave the stream alone). */
  update: StreamUpdate;
  /** The names of the fields in `update`. */
  changed: string[];
  /** What differs from the wanted config and is left as it is, one sentence each (logged at warn). */
  warnings: string[];
}

export class ProvisioningError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ProvisioningError';
  }
}

/** The server's default duplicate window, ns (what a 0 means). */
export const SERVER_DEFAULT_DUPLICATE_WINDOW_NS = 120_000_000_000;

/**
 * Whether provisioning changes a stream's `max_bytes` (-1 = unlimited), and to what; undefined = leave it.
 * Never downgrades what an operator set: it changes a size that is unlimited (a stream from before sizes) or
 * still our default, or raises one that is smaller than wanted; and it never sets a size below the bytes
 * the stream already holds (discard-old would delete them at once).
 */
export function decideMaxBytes(current: number, storedBytes: number, wanted: number | undefined, ourDefault: number | undefined): number | undefined {
  const want = wanted ?? -1;
  if (want === current) return undefined;
  if (want === -1) return current === ourDefault ? -1 : undefined; // limit removed from the contract: only ours goes
  if (want < storedBytes) return undefined;
  if (current === -1 || current === ourDefault || (current !== -1 && want > current)) return want;
  return undefined;
}

/** A duration in ns as people read it: `7d`, `2m`, `90s`, `1500ms`; 0 as `unlimited` (or what `zero` says). */
export function formatNanos(ns: number, zero = 'unlimited'): string {
  if (ns <= 0) return zero;
  const ms = ns / 1e6;
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

const bytes = (n: number | undefined) => (n === undefined || n < 0 ? 'unlimited' : `${n} bytes`);

/** a > b where `unlimited` (0 or -1, per field) is larger than any limit. */
function larger(a: number, b: number, unlimited: (x: number) => boolean): boolean {
  if (unlimited(a)) return !unlimited(b);
  if (unlimited(b)) return false;
  return a > b;
}

/**
 * The plan for an existing stream: what to update and what to leave (with a warning). `storedBytes` is what
 * the stream holds now; `ourDefaultMaxBytes` the contract's own size for it (a current size equal to it is
 * ours to change). Throws `ProvisioningError` when storage or retention differ.
 */
export function planStreamUpdate(name: string, current: StreamSettings, wanted: StreamSettings, storedBytes = 0, ourDefaultMaxBytes?: number): StreamPlan {
  if (current.storage !== wanted.storage) {
    throw new ProvisioningError(`stream ${name} has storage ${current.storage}, wanted ${wanted.storage}; storage cannot be changed in place`);
  }
  if (current.retention !== wanted.retention) {
    throw new ProvisioningError(`stream ${name} has retention ${current.retention}, wanted ${wanted.retention}; retention cannot be changed in place`);
  }
  const update: StreamUpdate = {};
  const warnings: string[] = [];
  const left = (what: string) => warnings.push(`stream ${name}: ${what}: left as it is`);

  // Subjects: add the missing ones, keep the operator's extra ones.
  const have = new Set(current.subjects ?? []);
  const missing = wanted.subjects.filter((s) => !have.has(s));
  const extra = (current.subjects ?? []).filter((s) => !wanted.subjects.includes(s));
  if (missing.length) update.subjects = [...(current.subjects ?? []), ...missing];
  if (extra.length) left(`it also has subjects ${extra.join(', ')} (Tidemark's: ${wanted.subjects.join(', ')})`);

  // Replicas: raised to the configured number, never lowered.
  const replicas = current.num_replicas || 1;
  if (replicas < wanted.num_replicas) update.num_replicas = wanted.num_replicas;
  else if (replicas > wanted.num_replicas) left(`it has ${replicas} replicas, more than JETSTREAM_REPLICAS=${wanted.num_replicas}`);

  // Retention and the duplicate window: at least what Tidemark needs, never shortened.
  const ageUnlimited = (x: number) => x <= 0;
  if (current.max_age !== wanted.max_age) {
    if (larger(wanted.max_age, current.max_age, ageUnlimited)) update.max_age = wanted.max_age;
    else left(`max_age is ${formatNanos(current.max_age)}, longer than Tidemark's ${formatNanos(wanted.max_age)}`);
  }
  const dupOf = (x: number) => (x > 0 ? x : SERVER_DEFAULT_DUPLICATE_WINDOW_NS);
  const dupCurrent = dupOf(current.duplicate_window);
  let dupWanted = dupOf(wanted.duplicate_window);
  const ageAfter = update.max_age ?? current.max_age;
  if (ageAfter > 0 && dupWanted > ageAfter) dupWanted = ageAfter; // the server refuses a window longer than max_age
  if (dupCurrent < dupWanted) update.duplicate_window = dupWanted;
  else if (dupCurrent > dupWanted) left(`duplicate_window is ${formatNanos(dupCurrent)}, longer than Tidemark's ${formatNanos(dupWanted)}`);

  // Size: the existing rule (ours follows the setting, an operator's larger size stays).
  const maxBytes = decideMaxBytes(current.max_bytes ?? -1, storedBytes, wanted.max_bytes < 0 ? undefined : wanted.max_bytes, ourDefaultMaxBytes);
  if (maxBytes !== undefined) update.max_bytes = maxBytes;
  else if ((current.max_bytes ?? -1) !== wanted.max_bytes) {
    left(`max_bytes is ${bytes(current.max_bytes)} (Tidemark's: ${bytes(wanted.max_bytes)}${wanted.max_bytes >= 0 && wanted.max_bytes < storedBytes ? `, below the ${storedBytes} bytes it holds` : ''})`);
  }

  // Limits Tidemark never sets: an operator's value stays.
  for (const key of ['max_msgs', 'max_msgs_per_subject', 'max_msg_size'] as const) {
    const v = current[key];
    if (v !== undefined && v >= 0 && v !== (wanted[key] ?? -1)) left(`${key} is ${v} (Tidemark sets none)`);
  }
  if (current.discard && current.discard !== wanted.discard) left(`discard is ${current.discard} (Tidemark's: ${wanted.discard})`);

  const changed = Object.keys(update);
  return { update, changed, warnings };
}
