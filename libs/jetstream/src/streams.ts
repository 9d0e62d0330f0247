/**
 * Idempotent provisioning at boot: streams from the contracts' `StreamSpec`s and durable pull consumers.
 * Create when missing, update when the config differs, leave alone when equal. Only settings nats-server 2.9
 * knows (no metadata, compression, subject transforms or `filter_subjects`).
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import type { StreamSpec } from '@tidemark/contracts';

const NS_PER_MS = 1_000_000;
export const msToNanos = (ms: number): number => Math.round(ms * NS_PER_MS);
export const nanosToMs = (ns: number): number => Math.round(ns / NS_PER_MS);

export type ProvisionAction = 'created' | 'updated' | 'unchanged';

export interface ProvisionResult {
  name: string;
  action: ProvisionAction;
  /** Fields that differed (for `updated`). */
  changed: string[];
}

export class ProvisioningError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ProvisioningError';
  }
}

export interface StreamProvisionOptions {
  /** Replicas (default 1: single server). */
  replicas?: number;
  /** The contract's own specs: their `maxBytes` is "ours, the default" when deciding whether to change a size. */
  defaults?: readonly StreamSpec[];
}

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

/** The stream configuration a spec stands for: file storage, limits retention, discard old. */
export function streamConfigFor(spec: StreamSpec, options: StreamProvisionOptions = {}): Partial<StreamConfig> & { name: string } {
  if (spec.maxAgeMs > 0 && spec.duplicateWindowMs > spec.maxAgeMs) {
    throw new ProvisioningError(`stream ${spec.name}: duplicateWindowMs (${spec.duplicateWindowMs}) exceeds maxAgeMs (${spec.maxAgeMs})`);
  }
  return {
    name: spec.name,
    subjects: [...spec.subjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: msToNanos(spec.maxAgeMs),
    max_bytes: spec.maxBytes ?? -1,
    duplicate_window: msToNanos(spec.duplicateWindowMs),
    num_replicas: options.replicas ?? 1,
  };
}

const sameSet = (a: readonly string[] = [], b: readonly string[] = []) => a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

function isNotFound(error: unknown): boolean {
  const e = error as { code?: number; status?: number; name?: string; message?: string };
  return e?.name === 'StreamNotFoundError' || e?.name === 'ConsumerNotFoundError' || e?.status === 404 || /not found/i.test(e?.message ?? '');
}

/** Creates the stream if missing, updates it if its subjects, max age, duplicate window or replicas differ. */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec, options: StreamProvisionOptions = {}): Promise<ProvisionResult> {
  const wanted = streamConfigFor(spec, options);
  let current: StreamConfig;
  let storedBytes = 0;
  try {
    const info = await jsm.streams.info(spec.name);
    current = info.config;
    storedBytes = info.state.bytes;
  } catch (error) {
    if (!isNotFound(error)) throw new ProvisioningError(`stream ${spec.name}: info failed: ${(error as Error).message}`, { cause: error });
    try {
      await jsm.streams.add(wanted);
      return { name: spec.name, action: 'created', changed: [] };
    } catch (addError) {
      // Another instance may have created it meanwhile: fall through to the comparison.
      try {
        current = (await jsm.streams.info(spec.name)).config;
      } catch {
        throw new ProvisioningError(`stream ${spec.name}: create failed: ${(addError as Error).message}`, { cause: addError });
      }
    }
  }
  if (current.storage !== wanted.storage) {
    throw new ProvisioningError(`stream ${spec.name} has storage ${current.storage}, wanted ${wanted.storage}; storage cannot be changed in place`);
  }
  const changed: string[] = [];
  if (!sameSet(current.subjects, wanted.subjects)) changed.push('subjects');
  if (current.max_age !== wanted.max_age) changed.push('max_age');
  if (current.duplicate_window !== wanted.duplicate_window) changed.push('duplicate_window');
  if (current.num_replicas !== wanted.num_replicas) changed.push('num_replicas');
  const ourDefault = options.defaults?.find((d) => d.name === spec.name)?.maxBytes ?? spec.maxBytes;
  const maxBytes = decideMaxBytes(current.max_bytes ?? -1, storedBytes, spec.maxBytes, ourDefault);
  if (maxBytes !== undefined) changed.push('max_bytes');
  if (current.retention !== wanted.retention) {
    throw new ProvisioningError(`stream ${spec.name} has retention ${current.retention}, wanted ${wanted.retention}; retention cannot be changed in place`);
  }
  if (changed.length === 0) return { name: spec.name, action: 'unchanged', changed };
  try {
    await jsm.streams.update(spec.name, {
      subjects: wanted.subjects,
      max_age: wanted.max_age,
      duplicate_window: wanted.duplicate_window,
      num_replicas: wanted.num_replicas,
      max_bytes: maxBytes ?? current.max_bytes,
    });
  } catch (error) {
    throw new ProvisioningError(`stream ${spec.name}: update of ${changed.join(', ')} failed: ${(error as Error).message}`, { cause: error });
  }
  return { name: spec.name, action: 'updated', changed };
}

