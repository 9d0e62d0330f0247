import { classifyStatus, retryDelay } from './delivery';

describe('delivery', () => {
  it('backs off exponentially, capped', () => {
    const p = { maxAttempts: 8, initialMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5, 6].map((a) => retryDelay(a, p))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
  it('classifies webhook answers', () => {
    expect([200, 204, 500, 503, 408, 429, 400, 404, 410].map(classifyStatus)).toEqual([
      'delivered',
      'delivered',
      'retry',
      'retry',
      'retry',
      'retry',
      'rejected',
      'rejected',
      'rejected',
    ]);
  });
  it('gives up on a redirect (never followed)', () => {
    expect([301, 302, 307, 308].map(classifyStatus)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
  });
});
