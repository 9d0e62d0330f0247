import { ALL_STREAMS, streams, streamsWithMaxBytes } from '@tidemark/contracts';
import { consumerConfigFor, decideMaxBytes, isTransient, streamConfigFor } from './streams';

const GIB = 1024 ** 3;

describe('decideMaxBytes: bounded streams without downgrading an operator', () => {
  it.each<[string, number, number, number | undefined, number | undefined, number | undefined]>([
    // description, current, stored, wanted, ours, → result
    ['a stream from before sizes gets ours', -1, 1000, 8 * GIB, 8 * GIB, 8 * GIB],
    ['already ours: nothing to do', 8 * GIB, 1000, 8 * GIB, 8 * GIB, undefined],
    ['ours, configured to another size: follows the setting', 8 * GIB, 1000, 2 * GIB, 8 * GIB, 2 * GIB],
    ['an operator set it bigger: left alone', 20 * GIB, 1000, 8 * GIB, 8 * GIB, undefined],
    ['an operator set it smaller, the setting asks more: raised', GIB, 1000, 8 * GIB, 8 * GIB, 8 * GIB],
    ['never below what the stream holds (discard old would delete it)', -1, 9 * GIB, 8 * GIB, 8 * GIB, undefined],
    ['unlimited wanted: only our own limit is removed', 8 * GIB, 0, undefined, 8 * GIB, -1],
    ['unlimited wanted: an operator limit stays', 3 * GIB, 0, undefined, 8 * GIB, undefined],
  ])('%s', (_, current, stored, wanted, ours, expected) => {
    expect(decideMaxBytes(current, stored, wanted, ours)).toBe(expected);
  });
});

describe('stream sizes in the contract', () => {
  it('every stream has a size; the configuration overrides by name', () => {
    for (const s of ALL_STREAMS) expect(s.maxBytes).toBeGreaterThan(0);
    const sized = streamsWithMaxBytes({ DLQ: 5 * 1024 * 1024 });
    expect(sized.find((s) => s.name === 'DLQ')!.maxBytes).toBe(5 * 1024 * 1024);
    expect(sized.find((s) => s.name === 'EVENTS_RAW')!.maxBytes).toBe(streams.raw.maxBytes);
    expect(streamConfigFor(sized.find((s) => s.name === 'DLQ')!).max_bytes).toBe(5 * 1024 * 1024);
  });
});

describe('replicas (JETSTREAM_REPLICAS)', () => {
  it('every stream Tidemark creates has the configured replicas (default 1)', () => {
    for (const s of ALL_STREAMS) {
      expect(streamConfigFor(s).num_replicas).toBe(1);
      expect(streamConfigFor(s, { replicas: 3 }).num_replicas).toBe(3);
    }
  });
  it("a durable consumer's replicas follow what it is given (the stream's); unset = the server's (the stream's)", () => {
    expect(consumerConfigFor({ stream: 'EVENTS_RAW', durable: 'd', replicas: 3 }).num_replicas).toBe(3);
    expect(consumerConfigFor({ stream: 'EVENTS_RAW', durable: 'd' })).not.toHaveProperty('num_replicas');
  });
});

describe('isTransient: what provisioning retries at boot', () => {
  it.each([
    [{ name: 'TimeoutError', message: 'timeout' }, true],
    [{ message: "no responders: '$JS.API.STREAM.INFO.EVENTS_RAW'" }, true],
    [{ message: 'JetStream system temporarily unavailable' }, true],
    [{ message: 'stream not found' }, false],
    [{ message: 'insufficient resources' }, false],
    [{ message: 'no suitable peers for placement' }, false],
    [{ message: 'stream name already in use with a different configuration' }, false],
    [undefined, false],
  ])('%j → %s', (error, expected) => expect(isTransient(error)).toBe(expected));
});
