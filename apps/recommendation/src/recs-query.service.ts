/**
 * The query side: validates parameters (a bad one is a RecsQueryError with the reason, 400 at the edges) and
 * asks libs/recommend's Recommender over the Redis store. Unknown users and products are not errors: they get
 * trending, and the answer says so (`strategy`, `known`).
 */
import { Inject, Injectable } from '@nestjs/common';
import { CONFIG, TidemarkConfig } from '@tidemark/config';
import { MetricsRegistry } from '@tidemark/observability';
import { RecStore, Recommender, SessionRecommendations, SimilarProducts, TrendingProducts, UserRecommendations } from '@tidemark/recommend';
import { REC_STORE } from './recommendation.constants';

export enum RecsQueryErrorCode {
  BadParameter = 'bad_parameter',
}

export class RecsQueryError extends Error {
  constructor(
    readonly code: RecsQueryErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const MAX_K = 100;
export const DEFAULT_K = 10;
const MAX_ID = 256;

/** A value for an error message: a short string or number as it is, anything else by its kind (a deeply nested array put into JSON would overflow the stack: a 500). */
function shown(raw: unknown): string {
  if (typeof raw === 'string') return JSON.stringify(raw.length > 64 ? `${raw.slice(0, 64)}…` : raw);
  if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
  return Array.isArray(raw) ? 'an array' : raw === null ? 'null' : `an ${typeof raw}`;
}

/** `k` from a query string or a NATS request: a whole number 1..100, default 10. */
export function parseK(raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return DEFAULT_K;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_K) throw new RecsQueryError(RecsQueryErrorCode.BadParameter, `k must be a whole number from 1 to ${MAX_K}, not ${shown(raw)}`);
  return n;
}

/** A required id (userId, productId): a non-empty string of at most 256 characters. */
export function parseId(name: string, raw: unknown): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw new RecsQueryError(RecsQueryErrorCode.BadParameter, `${name} is required (a non-empty string)`);
  if (raw.length > MAX_ID) throw new RecsQueryError(RecsQueryErrorCode.BadParameter, `${name} must be at most ${MAX_ID} characters`);
  return raw;
}

/** An optional id (categoryId): absent or empty means none. */
export function parseOptionalId(name: string, raw: unknown): string | null {
  if (raw === undefined || raw === null || raw === '') return null;
  if (typeof raw !== 'string') throw new RecsQueryError(RecsQueryErrorCode.BadParameter, `${name} must be a string`);
  return parseId(name, raw);
}

/** `excludeSeen`: absent → true; `true`/`false` (also 1/0). */
export function parseExcludeSeen(raw: unknown): boolean {
  if (raw === undefined || raw === null || raw === '') return true;
  if (raw === true || raw === 'true' || raw === '1' || raw === 1) return true;
  if (raw === false || raw === 'false' || raw === '0' || raw === 0) return false;
  throw new RecsQueryError(RecsQueryErrorCode.BadParameter, `excludeSeen must be true or false, not ${shown(raw)}`);
}

@Injectable()
export class RecsQueryService {
  private readonly recommender: Recommender;
  private readonly latency;

  constructor(@Inject(REC_STORE) store: RecStore, @Inject(CONFIG) config: TidemarkConfig, registry: MetricsRegistry) {
    this.recommender = new Recommender(store, config.recs.params);
    this.latency = registry.histogram('tidemark_recs_query_seconds', 'Time to answer a recommendation query, by kind', ['kind']);
  }

  forUser(userId: unknown, k: unknown): Promise<UserRecommendations> {
    const [id, n] = [parseId('userId', userId), parseK(k)];
    return this.timed('user', () => this.recommender.forUser(id, n));
  }

  /** The next products for a visit (Recommender.forSession); seen products left out unless excludeSeen=false. */
  forSession(sessionId: unknown, k: unknown, excludeSeen?: unknown): Promise<SessionRecommendations> {
    const [id, n, ex] = [parseId('sessionId', sessionId), parseK(k), parseExcludeSeen(excludeSeen)];
    return this.timed('session', () => this.recommender.forSession(id, n, { excludeSeen: ex }));
  }

  similar(productId: unknown, k: unknown): Promise<SimilarProducts> {
    const [id, n] = [parseId('productId', productId), parseK(k)];
    return this.timed('similar', () => this.recommender.similar(id, n));
  }

  trending(categoryId: unknown, k: unknown): Promise<TrendingProducts> {
    const [id, n] = [parseOptionalId('categoryId', categoryId), parseK(k)];
    return this.timed('trending', () => this.recommender.trending(id, n));
  }

  private async timed<T>(kind: string, run: () => Promise<T>): Promise<T> {
    const end = this.latency.startTimer({ kind });
    try {
      return await run();
    } finally {
      end();
    }
  }
}
