import { OpenStreams } from './open-streams';

describe('OpenStreams', () => {
  it('ends every stream still open at shutdown, once, and none that went away', () => {
    const streams = new OpenStreams();
    const ended: string[] = [];
    streams.add(() => ended.push('a'));
    const forgetB = streams.add(() => ended.push('b'));
    streams.add(() => ended.push('c'));
    forgetB();
    expect(streams.size).toBe(2);
    streams.beforeApplicationShutdown();
    expect(ended).toEqual(['a', 'c']);
    streams.beforeApplicationShutdown();
    expect(ended).toEqual(['a', 'c']);
    expect(streams.size).toBe(0);
  });

  it('ends a stream opened while shutting down at once', () => {
    const streams = new OpenStreams();
    streams.beforeApplicationShutdown();
    let ended = 0;
    const forget = streams.add(() => ended++);
    expect(ended).toBe(1);
    expect(streams.size).toBe(0);
    forget();
  });
});
