/**
 * Idempotent provisioning at boot: streams from the contracts' `StreamSpec`s and durable pull consumers.
 * Create when missing; on an existing stream only add what is missing (`planStreamUpdate`: subjects, more
 * replicas, a longer retention) and never take away what an operator set — what differs and is left is
 * returned as warnings. JETSTREAM_PROVISION=off: `checkStreams` only (nothing created or changed). Only
 * settings nats-server 2.9 knows (no metadata, compression, subject transforms or `filter_subjects`).
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
import { ProvisioningError, planStreamUpdate, type StreamSettings } from './stream-plan';

export { ProvisioningError, decideMaxBytes, planStreamUpdate } from './stream-plan';
export type { StreamPlan, StreamSettings, StreamUpdate } from './stream-plan';

const NS_PER_MS = 1_000_000;
export const msToNanos = (ms: number): number => Math.round(ms * NS_PER_MS);
export const nanosToMs = (ns: number): number => Math.round(ns / NS_PER_MS);

export type ProvisionAction = 'created' | 'updated' | 'unchanged';

export interface ProvisionResult {
  name: string;
  action: ProvisionAction;
  /** Fields that were changed (for `updated`). */
  changed: string[];
  /** What differs from the wanted config and was left as it is (an operator's choice), to log at warn. */
  warnings: string[];
}

