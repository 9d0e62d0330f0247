/** Validation of the dashboard's recommendation look-up parameters (framework-free). */
export type RecommendationQuery = { ok: true; userId: string; k: number } | { ok: false; errors: { field: string; reason: string }[] };

export const DEFAULT_K = 10;
export const MAX_K = 50;

export function parseRecommendationQuery(userId: string | undefined, k: string | undefined): RecommendationQuery {
  const errors: { field: string; reason: string }[] = [];
  const id = (userId ?? '').trim();
  if (id === '') errors.push({ field: 'userId', reason: 'is required' });
  else if (id.length > 128) errors.push({ field: 'userId', reason: 'must be at most 128 characters' });
  let n = DEFAULT_K;
  if (k !== undefined && k !== '') {
    if (!/^\d+$/.test(k) || Number(k) < 1 || Number(k) > MAX_K) errors.push({ field: 'k', reason: `must be a whole number from 1 to ${MAX_K}` });
    else n = Number(k);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, userId: id, k: n };
}
