import { JsonLogger } from './json-logger';

describe('JsonLogger.format', () => {
  const logger = new JsonLogger('ingestion', 'info', () => Date.UTC(2026, 0, 1));

  it('writes time, level, service, message and Nest context', () => {
    expect(logger.format('info', 'listening', ['Bootstrap'])).toEqual({
      time: '2026-01-01T00:00:00.000Z',
      level: 'info',
      service: 'ingestion',
      msg: 'listening',
      context: 'Bootstrap',
    });
  });

  it('merges object messages and keeps error stacks', () => {
    const err = new Error('boom');
    const rec = logger.format('error', { msg: 'publish failed', partition: 3 }, [err]);
    expect(rec).toMatchObject({ msg: 'publish failed', partition: 3, err: { message: 'boom' } });
    expect(logger.format('error', err, [])).toMatchObject({ msg: 'boom', stack: expect.stringContaining('boom') });
  });
});

describe('JsonLogger levels', () => {
  it("logs Nest's start-up chatter at debug: hidden at info, shown at debug", () => {
    const out: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    try {
      new JsonLogger('x', 'info').log('Mapped {/v1/events, POST} route', 'RouterExplorer');
      new JsonLogger('x', 'info').log('listening on 8080', 'Bootstrap');
      new JsonLogger('x', 'debug').log('AppModule dependencies initialized', 'InstanceLoader');
    } finally {
      spy.mockRestore();
    }
    expect(out.map((l) => JSON.parse(l)).map((r) => [r.level, r.context])).toEqual([
      ['info', 'Bootstrap'],
      ['debug', 'InstanceLoader'],
    ]);
  });
});
