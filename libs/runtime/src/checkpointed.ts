/**
 * The operator lifecycle every stateful consumer shares (docs/checkpoints.md): restore a partition's state
 * from its checkpoint, process batches in memory, checkpoint every CHECKPOINT_INTERVAL_MS (or
 * CHECKPOINT_MAX_EVENTS events), then acknowledge up to the checkpoint's sequence.
 *
 *   first batch of a partition → state.restore() → the checkpoint's sequence C
 *     the consumer acked past C (a checkpoint lost in a Redis failover): rewind, deliver again from C + 1
 *   each batch → messages after the last applied sequence → decoded → state.apply (in memory) → `hold`
 *     (messages at or below it are a redelivery: skipped and counted as replayed)
 *   checkpoint due → state.checkpoint(C, last applied) — one fenced write → `ack` / commit(C')
 *     written, not durable (WAIT fell short): the fence moves to C', the acknowledgement waits for a durable one
 *     conflict (another writer moved the checkpoint): restore again and rewind to its sequence
 *
 * A crash loses the work since the last checkpoint; its messages were not acked, so they come again and are
 * applied once to the restored state. The checkpoint (not the broker's ack floor) says where to resume.
 *
 * Dedup, aggregation, recommendation and alerting all run on it; they differ in what a checkpoint is (a Lua
 * script of a partition's changes, or — for dedup — the fenced forward to the clean stream that `apply` makes
 * itself, with `intervalMs: 0`) and in how messages decode (`BatchDecoder`). API writes (alerting's rules) go
 * through `exclusive`, which checkpoints before it returns. Pure of I/O itself: time comes in as arguments,
 * Redis and NATS behind the state's methods.
 */
import { frameCount } from '@tidemark/contracts';
import { decodeFrames, Outcome, type BatchContext, type BatchOutcome, type ConsumedMessage, type DeadLetterRequest, type FramedEvent } from '@tidemark/jetstream';

/**
 * `fenced`: the write carried a fencing token below the partition's current one — another member claimed the
 * partition (docs/scale-out.md "Partitions that move"): nothing was written, and this process must let go.
 * `written`: stored, but not durable yet (its replicas did not acknowledge it within Redis Cluster's WAIT
 * timeout): it is the stored checkpoint now — the next one is fenced on it — but the messages it covers are
 * acknowledged only once a later checkpoint is durable (docs/scale-out.md "Durability on failover").
 */
export type CheckpointResult = { status: 'ok' } | { status: 'written' } | { status: 'conflict'; lastSeq: number } | { status: 'fenced'; token: number };

type Attempt = 'ok' | 'written' | 'conflict' | 'error' | 'fenced';

/**
 * Thrown by `apply` when a write the state makes itself was refused by its fence (dedup's forward found
 * another writer's frame in the clean stream): the partition is restored and delivered again from there.
 */
export class CheckpointConflict extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointConflict';
  }
}

/**
 * Thrown by `apply` when it failed before changing memory, and what it wrote (if anything) is redone the same by
 * the same batch (dedup's claims: the same place claims the same id again): the batch is retried as it is —
 * no restore, no rewind of the consumer. Anything else `apply` throws restores and rewinds.
 */
export class BatchNotApplied extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BatchNotApplied';
  }
}

/** Thrown by `exclusive` when its change could not be checkpointed: nothing of it remains, in memory or in Redis. */
export class CheckpointFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointFailed';
  }
}

/** How a service reads its messages: into items that carry their message's stream sequence. */
export interface BatchDecoder<E extends { seq: number }> {
  /** The items, what is dead-lettered, and how many items were skipped unread (not for this state). */
  decode(batch: readonly ConsumedMessage[]): { events: E[]; deadLetters: DeadLetterRequest[]; skipped?: number };
  /** Items a message holds (counted as replayed when the message is skipped). */
  count(message: ConsumedMessage): number;
}

