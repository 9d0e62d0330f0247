import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { WindowResultDto, subjects } from '@tidemark/contracts';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { JetStreamPublisher } from '@tidemark/jetstream';
import { MetricsRegistry } from '@tidemark/observability';
import { REDIS } from '@tidemark/state';
import { WatermarkState, WatermarkTracker, cleanupTime } from '@tidemark/streaming';
import { METRICS } from './aggregation.constants';
import { LoadedMetrics } from './metric-loader';
import { JOIN_KEYS, decideJoin, decodeJoin, parseJoinMember } from './join-store';
import { KEYS, WindowRef, indexMember, parseDueMember, readWindows, sessionMember } from './window-store';

/** Take or keep the firer lease: one instance fires at a time; another takes over when it stops renewing. */
const LEASE = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;

/** Raise the operator watermark, never lower it. */
const RAISE = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '-1e300')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
return 0`;

/**
 * Record a firing: the version published and the update count it covered; leave the window due when
 * updates came in meanwhile (it fires again, with the next version); keep the result for queries. A window
 * gone meanwhile (a session merged into a larger one) is not recreated.
 */
const RECORD = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], '_v', ARGV[1], '_f', ARGV[2])
if redis.call('HGET', KEYS[1], '_u') == ARGV[2] then redis.call('ZREM', KEYS[2], ARGV[3]) end
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[3])
return 1`;

/**
 * Record what the firer did with a due join key (join-store.ts decideJoin). ARGV: member, the _u it read,
 * mode (resolve | wait | drop), version (0: nothing published), status, left ts, left id, index member,
 * result JSON, due time (wait). The due entry is only touched when no batch updated the key meanwhile.
 */
const JOIN_RECORD = `
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('ZREM', KEYS[2], ARGV[1]) return 0 end
local same = redis.call('HGET', KEYS[1], '_u') == ARGV[2]
if ARGV[3] == 'resolve' then
  redis.call('HSET', KEYS[1], '_r', '1', '_f', ARGV[2])
  if ARGV[4] ~= '0' then
    redis.call('HSET', KEYS[1], '_v', ARGV[4], '_s', ARGV[5], '_et', ARGV[6], '_ei', ARGV[7])
    redis.call('HSET', KEYS[3], ARGV[8], ARGV[9])
  end
  if same then redis.call('ZREM', KEYS[2], ARGV[1]) end
elseif ARGV[3] == 'wait' then
  if same then redis.call('ZADD', KEYS[2], 'XX', ARGV[10], ARGV[1]) end
elseif same then
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1`;

/** Forget a join key whose cleanup time the watermark passed (and that no batch pushed later meanwhile). */
const JOIN_PURGE = `
local t = redis.call('ZSCORE', KEYS[1], ARGV[1])
if t and tonumber(t) <= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[2], KEYS[3])
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
end
return 1`;

const NUDGE_GAP_MS = 25;

interface Commands {
  tidemarkLease(n: 1, key: string, id: string, ms: string): Promise<number>;
  tidemarkRaise(n: 1, key: string, value: string): Promise<number>;
}

interface PipelineCommands {
  tidemarkRecord(...args: unknown[]): unknown;
  tidemarkJoinRecord(...args: unknown[]): unknown;
  tidemarkJoinPurge(...args: unknown[]): unknown;
}

/**
 * Advances the operator watermark from every partition's committed state, fires the windows it passed
 * (results.<metric>, `Nats-Msg-Id` = metric|key|start|version, so a re-publish after a crash is dropped),
 * and purges window state past its lateness horizon. Runs in every instance; a lease in Redis lets one fire.
 */