/** `ensureStream` for each spec, in order. */
export async function ensureStreams(jsm: JetStreamManager, specs: readonly StreamSpec[], options: StreamProvisionOptions = {}): Promise<ProvisionResult[]> {
  const out: ProvisionResult[] = [];
  for (const spec of specs) out.push(await ensureStream(jsm, spec, options));
  return out;
}

export interface DurableConsumerSpec {
  stream: string;
  durable: string;
  /** One subject (nats-server 2.9: no `filter_subjects` arrays), e.g. `events.raw.3`. */
  filterSubject?: string;
  /** Redelivery timeout for an unacknowledged message (default 30 000 ms). */
  ackWaitMs?: number;
  /** Default 20 000 (the server's default, 1000, throttles batched consumers). */
  maxAckPending?: number;
  /** Largest pull batch the server accepts (default: unlimited). */
  maxBatch?: number;
  /** Concurrent pull requests (default 512). */
  maxWaiting?: number;
  /** Where a new consumer starts (default `all`). */
  deliverPolicy?: DeliverPolicy;
  description?: string;
}

/**
 * The consumer configuration we use: pull, durable, ack policy `all`, unlimited server-side deliveries
 * (`max_deliver: -1`: dead-lettering after `maxDeliver` is done by the client, so nothing is ever dropped
 * silently by the server).
 */
export function consumerConfigFor(spec: DurableConsumerSpec): Partial<ConsumerConfig> {
  const cfg: Partial<ConsumerConfig> = {
    durable_name: spec.durable,
    ack_policy: AckPolicy.All,
    deliver_policy: spec.deliverPolicy ?? DeliverPolicy.All,
    replay_policy: ReplayPolicy.Instant,
    ack_wait: msToNanos(spec.ackWaitMs ?? 30_000),
    max_ack_pending: spec.maxAckPending ?? 20_000,
    max_deliver: -1,
    max_waiting: spec.maxWaiting ?? 512,
  };
  if (spec.filterSubject) cfg.filter_subject = spec.filterSubject;
  if (spec.maxBatch) cfg.max_batch = spec.maxBatch;
  if (spec.description) cfg.description = spec.description;
  return cfg;
}

/**
 * Creates the durable pull consumer if missing; updates ack wait, max ack pending, max batch or description
 * when they differ. Throws `ProvisioningError` when an immutable setting (ack policy, filter subject,
 * deliver policy) differs: changing those silently could skip or replay a partition.
 */
export async function ensureConsumer(jsm: JetStreamManager, spec: DurableConsumerSpec): Promise<{ result: ProvisionResult; info: ConsumerInfo }> {
  const wanted = consumerConfigFor(spec);
  const name = `${spec.stream}/${spec.durable}`;
  let info: ConsumerInfo;
  try {
    info = await jsm.consumers.info(spec.stream, spec.durable);
  } catch (error) {
    if (!isNotFound(error)) throw new ProvisioningError(`consumer ${name}: info failed: ${(error as Error).message}`, { cause: error });
    try {
      info = await jsm.consumers.add(spec.stream, wanted);
      return { result: { name, action: 'created', changed: [] }, info };
    } catch (addError) {
      try {
        info = await jsm.consumers.info(spec.stream, spec.durable);
      } catch {
        throw new ProvisioningError(`consumer ${name}: create failed: ${(addError as Error).message}`, { cause: addError });
      }
    }
  }
  const c = info.config;
  const immutable: string[] = [];
  if (c.ack_policy !== wanted.ack_policy) immutable.push(`ack_policy ${c.ack_policy} ≠ ${wanted.ack_policy}`);
  if ((c.filter_subject ?? '') !== (wanted.filter_subject ?? '')) immutable.push(`filter_subject "${c.filter_subject ?? ''}" ≠ "${wanted.filter_subject ?? ''}"`);
  if (c.deliver_subject) immutable.push('it is a push consumer');
  if (immutable.length) throw new ProvisioningError(`consumer ${name} exists with ${immutable.join(', ')}; delete it deliberately to change that`);
  const changed: string[] = [];
  const update: Record<string, unknown> = {};
  // max_waiting cannot be updated on 2.9; the rest can.
  for (const key of ['ack_wait', 'max_ack_pending', 'max_deliver', 'max_batch', 'description'] as const) {
    const want = (wanted as Record<string, unknown>)[key];
    if (want !== undefined && (c as unknown as Record<string, unknown>)[key] !== want) {
      changed.push(key);
      update[key] = want;
    }
  }
  if (changed.length === 0) return { result: { name, action: 'unchanged', changed }, info };
  try {
    info = await jsm.consumers.update(spec.stream, spec.durable, update);
  } catch (error) {
    throw new ProvisioningError(`consumer ${name}: update of ${changed.join(', ')} failed: ${(error as Error).message}`, { cause: error });
  }
  return { result: { name, action: 'updated', changed }, info };
}