/**
 * Event frames (libs/contracts frame.ts), one item per event; with `keep` (libs/jetstream `mentioning`), only
 * the events whose text it keeps are parsed — the others are skipped (recommendation reads three types).
 */
export function frameDecoder(keep?: (text: string) => boolean): BatchDecoder<FramedEvent> {
  return { decode: (batch) => decodeFrames(batch, keep), count: (m) => frameCount(m.data) };
}

/** Every event of the frames: aggregation. */
export const FRAME_DECODER: BatchDecoder<FramedEvent> = frameDecoder();

/** One partition's keyed state, held in memory and checkpointed (a service's operator). */
export interface PartitionState<E extends { seq: number } = FramedEvent> {
  /**
   * Reads the partition's last checkpoint into memory, dropping what memory held; its sequence (0: none).
   * `ackFloor` is the consumer's ack floor when a batch is at hand (0 otherwise), for a state whose
   * checkpoint cannot always name its sequence (dedup's, when a foreign message ends the clean subject).
   */
  restore(from: { ackFloor: number }): Promise<number>;
  /**
   * Applies the items of the messages after the last applied sequence, in memory; returns items it
   * dead-letters. Throws CheckpointConflict when a fenced write of its own was refused.
   */
  apply(events: E[], now: number): Promise<DeadLetterRequest[] | void> | DeadLetterRequest[] | void;
  /**
   * Writes what changed since the last checkpoint with sequence `seq`, in one fenced call: only when the
   * stored checkpoint is still at `expectedSeq` and, with a `token` (group assignment), when no member
   * claimed the partition with a higher fencing token.
   */
  checkpoint(expectedSeq: number, seq: number, now: number, token?: number): Promise<CheckpointResult>;
  /** Whether there is something to checkpoint besides new events (optional; e.g. purges). */
  dirty?(): boolean;
  /** Taken on at `open`: e.g. counts as active from `now` (optional). */
  activate?(now: number): void;
}

export interface CheckpointOptions<E extends { seq: number }> {
  /** How messages are read: FRAME_DECODER for event frames. */
  decoder: BatchDecoder<E>;
  /** Checkpoint at least this often while events come in (CHECKPOINT_INTERVAL_MS, default 200; 0: every batch). */
  intervalMs: number;
  /** … and after this many events at most (CHECKPOINT_MAX_EVENTS, default 20 000). */
  maxEvents: number;
  logger?: { warn(message: string): unknown };
  /** Called after each checkpoint attempt. */
  onCheckpoint?: (info: { partition: number; durationMs: number; outcome: Attempt; events: number }) => void;
  /**
   * Partitions are taken with `open(…, token)` only (group assignment): a batch of a partition not open is
   * retried, never applied to state created on the fly without a token.
   */
  leased?: boolean;
  /** A checkpoint was refused by the fencing token: the partition belongs to another member now. */
  onFenced?: (partition: number, token: number) => void;
  /**
   * Called after each batch: items applied, items skipped as already applied (a redelivery), items the decoder
   * skipped as not for this state, items dead-lettered.
   */
  onBatch?: (info: { partition: number; applied: number; replayed: number; skipped: number; deadLettered: number }) => void;
}

/** What a batch brings from its consumer; `generation` is optional for consumers that never rewind on their own. */
type Context = Pick<BatchContext, 'commit' | 'rewind' | 'ackFloor'> & Partial<Pick<BatchContext, 'generation'>>;

