import { decodeFrame, planIngest } from '@tidemark/contracts';
import { FramePublisher, RawFramePublisher } from './raw-frames';

class FakeJetStream implements FramePublisher {
  readonly frames: { subject: string; ids: string[]; msgId: string; headers?: Record<string, string> }[] = [];
  private readonly seen = new Set<string>();
  fail = false;
  async publish(subject: string, data: Uint8Array, options: { msgId: string; headers?: Record<string, string> }) {
    if (this.fail) throw new Error('no responders');
    const duplicate = this.seen.has(options.msgId);
    this.seen.add(options.msgId);
    if (!duplicate) this.frames.push({ subject, ids: decodeFrame(data).ids.map((b) => b.toString()), msgId: options.msgId, ...(options.headers ? { headers: options.headers } : {}) });
    return { duplicate };
  }
}

const T = Date.UTC(2026, 10, 30, 12);
const ev = (id: string, sessionId = 's1') => ({ value: { id, type: 'page_view', ts: T, userId: 'u', sessionId } });
const plan = (...records: { value: unknown }[]) => planIngest(records, 4, { now: T, maxFutureMs: 60_000 }).events;
const limits = { maxEvents: 3, maxBytes: 64 * 1024 };

describe('RawFramePublisher', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('gives a request its own frames per partition, cut at the limits, and an exact retry is a duplicate', async () => {
    const js = new FakeJetStream();
    const frames = new RawFramePublisher(js, limits, 2);
    const events = plan(ev('a', 's1'), ev('b', 's1'), ev('c', 's1'), ev('d', 's1'), ev('e', 'other-session'));
    expect(await Promise.all(frames.submit(events, false))).toEqual(['accepted', 'accepted', 'accepted', 'accepted', 'accepted']);
    expect(js.frames.map((f) => f.ids)).toEqual(expect.arrayContaining([['a', 'b', 'c'], ['d'], ['e']]));
    expect(js.frames).toHaveLength(3);
    expect(await Promise.all(frames.submit(events, false))).toEqual(['duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
    expect(frames.published).toBe(6);
  });

  it('lets single events of one partition share a frame for the linger time', async () => {
    const js = new FakeJetStream();
    const frames = new RawFramePublisher(js, limits, 2);
    const a = frames.submit(plan(ev('a')), true)[0];
    const b = frames.submit(plan(ev('b')), true)[0];
    expect(js.frames).toHaveLength(0);
    jest.advanceTimersByTime(2);
    expect(await Promise.all([a, b])).toEqual(['accepted', 'accepted']);
    expect(js.frames.map((f) => f.ids)).toEqual([['a', 'b']]);
  });

  it('sends a lingering frame at once when it is full', async () => {
    const js = new FakeJetStream();
    const frames = new RawFramePublisher(js, limits, 1000);
    const all = ['a', 'b', 'c', 'd'].map((id) => frames.submit(plan(ev(id)), true)[0]);
    await Promise.all(all.slice(0, 3));
    expect(js.frames.map((f) => f.ids)).toEqual([['a', 'b', 'c']]);
    frames.flushAll();
    await all[3];
    expect(js.frames.map((f) => f.ids)).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('stores an id that waits twice in one frame once; the second is its duplicate', async () => {
    const js = new FakeJetStream();
    const frames = new RawFramePublisher(js, limits, 2);
    const first = frames.submit(plan(ev('a')), true)[0];
    const again = frames.submit(plan(ev('a')), true)[0];
    jest.advanceTimersByTime(2);
    expect(await Promise.all([first, again])).toEqual(['accepted', 'duplicate']);
    expect(js.frames.map((f) => f.ids)).toEqual([['a']]);
  });

  it('fails exactly the events of the frame that was not stored', async () => {
    const js = new FakeJetStream();
    const frames = new RawFramePublisher(js, limits, 2);
    js.fail = true;
    const a = frames.submit(plan(ev('a', 's1')), true)[0];
    const again = frames.submit(plan(ev('a', 's1')), true)[0];
    jest.advanceTimersByTime(2);
    await expect(a).rejects.toThrow('no responders');
    await expect(again).rejects.toThrow('no responders');
    js.fail = false;
    const settled = await Promise.allSettled(frames.submit(plan(ev('b', 's1'), ev('c', 'other-session')), false));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled']);
  });

  it('publishes at once when the linger is 0', async () => {
    const js = new FakeJetStream();
    const frames = new RawFramePublisher(js, limits, 0);
    expect(await frames.submit(plan(ev('a')), true)[0]).toBe('accepted');
    expect(js.frames).toHaveLength(1);
  });

  it('puts the traceparent of the request that opened a frame on it: one header a frame, none without one', async () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const js = new FakeJetStream();
    const frames = new RawFramePublisher(js, limits, 2);
    await Promise.all(frames.submit(plan(ev('a'), ev('b')), false, tp));
    await Promise.all(frames.submit(plan(ev('c'), ev('d')), false));
    expect(js.frames.map((f) => f.headers)).toEqual([{ traceparent: tp }, undefined]);
    // lingering: the first request that brought one wins; the frame's id (a digest of its bytes) is unchanged by it
    const other = '00-11111111111111111111111111111111-2222222222222222-00';
    const lingering = [frames.submit(plan(ev('e')), true)[0], frames.submit(plan(ev('f')), true, tp)[0], frames.submit(plan(ev('g')), true, other)[0]];
    jest.advanceTimersByTime(2);
    await Promise.all(lingering);
    expect(js.frames.at(-1)).toMatchObject({ ids: ['e', 'f', 'g'], headers: { traceparent: tp } });
  });
});