@Injectable()
export class Firer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(Firer.name);
  private readonly id = randomUUID();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private nudged = false;
  private lastRoundAt = 0;
  private readonly fired;
  private readonly fireDelay;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(CONFIG) private readonly config: TidemarkConfig,
    @Inject(METRICS) private readonly loaded: LoadedMetrics,
    private readonly publisher: JetStreamPublisher,
    registry: MetricsRegistry,
  ) {
    redis.defineCommand('tidemarkLease', { lua: LEASE });
    redis.defineCommand('tidemarkRaise', { lua: RAISE });
    redis.defineCommand('tidemarkRecord', { lua: RECORD });
    redis.defineCommand('tidemarkJoinRecord', { lua: JOIN_RECORD });
    redis.defineCommand('tidemarkJoinPurge', { lua: JOIN_PURGE });
    this.fired = registry.counter('tidemark_windows_fired_total', 'Window results published, by metric and whether a re-firing', ['metric', 'refire']);
    this.fireDelay = registry.histogram('tidemark_fire_delay_seconds', 'From the firing round that saw the watermark pass a window end to its result being published (add up to FIRE_INTERVAL_MS of polling)', [], [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]);
    // Read at scrape time from every partition's committed state, like the firer does.
    registry.gauge('tidemark_watermark_seconds', 'The operator watermark (event time), Unix seconds; absent until one exists', [], async (g) => {
      g.reset();
      const wm = (await this.watermarkState().catch(() => undefined))?.watermark;
      if (wm !== undefined && wm !== null) g.set(wm / 1000);
    });
    registry.gauge('tidemark_event_time_lag_seconds', 'How far the operator watermark is behind the wall clock, seconds', [], async (g) => {
      g.reset();
      const wm = (await this.watermarkState().catch(() => undefined))?.watermark;
      if (wm !== undefined && wm !== null) g.set(Math.max(0, Date.now() - wm) / 1000);
    });
    registry.gauge('tidemark_partition_watermark_seconds', "A partition's watermark (its highest event time minus MAX_OUT_OF_ORDERNESS_MS), Unix seconds", ['partition'], async (g) => {
      g.reset();
      const state = await this.watermarkState().catch(() => undefined);
      for (const [p, s] of Object.entries(state?.partitions ?? {})) if (s.maxTs !== null) g.set({ partition: p }, (s.maxTs - this.config.maxOutOfOrdernessMs) / 1000);
    });
  }

  onApplicationBootstrap(): void {
    this.timer = setTimeout(this.loop, 0);
  }

  private readonly loop = async (): Promise<void> => {
    if (this.stopped) return;
    this.nudged = false;
    this.lastRoundAt = Date.now();
    this.running = this.tick(this.lastRoundAt).catch((e) => this.logger.warn(`firing round failed: ${(e as Error).message}`));
    await this.running;
    this.running = undefined;
    if (!this.stopped) this.timer = setTimeout(this.loop, this.nudged ? this.nudgeDelay() : this.config.fireIntervalMs);
  };

  /** Nudged rounds start at least NUDGE_GAP_MS apart: under a backlog every batch moves the watermark. */
  private nudgeDelay(): number {
    return Math.max(0, this.lastRoundAt + Math.min(NUDGE_GAP_MS, this.config.fireIntervalMs) - Date.now());
  }

  /**
   * A batch moved its partition's watermark: run a round now rather than at the next poll (FIRE_INTERVAL_MS),
   * so a window fires as soon as the watermark passes its end. During a round, one more round follows it.
   */
  nudge(): void {
    if (this.stopped) return;
    this.nudged = true;
    if (this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(this.loop, this.nudgeDelay());
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private get cmd(): Commands {
    return this.redis as unknown as Commands;
  }

  /** Reads every partition's committed state into the watermark tracker's shape. */
  async watermarkState(): Promise<WatermarkState> {
    const pipeline = this.redis.pipeline();
    for (let p = 0; p < this.config.partitions; p++) pipeline.hmget(KEYS.partition(p), 'maxTs', 'lastEventAt');
    pipeline.get(KEYS.watermark);
    const replies = (await pipeline.exec()) ?? [];
    const partitions: WatermarkState['partitions'] = {};
    for (let p = 0; p < this.config.partitions; p++) {
      const [err, v] = replies[p];
      if (err) throw err;
      const [maxTs, lastEventAt] = v as [string | null, string | null];
      if (maxTs !== null) partitions[String(p)] = { maxTs: Number(maxTs), lastActiveAt: Number(lastEventAt ?? 0) };
    }
    const wm = replies[this.config.partitions][1] as string | null;
    return { partitions, watermark: wm === null ? null : Number(wm) };
  }

  /** One round: lease, watermark, firings, purges. Exposed for tests. */
  async tick(now: number): Promise<void> {
    const leader = await this.cmd.tidemarkLease(1, KEYS.firerLease, this.id, String(Math.max(2000, this.config.fireIntervalMs * 10)));
    if (leader !== 1) return;
    const state = await this.watermarkState();
    const tracker = new WatermarkTracker(
      { maxOutOfOrdernessMs: this.config.maxOutOfOrdernessMs, idleTimeoutMs: this.config.idleTimeoutMs, idleAdvance: this.config.watermarkIdleAdvance },
      state,
    );
    const wm = tracker.advance(now);
    if (wm === null) return;
    if (state.watermark === null || wm > state.watermark) await this.cmd.tidemarkRaise(1, KEYS.watermark, String(wm));
    await this.fireDue(wm, now);
    await this.fireJoins(wm, now);
    await this.purge(wm);
    await this.purgeJoins(wm);
  }

  /** Fires every due window the watermark passed: one read, one publish batch and one record pipeline a round. */
  private async fireDue(wm: number, roundStartedAt: number): Promise<void> {
    for (;;) {
      const members = await this.redis.zrangebyscore(KEYS.due, '-inf', wm, 'LIMIT', 0, 1000);
      if (members.length === 0) return;
      const candidates = members.flatMap((member) => {
        const w = parseDueMember(member);
        const metric = this.loaded.set.get(w.metric);
        return [{ member, w, metric: metric && metric.kind === 'window' ? metric : undefined }];
      });
      const readable = candidates.filter((c) => c.metric);
      const states = await readWindows(
        this.redis,
        readable.map((c) => ({ w: c.w, kind: c.metric!.aggregation.kind, aggregation: c.metric!.aggregation })),
      );
      const stale = candidates.filter((c) => !c.metric).map((c) => c.member);
      const fire: { w: WindowRef; member: string; version: number; updates: number; payload: string }[] = [];
      readable.forEach((c, i) => {
        const state = states[i];
        if (!state || state.meta.updates <= state.meta.firedAt) return void stale.push(c.member);
        const version = state.meta.version + 1;
        const result: WindowResultDto = { metric: c.w.metric, key: c.w.key, windowStart: c.w.start, windowEnd: c.w.end, value: state.value, final: true, version };
        fire.push({ w: c.w, member: c.member, version, updates: state.meta.updates, payload: JSON.stringify(result) });
      });
      if (stale.length > 0) await this.redis.zrem(KEYS.due, ...stale);
      if (fire.length === 0) {
        if (stale.length === 0) return;
        continue;
      }
      await this.publisher.publishBatch(
        fire.map((f) => ({ subject: subjects.result(f.w.metric), data: Buffer.from(f.payload), msgId: `${f.w.metric}|${f.w.key}|${f.w.start}|${f.w.end}|v${f.version}` })),
      );
      const pipeline = this.redis.pipeline();
      for (const f of fire) {
        (pipeline as unknown as PipelineCommands).tidemarkRecord(
          4,
          KEYS.window(f.w),
          KEYS.due,
          KEYS.results(f.w.metric),
          KEYS.purge,
          String(f.version),
          String(f.updates),
          f.member,
          indexMember(f.w),
          f.payload,
          String(cleanupTime(f.w.end, this.config.allowedLatenessMs)),
        );
      }
      const replies = (await pipeline.exec()) ?? [];
      for (const [err] of replies) if (err) throw err;
      const delay = (Date.now() - roundStartedAt) / 1000;
      for (const f of fire) {
        this.fired.inc({ metric: f.w.metric, refire: f.version > 1 ? 'yes' : 'no' });
        if (f.version === 1) this.fireDelay.observe(delay);
      }
      // Windows updated while being fired stay due; they fire again next round, not in a busy loop.
      if (members.length < 1000) return;
    }
  }

  /**
   * Resolves the interval-join keys that are due (join-store.ts): unmatched lefts past their deadline are
   * published (results.<metric>, Nats-Msg-Id = metric|key|start|end|v<version>), a late match re-publishes
   * with the next version. One read pipeline for the states, one for the matches, one publish batch and one
   * record pipeline a round.
   */
  private async fireJoins(wm: number, roundStartedAt: number): Promise<void> {
    for (;;) {
      const members = await this.redis.zrangebyscore(JOIN_KEYS.due, '-inf', wm, 'LIMIT', 0, 1000);
      if (members.length === 0) return;
      const reads = this.redis.pipeline();
      const refs = members.map((member) => ({ member, ...parseJoinMember(member) }));
      for (const r of refs) reads.hgetall(JOIN_KEYS.state(r.metric, r.key));
      const states = ((await reads.exec()) ?? []).map(([err, h]) => {
        if (err) throw err;
        return decodeJoin(h as Record<string, string>);
      });
      const matchReads = this.redis.pipeline();
      const withLeft: number[] = [];
      const metrics = refs.map((r) => this.loaded.set.get(r.metric));
      refs.forEach((r, i) => {
        const metric = metrics[i];
        const left = states[i]?.left;
        if (!left || metric?.kind !== 'join') return;
        withLeft.push(i);
        matchReads.zrangebyscore(JOIN_KEYS.rights(r.metric, r.key), left.ts + metric.join.lowerMs, `(${left.ts + metric.join.upperMs}`, 'LIMIT', 0, 1);
      });
      const matches = new Map<number, number | null>();
      if (withLeft.length > 0) {
        const replies = (await matchReads.exec()) ?? [];
        replies.forEach(([err, found], j) => {
          if (err) throw err;
          const first = (found as string[])[0];
          matches.set(withLeft[j], first === undefined ? null : Number(first));
        });
      }
      const record = this.redis.pipeline() as unknown as PipelineCommands & { exec(): Promise<[Error | null, unknown][] | null> };
      const publish: { subject: string; data: Buffer; msgId: string }[] = [];
      const emitted: { metric: string; version: number }[] = [];
      refs.forEach((r, i) => {
        const metric = metrics[i];
        const stored = states[i];
        const keys = [JOIN_KEYS.state(r.metric, r.key), JOIN_KEYS.due, KEYS.results(r.metric)];
        if (metric?.kind !== 'join' || !stored) {
          // Gone, or of a join no longer defined: forget the due entry.
          record.tidemarkJoinRecord(3, ...keys, r.member, String(stored?.updates ?? ''), 'drop', '0', '', '', '', '', '', '');
          return;
        }
        const d = decideJoin(stored, matches.get(i) ?? null, wm, metric.join);
        const u = String(stored.updates);
        if (d.kind !== 'resolve') {
          record.tidemarkJoinRecord(3, ...keys, r.member, u, d.kind, '0', '', '', '', '', '', d.kind === 'wait' ? String(d.due) : '');
          return;
        }
        if (!d.emit) {
          record.tidemarkJoinRecord(3, ...keys, r.member, u, 'resolve', '0', '', '', '', '', '', '');
          return;
        }
        const e = d.emit;
        const result: WindowResultDto = { metric: r.metric, key: r.key, windowStart: e.windowStart, windowEnd: e.windowEnd, value: e.value, final: true, version: e.version };
        const payload = JSON.stringify(result);
        publish.push({ subject: subjects.result(r.metric), data: Buffer.from(payload), msgId: `${r.metric}|${r.key}|${e.windowStart}|${e.windowEnd}|v${e.version}` });
        emitted.push({ metric: r.metric, version: e.version });
        const ref = { metric: r.metric, key: r.key, start: e.windowStart, end: e.windowEnd };
        record.tidemarkJoinRecord(3, ...keys, r.member, u, 'resolve', String(e.version), e.value.status, String(e.value.leftTs), e.value.leftId, indexMember(ref), payload, '');
      });
      if (publish.length > 0) await this.publisher.publishBatch(publish);
      const replies = (await record.exec()) ?? [];
      for (const [err] of replies) if (err) throw err;
      const delay = (Date.now() - roundStartedAt) / 1000;
      for (const e of emitted) {
        this.fired.inc({ metric: e.metric, refire: e.version > 1 ? 'yes' : 'no' });
        if (e.version === 1) this.fireDelay.observe(delay);
      }
      if (members.length < 1000) return;
    }
  }

  private async purgeJoins(wm: number): Promise<void> {
    const members = await this.redis.zrangebyscore(JOIN_KEYS.purge, '-inf', wm, 'LIMIT', 0, 1000);
    if (members.length === 0) return;
    const pipeline = this.redis.pipeline() as unknown as PipelineCommands & { exec(): Promise<unknown> };
    for (const m of members) {
      const { metric, key } = parseJoinMember(m);
      pipeline.tidemarkJoinPurge(4, JOIN_KEYS.purge, JOIN_KEYS.state(metric, key), JOIN_KEYS.rights(metric, key), JOIN_KEYS.due, m, String(wm));
    }
    await pipeline.exec();
  }

  private async purge(wm: number): Promise<void> {
    const members = await this.redis.zrangebyscore(KEYS.purge, '-inf', wm, 'LIMIT', 0, 1000);
    if (members.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const m of members) {
      const w = parseDueMember(m);
      const key = KEYS.window(w);
      pipeline.del(key, `${key}:hll`, `${key}:z`, `${key}:f`);
      pipeline.zrem(KEYS.purge, m);
      const metric = this.loaded.set.get(w.metric);
      if (metric?.kind === 'window' && metric.window.type === 'session') pipeline.zrem(KEYS.sessions(w.metric, w.key), sessionMember(w));
    }
    // Older than the retention horizon: forget the window altogether (index and stored result).
    const horizon = wm - this.config.resultRetentionMs;
    for (const name of this.loaded.set.names) {
      const old = await this.redis.zrangebyscore(KEYS.index(name), '-inf', `(${horizon}`, 'LIMIT', 0, 1000);
      if (old.length > 0) pipeline.hdel(KEYS.results(name), ...old).zrem(KEYS.index(name), ...old);
    }
    await pipeline.exec();
  }
}