interface Slot<S> {
  partition: number;
  state: S;
  restored: boolean;
  /** Last stream sequence applied in memory. */
  applied: number;
  /** Sequence of the stored checkpoint (the fence the next one expects). */
  checkpointed: number;
  /**
   * Sequence of the last checkpoint known durable: acknowledged up to here. Below `checkpointed` while the
   * stored one was written but not confirmed by its replicas (`written`); the next durable one catches up.
   */
  durable: number;
  /** Events applied since that checkpoint. */
  pending: number;
  lastCheckpointAt: number;
  /** The consumer's, from its last batch: ack up to a checkpoint, deliver again after a sequence. */
  commit?: (seq: number) => Promise<void>;
  rewind?: (afterSeq: number) => void;
  lock: Promise<unknown>;
  /** The fencing token every write carries (group assignment); undefined: static ownership, unfenced. */
  token?: number;
  /** Refused by the fence: nothing more is applied or written; `close` forgets it. */
  fenced: boolean;
  /** The consumer's generation (BatchContext.generation) of the last batch handed in. */
  generation?: number;
  /**
   * Set when the consumer was asked to rewind: batches of this generation or below were delivered before it,
   * and one already waiting for the lock (a rewind from the timer path) must not be applied — it would move
   * `applied` past the messages the rewind delivers again, which would then be skipped as replays.
   */
  rewoundAt?: number;
}

