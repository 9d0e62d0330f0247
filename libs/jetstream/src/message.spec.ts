import { parseAckReply, partitionOfSubject, subjectMatches } from './message';

describe('parseAckReply', () => {
  it('reads the v1 ack subject', () => {
    expect(parseAckReply('$JS.ACK.EVENTS_RAW.dedup-p3.2.1041.17.1795555720793266065.5')).toEqual({
      stream: 'EVENTS_RAW',
      consumer: 'dedup-p3',
      deliveryCount: 2,
      streamSeq: 1041,
      deliverySeq: 17,
      timestampMs: 1795555720793,
      pending: 5,
    });
  });

  it('reads the v2 ack subject (domain and account hash)', () => {
    expect(parseAckReply('$JS.ACK.hub.ACCHASH.S.c.1.9.8.1795555720797126268.0.tok')).toMatchObject({ stream: 'S', consumer: 'c', streamSeq: 9, deliverySeq: 8, pending: 0 });
  });

  it('refuses anything else', () => {
    expect(parseAckReply(undefined)).toBeUndefined();
    expect(parseAckReply('_INBOX.abc')).toBeUndefined();
    expect(parseAckReply('$JS.ACK.S.c.x.1.1.1.0')).toBeUndefined();
  });
});

describe('partitionOfSubject', () => {
  it('is the trailing number, if any', () => {
    expect(partitionOfSubject('events.raw.3')).toBe(3);
    expect(partitionOfSubject('events.clean.12')).toBe(12);
    expect(partitionOfSubject('results.gmv')).toBeUndefined();
    expect(partitionOfSubject('events.raw.')).toBeUndefined();
    expect(partitionOfSubject('7')).toBe(7);
  });
});

describe('subjectMatches', () => {
  it('follows NATS wildcards', () => {
    expect(subjectMatches('events.raw.*', 'events.raw.3')).toBe(true);
    expect(subjectMatches('events.raw.*', 'events.raw.3.x')).toBe(false);
    expect(subjectMatches('events.>', 'events.raw.3')).toBe(true);
    expect(subjectMatches('events.>', 'events')).toBe(false);
    expect(subjectMatches('events.raw.3', 'events.raw.3')).toBe(true);
    expect(subjectMatches('events.clean.*', 'events.raw.3')).toBe(false);
  });
});
