import { HealthRegistry } from './health';

describe('HealthRegistry', () => {
  it('is ready with no checks', async () => {
    expect(await new HealthRegistry().readiness()).toEqual({ status: 'ok', checks: {} });
  });

  it('reports each check and is unavailable when one is down', async () => {
    const h = new HealthRegistry();
    h.register('nats', () => undefined);
    h.register('redis', async () => {
      throw new Error('ECONNREFUSED');
    });
    expect(await h.readiness()).toEqual({
      status: 'unavailable',
      checks: { nats: { status: 'ok' }, redis: { status: 'down', error: 'ECONNREFUSED' } },
    });
  });

  it('treats a hanging check as down', async () => {
    const h = new HealthRegistry();
    h.register('slow', () => new Promise(() => undefined));
    const r = await h.readiness(20);
    expect(r.checks.slow).toEqual({ status: 'down', error: 'no answer within 20 ms' });
  });
});
