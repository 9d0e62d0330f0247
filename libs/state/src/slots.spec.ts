import { groupBySlot, hashTagOf, keySlot, sameSlot } from './slots';

describe('Redis Cluster key slots', () => {
  it('hashes like the specification (CLUSTER KEYSLOT examples, CRC16/XMODEM check value)', () => {
    expect(keySlot('somekey')).toBe(11058);
    expect(keySlot('foo{hash_tag}')).toBe(2515);
    expect(keySlot('123456789')).toBe(0x31c3 % 16384);
  });

  it('hashes only the first non-empty hash tag', () => {
    expect(hashTagOf('{user1000}.following')).toBe('user1000');
    expect(hashTagOf('foo{}{bar}')).toBe('foo{}{bar}');
    expect(hashTagOf('foo{{bar}}zap')).toBe('{bar');
    expect(hashTagOf('foo{bar}{zap}')).toBe('bar');
    expect(hashTagOf('no tag')).toBe('no tag');
    expect(hashTagOf('open{only')).toBe('open{only');
    expect(keySlot('tm:agg:{p3}:cp')).toBe(keySlot('tm:agg:{p3}:c:top:12'));
    expect(sameSlot(['alerting:{a}:rules', 'alerting:{a}:meta', 'alerting:{a}:outbox'])).toBe(true);
    expect(sameSlot(['tm:agg:{p0}:cp', 'tm:agg:{p1}:cp'])).toBe(false);
  });

  it('groups indices by slot, in order', () => {
    const keys = ['x{p0}', 'x{p1}', 'y{p0}', 'z{p1}', 'w{p2}'];
    expect(groupBySlot(keys)).toEqual([[0, 2], [1, 3], [4]]);
    expect(groupBySlot([])).toEqual([]);
  });
});