export interface StreamProvisionOptions {
  /** Replicas (JETSTREAM_REPLICAS; default 1: single server). */
  replicas?: number;
  /** The contract's own specs: their `maxBytes` is "ours, the default" when deciding whether to change a size. */
  defaults?: readonly StreamSpec[];
  /** How long transient JetStream API failures (`isTransient`) are retried (default PROVISION_RETRY_MS). */
  retryForMs?: number;
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

/**
 * JetStream API failures worth another try at boot: a request timeout, no responders, a cluster whose meta or
 * stream leader is being elected ("JetStream system temporarily unavailable"). Common on a cluster that has
 * just started or lost a server, or that several services provision at once.
 */
export function isTransient(error: unknown): boolean {
  const e = error as { name?: string; message?: string };
  return /timeout|timed out|no responders|temporarily unavailable|leader ?less|no leader|not current/i.test(`${e?.name ?? ''} ${e?.message ?? ''}`);
}

/** Default of `StreamProvisionOptions.retryForMs`. */
export const PROVISION_RETRY_MS = 30_000;

/** Runs `op`, again after a transient failure (growing pause, 200 ms → 2 s) until `retryForMs` has passed. */
export async function retrying<T>(op: () => Promise<T>, retryForMs = PROVISION_RETRY_MS): Promise<T> {
  const deadline = Date.now() + retryForMs;
  for (let pause = 200; ; pause = Math.min(2000, pause * 2)) {
    try {
      return await op();
    } catch (error) {
      if (!isTransient(error) || Date.now() + pause > deadline) throw error;
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}

function isNotFound(error: unknown): boolean {
  const e = error as { code?: number; status?: number; name?: string; message?: string };
  return e?.name === 'StreamNotFoundError' || e?.name === 'ConsumerNotFoundError' || e?.status === 404 || /not found/i.test(e?.message ?? '');
}

/**
 * Creates the stream if missing; on an existing one applies `planStreamUpdate` (adds missing subjects, raises
 * replicas, max age, duplicate window or a size that is ours; never lowers anything an operator set).
 */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec, options: StreamProvisionOptions = {}): Promise<ProvisionResult> {
  const wanted = streamConfigFor(spec, options);
  const retry = <T>(op: () => Promise<T>) => retrying(op, options.retryForMs ?? PROVISION_RETRY_MS);
  let current: StreamConfig;
  let storedBytes = 0;
  try {
    const info = await retry(() => jsm.streams.info(spec.name));
    current = info.config;
    storedBytes = info.state.bytes;
  } catch (error) {
    if (!isNotFound(error)) throw new ProvisioningError(`stream ${spec.name}: info failed: ${(error as Error).message}`, { cause: error });
    try {
      await retry(() => jsm.streams.add(wanted));
      return { name: spec.name, action: 'created', changed: [], warnings: [] };
    } catch (addError) {
      // Another instance may have created it meanwhile: fall through to the comparison.
      try {
        const info = await retry(() => jsm.streams.info(spec.name));
        current = info.config;
        storedBytes = info.state.bytes;
      } catch {
        throw new ProvisioningError(`stream ${spec.name}: create failed: ${(addError as Error).message}`, { cause: addError });
      }
    }
  }
  const ourDefault = options.defaults?.find((d) => d.name === spec.name)?.maxBytes ?? spec.maxBytes;
  const plan = planStreamUpdate(spec.name, current as unknown as StreamSettings, wanted as unknown as StreamSettings, storedBytes, ourDefault);
  if (plan.changed.length === 0) return { name: spec.name, action: 'unchanged', changed: [], warnings: plan.warnings };
  try {
    await retry(() => jsm.streams.update(spec.name, plan.update));
  } catch (error) {
    throw new ProvisioningError(`stream ${spec.name}: update of ${plan.changed.join(', ')} failed: ${(error as Error).message}`, { cause: error });
  }
  return { name: spec.name, action: 'updated', changed: plan.changed, warnings: plan.warnings };
}

/** `ensureStream` for each spec, in order. */
export async function ensureStreams(jsm: JetStreamManager, specs: readonly StreamSpec[], options: StreamProvisionOptions = {}): Promise<ProvisionResult[]> {
  const out: ProvisionResult[] = [];
  for (const spec of specs) out.push(await ensureStream(jsm, spec, options));
  return out;
}

/**
 * JETSTREAM_PROVISION=off: creates and changes nothing, only checks that every stream exists; throws a
 * `ProvisioningError` naming each missing one.
 */
export async function checkStreams(jsm: JetStreamManager, specs: readonly StreamSpec[], options: Pick<StreamProvisionOptions, 'retryForMs'> = {}): Promise<void> {
  const missing: string[] = [];
  for (const spec of specs) {
    try {
      await retrying(() => jsm.streams.info(spec.name), options.retryForMs ?? PROVISION_RETRY_MS);
    } catch (error) {
      if (!isNotFound(error)) throw new ProvisioningError(`stream ${spec.name}: info failed: ${(error as Error).message}`, { cause: error });
      missing.push(spec.name);
    }
  }
  if (missing.length) {
    throw new ProvisioningError(
      `JETSTREAM_PROVISION=off and stream${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'do' : 'does'} not exist: create ${missing.length > 1 ? 'them' : 'it'} (docs/operations.md "NATS clusters") or set JETSTREAM_PROVISION=auto`,
    );
  }
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
  /** Replicas of the consumer's state; `ensureConsumer` sets it to the stream's when undefined (follows the stream). */
  replicas?: number;
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
  if (spec.replicas) cfg.num_replicas = spec.replicas;
  return cfg;
}

/**
 * Creates the durable pull consumer if missing; updates ack wait, max ack pending, max batch or description
 * when they differ. Throws `ProvisioningError` when an immutable setting (ack policy, filter subject,
 * deliver policy) differs: changing those silently could skip or replay a partition.
 */
export async function ensureConsumer(
  jsm: JetStreamManager,
  spec: DurableConsumerSpec,
  options: Pick<StreamProvisionOptions, 'retryForMs'> = {},
): Promise<{ result: ProvisionResult; info: ConsumerInfo }> {
  const retry = <T>(op: () => Promise<T>) => retrying(op, options.retryForMs ?? PROVISION_RETRY_MS);
  let replicas = spec.replicas;
  if (replicas === undefined) {
    try {
      replicas = (await retry(() => jsm.streams.info(spec.stream))).config.num_replicas || 1;
    } catch (error) {
      throw new ProvisioningError(`consumer ${spec.stream}/${spec.durable}: stream info failed: ${(error as Error).message}`, { cause: error });
    }
  }
  const wanted = consumerConfigFor({ ...spec, replicas });
  const name = `${spec.stream}/${spec.durable}`;
  let info: ConsumerInfo;
  try {
    info = await retry(() => jsm.consumers.info(spec.stream, spec.durable));
  } catch (error) {
    if (!isNotFound(error)) throw new ProvisioningError(`consumer ${name}: info failed: ${(error as Error).message}`, { cause: error });
    try {
      info = await retry(() => jsm.consumers.add(spec.stream, wanted));
      return { result: { name, action: 'created', changed: [], warnings: [] }, info };
    } catch (addError) {
      try {
        info = await retry(() => jsm.consumers.info(spec.stream, spec.durable));
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
  // 0 = "as many as the stream": already following it.
  if ((c.num_replicas || replicas) !== replicas) {
    changed.push('num_replicas');
    update.num_replicas = replicas;
  }
  if (changed.length === 0) return { result: { name, action: 'unchanged', changed, warnings: [] }, info };
  try {
    info = await retry(() => jsm.consumers.update(spec.stream, spec.durable, update));
  } catch (error) {
    throw new ProvisioningError(`consumer ${name}: update of ${changed.join(', ')} failed: ${(error as Error).message}`, { cause: error });
  }
  return { result: { name, action: 'updated', changed, warnings: [] }, info };
}
