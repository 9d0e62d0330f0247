import { DEFAULT_K, MAX_K, parseRecommendationQuery } from './recommendation-query';

describe('parseRecommendationQuery', () => {
  it('takes a user and an optional k', () => {
    expect(parseRecommendationQuery(' u-1 ', undefined)).toEqual({ ok: true, userId: 'u-1', k: DEFAULT_K });
    expect(parseRecommendationQuery('u-1', '')).toEqual({ ok: true, userId: 'u-1', k: DEFAULT_K });
    expect(parseRecommendationQuery('u-1', '3')).toEqual({ ok: true, userId: 'u-1', k: 3 });
    expect(parseRecommendationQuery('u-1', String(MAX_K))).toEqual({ ok: true, userId: 'u-1', k: MAX_K });
  });

  it.each([
    ['', undefined, [{ field: 'userId', reason: 'is required' }]],
    ['x'.repeat(129), undefined, [{ field: 'userId', reason: 'must be at most 128 characters' }]],
    ['u', '0', [{ field: 'k', reason: `must be a whole number from 1 to ${MAX_K}` }]],
    ['u', String(MAX_K + 1), [{ field: 'k', reason: `must be a whole number from 1 to ${MAX_K}` }]],
    ['u', '2.5', [{ field: 'k', reason: `must be a whole number from 1 to ${MAX_K}` }]],
    [' ', 'ten', [{ field: 'userId', reason: 'is required' }, { field: 'k', reason: `must be a whole number from 1 to ${MAX_K}` }]],
  ])('rejects %j k=%j with every field and its reason', (userId, k, errors) => {
    expect(parseRecommendationQuery(userId, k)).toEqual({ ok: false, errors });
  });
});