export class CheckpointedPartitions<S extends PartitionState<E>, E extends { seq: number } = FramedEvent> {
  private readonly slots = new Map<number, Slot<S>>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly create: (partition: number) => S,
    private readonly options: CheckpointOptions<E>,
  ) {}

  /** The state of a partition, once created. */
  state(partition: number): S | undefined {
    return this.slots.get(partition)?.state;
  }

  get partitions(): number[] {
    return [...this.slots.keys()].sort((a, b) => a - b);
  }

  /** One batch of one partition (the consumer's handler). */
  handle(batch: readonly ConsumedMessage[], ctx: Context, partition: number, now: number): Promise<BatchOutcome> {
    if (this.options.leased && !this.slots.has(partition)) return Promise.resolve(Outcome.retry(1000, `partition ${partition} is not held by this member`));
    const slot = this.slot(partition);
    slot.commit = ctx.commit;
    slot.rewind = ctx.rewind;
    if (ctx.generation !== undefined) slot.generation = ctx.generation;
    return this.locked(slot, () => this.process(slot, batch, ctx, now));
  }

  /**
   * Runs a change that does not come from the stream (an API write) on a partition's state, between batches,
   * and checkpoints it before returning. If the checkpoint fails, the partition is restored (the change and
   * any events since the last checkpoint are dropped from memory; those events are delivered again) and
   * CheckpointFailed is thrown. A change must throw (e.g. on invalid input) before it changes anything: its
   * error is passed on and nothing is checkpointed.
   */
  exclusive<T>(partition: number, now: number, change: (state: S) => T | Promise<T>): Promise<T> {
    const slot = this.slot(partition);
    return this.locked(slot, async () => {
      if (slot.fenced) throw new CheckpointFailed(`partition ${partition}: claimed by another member`);
      if (!slot.restored) await this.restore(slot, now);
      const result = await change(slot.state);
      if (this.hasWork(slot)) {
        const applied = slot.applied;
        const r = await this.checkpoint(slot, now);
        if (r !== 'ok') {
          // 'written': stored but not on a replica — not a change this call may report done. Memory equals what
          // is stored, so it stays; the partition's next durable checkpoint makes it durable.
          if (r === 'error') await this.abandon(slot, now);
          else if (r === 'fenced') throw new CheckpointFailed(`partition ${partition}: claimed by another member`);
          else if (r === 'conflict') await this.settle(slot, applied); // restored already
          throw new CheckpointFailed(`partition ${partition}: the change could not be checkpointed (${r})`);
        }
        await slot.commit?.(slot.checkpointed);
      }
      return result;
    });
  }

  /** Checkpoints every partition whose checkpoint is due (a timer calls it; tests call it with their clock). */
  async tick(now: number, force = false): Promise<void> {
    await Promise.all(
      [...this.slots.values()].map((slot) => {
        if (!slot.restored || slot.fenced || !this.hasWork(slot)) return undefined;
        if (!force && now - slot.lastCheckpointAt < this.options.intervalMs) return undefined;
        return this.locked(slot, async () => {
          if (slot.fenced || !this.hasWork(slot)) return;
          const applied = slot.applied;
          const r = await this.checkpoint(slot, now);
          if (r === 'ok') await slot.commit?.(slot.checkpointed);
          else if (r === 'conflict') await this.settle(slot, applied);
        });
      }),
    );
  }

  /**
   * Takes partitions on at start: restores each and writes a checkpoint at once, so a partition holds the
   * operator watermark back from the start (until it has events or goes idle), not from its first batch.
   */
  async open(partitions: readonly number[], now: number, token?: number): Promise<void> {
    await Promise.all(
      partitions.map((p) => {
        if (this.slots.get(p)?.fenced) this.slots.delete(p); // taken again after losing it: a fresh start
        const slot = this.slot(p);
        if (token !== undefined) slot.token = token;
        return this.locked(slot, async () => {
          if (!slot.restored) await this.restore(slot, now);
          slot.state.activate?.(now);
          // A consumer may have delivered batches already (it can start before this): what the checkpoint
          // covers is acknowledged, as after any checkpoint.
          const applied = slot.applied;
          const r = await this.checkpoint(slot, now);
          if (r === 'ok') await slot.commit?.(slot.checkpointed);
          else if (r === 'conflict') await this.settle(slot, applied);
        });
      }),
    );
  }

  /**
   * Lets a partition go (it moves to another member): a last checkpoint of what memory holds — refused by the
   * fencing token if another member claimed it already — then the acknowledgement up to it, then the state is
   * forgotten. Call it once the partition's consumer stopped (no batch in hand). What was not checkpointed is
   * not acked, so the next owner gets it again.
   */
  async close(partition: number, now: number): Promise<void> {
    const slot = this.slots.get(partition);
    if (!slot) return;
    await this.locked(slot, async () => {
      if (slot.restored && !slot.fenced && this.hasWork(slot)) {
        const r = await this.checkpoint(slot, now);
        if (r === 'ok') await slot.commit?.(slot.checkpointed);
      }
    }).finally(() => {
      if (this.slots.get(partition) === slot) this.slots.delete(partition);
    });
  }

  start(clock: () => number = Date.now): void {
    const every = Math.max(10, Math.floor(this.options.intervalMs / 2));
    const run = async () => {
      await this.tick(clock()).catch((e) => this.options.logger?.warn(`checkpoint round failed: ${(e as Error).message}`));
      if (this.timer) this.timer = setTimeout(run, every);
    };
    this.timer = setTimeout(run, every);
  }

  /** Stops the timer and writes a last checkpoint of every partition (a graceful stop replays nothing). */
  async stop(now: number): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.tick(now, true).catch((e) => this.options.logger?.warn(`last checkpoint failed: ${(e as Error).message}`));
  }

  private slot(partition: number): Slot<S> {
    let s = this.slots.get(partition);
    if (!s) {
      s = { partition, state: this.create(partition), restored: false, applied: 0, checkpointed: 0, durable: 0, pending: 0, lastCheckpointAt: 0, lock: Promise.resolve(), fenced: false };
      this.slots.set(partition, s);
    }
    return s;
  }

  private locked<T>(slot: Slot<S>, fn: () => Promise<T>): Promise<T> {
    const run = slot.lock.then(fn, fn);
    slot.lock = run.catch(() => undefined);
    return run;
  }

  /** Events not checkpointed, other changes (purges, fired sessions), or a stored checkpoint not durable yet. */
  private hasWork(slot: Slot<S>): boolean {
    return slot.applied > slot.checkpointed || slot.durable < slot.checkpointed || (slot.state.dirty?.() ?? false);
  }

  private async restore(slot: Slot<S>, now: number, ackFloor = 0): Promise<void> {
    const seq = await slot.state.restore({ ackFloor });
    slot.applied = slot.checkpointed = slot.durable = seq;
    slot.pending = 0;
    slot.lastCheckpointAt = now;
    slot.restored = true;
  }

  /**
   * After a conflict restored the stored checkpoint C: the held messages up to C are covered by it (ack them);
   * those after it, applied in memory before the restore (`appliedBefore` > C), must come again (rewind to C,
   * which drops every held message and delivers from C + 1). A conflict is also how a checkpoint whose write
   * landed but whose reply was lost (a timeout) comes back: then C is our own write. (A WAIT that fell short
   * is not one: that write is `written`, and the next checkpoint is fenced on it.)
   */
  private async settle(slot: Slot<S>, appliedBefore: number): Promise<void> {
    if (appliedBefore > slot.checkpointed) this.rewind(slot, slot.checkpointed);
    else await slot.commit?.(slot.checkpointed);
  }

  /** Asks the consumer to deliver again after `afterSeq`; batches delivered before that are refused until it has. */
  private rewind(slot: Slot<S>, afterSeq: number, rewind = slot.rewind): void {
    slot.rewoundAt = slot.generation;
    rewind?.(afterSeq);
  }

  /** Drops memory that cannot be made durable: restored from the checkpoint; what it had applied comes again. */
  private async abandon(slot: Slot<S>, now: number): Promise<void> {
    const applied = slot.applied;
    slot.restored = false;
    await this.restore(slot, now).catch((e) => this.options.logger?.warn(`partition ${slot.partition}: restore failed (retried with the next batch): ${(e as Error).message}`));
    if (applied > slot.checkpointed) this.rewind(slot, slot.checkpointed);
  }

  private async process(slot: Slot<S>, batch: readonly ConsumedMessage[], ctx: Context, now: number): Promise<BatchOutcome> {
    if (slot.fenced) return Outcome.retry(1000, `partition ${slot.partition}: claimed by another member`);
    if (slot.rewoundAt !== undefined && ctx.generation !== undefined) {
      // Delivered before the rewind asked for (it waited for the lock while a checkpoint restored): dropped;
      // the consumer delivers everything after the checkpoint again.
      if (ctx.generation <= slot.rewoundAt) return Outcome.retry(0, `partition ${slot.partition}: a batch delivered before the rewind to ${slot.checkpointed}`);
      slot.rewoundAt = undefined;
    }
    if (!slot.restored) {
      try {
        await this.restore(slot, now, ctx.ackFloor);
      } catch (e) {
        // Redis (or NATS) away: the batch comes again later — never dead-lettered for it.
        return Outcome.retry(undefined, `partition ${slot.partition}: restore failed: ${(e as Error).message}`);
      }
    }
    if (ctx.ackFloor > slot.checkpointed) {
      // Acked past the checkpoint (it was lost, e.g. a Redis failover): those events must come again.
      this.rewind(slot, slot.checkpointed, ctx.rewind);
      return Outcome.retry(0, `partition ${slot.partition}: acked up to ${ctx.ackFloor}, checkpoint at ${slot.checkpointed}`);
    }
    let replayed = 0;
    let from = 0;
    while (from < batch.length && batch[from].seq <= slot.applied) replayed += this.options.decoder.count(batch[from++]);
    const fresh = from === 0 ? batch : batch.slice(from);
    const deadLetters: DeadLetterRequest[] = [];
    let applied = 0;
    let skipped = 0;
    if (fresh.length > 0) {
      const decoded = this.options.decoder.decode(fresh);
      deadLetters.push(...decoded.deadLetters);
      skipped = decoded.skipped ?? 0;
      try {
        const more = await slot.state.apply(decoded.events, now);
        if (more) deadLetters.push(...more);
      } catch (e) {
        // Nothing changed and the batch redoes what it wrote: retried as it is (backoff), memory kept.
        if (e instanceof BatchNotApplied) return Outcome.retry(undefined, `partition ${slot.partition}: ${e.message}`);
        // A refused fenced write of the state's own (CheckpointConflict), or anything else apply threw (a read
        // that failed while Redis fails over): memory may be half-applied, so it is dropped and restored, and
        // everything after the last durable checkpoint comes again. Retried, never dead-lettered: an event
        // is not poison because the state store was away.
        const reason = `partition ${slot.partition}: ${e instanceof CheckpointConflict ? e.message : `apply failed: ${(e as Error).message}`}`;
        this.options.logger?.warn(`${reason}; restoring`);
        slot.restored = false;
        await this.restore(slot, now, ctx.ackFloor).catch(() => undefined); // else: restored with the next batch
        this.rewind(slot, slot.checkpointed, ctx.rewind);
        return Outcome.retry(e instanceof CheckpointConflict ? 0 : undefined, reason);
      }
      slot.applied = fresh[fresh.length - 1].seq;
      slot.pending += decoded.events.length;
      applied = decoded.events.length;
    }
    this.options.onBatch?.({ partition: slot.partition, applied, replayed, skipped, deadLettered: deadLetters.length });
    if (slot.applied > slot.checkpointed && (slot.pending >= this.options.maxEvents || now - slot.lastCheckpointAt >= this.options.intervalMs)) {
      const r = await this.checkpoint(slot, now);
      if (r === 'fenced') return Outcome.retry(1000, `partition ${slot.partition}: claimed by another member`);
      if (r === 'conflict') {
        this.rewind(slot, slot.checkpointed, ctx.rewind);
        return Outcome.retry(0, `partition ${slot.partition}: another writer moved the checkpoint to ${slot.checkpointed}`);
      }
    }
    return batch[batch.length - 1].seq <= slot.durable ? Outcome.ack(deadLetters) : Outcome.hold(deadLetters);
  }

  /**
   * One checkpoint; 'error' keeps memory as it is (the next one retries), 'conflict' restores, 'written' moves
   * the fence but not what may be acknowledged (`durable`).
   */
  private async checkpoint(slot: Slot<S>, now: number): Promise<Attempt> {
    const started = Date.now();
    const events = slot.pending;
    let outcome: Attempt;
    try {
      const r = await slot.state.checkpoint(slot.checkpointed, slot.applied, now, slot.token);
      if (r.status === 'fenced') {
        // A zombie: another member holds the partition with a newer token. Nothing was written; memory is
        // worthless now (the new owner restores the checkpoint and replays after it).
        this.options.logger?.warn(`partition ${slot.partition}: checkpoint refused, token ${slot.token} < ${r.token}: another member holds it`);
        slot.fenced = true;
        outcome = 'fenced';
        this.options.onFenced?.(slot.partition, r.token);
      } else if (r.status === 'ok' || r.status === 'written') {
        slot.checkpointed = slot.applied;
        // A durable checkpoint makes the ones before it durable too: replication keeps the order.
        if (r.status === 'ok') slot.durable = slot.checkpointed;
        else this.options.logger?.warn(`partition ${slot.partition}: checkpoint at seq ${slot.checkpointed} written but not confirmed by a replica; acknowledged once a later one is`);
        slot.pending = 0;
        slot.lastCheckpointAt = now;
        outcome = r.status;
      } else {
        // At the same sequence: a write without new events (an epoch) moved it.
        this.options.logger?.warn(`partition ${slot.partition}: the stored checkpoint moved (at seq ${r.lastSeq}, expected ${slot.checkpointed}): another writer, or a write of ours not confirmed; restoring`);
        await this.restore(slot, now);
        outcome = 'conflict';
      }
    } catch (e) {
      this.options.logger?.warn(`partition ${slot.partition}: checkpoint failed: ${(e as Error).message}; kept in memory, retried`);
      slot.lastCheckpointAt = now;
      outcome = 'error';
    }
    this.options.onCheckpoint?.({ partition: slot.partition, durationMs: Date.now() - started, outcome, events });
    return outcome;
  }
}
