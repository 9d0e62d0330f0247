import { ConnectionLimiter } from './connection-limits';

describe('ConnectionLimiter', () => {
  it('admits up to the per-peer cap, then refuses that peer only', () => {
    const l = new ConnectionLimiter({ maxConnections: 10, maxConnectionsPerPeer: 2 });
    expect(l.admit('a')).toEqual({ ok: true });
    expect(l.admit('a')).toEqual({ ok: true });
    expect(l.admit('a')).toEqual({ ok: false, reason: 'too many connections from a (limit 2); try again later' });
    expect(l.admit('b')).toEqual({ ok: true });
    expect(l.connections).toBe(3);
  });

  it('refuses everyone at the total cap, and admits again after a release', () => {
    const l = new ConnectionLimiter({ maxConnections: 2, maxConnectionsPerPeer: 5 });
    expect(l.admit('a').ok).toBe(true);
    expect(l.admit('b').ok).toBe(true);
    expect(l.admit('c')).toEqual({ ok: false, reason: 'too many connections (limit 2); try again later' });
    l.release('a');
    expect(l.admit('c').ok).toBe(true);
  });

  it('forgets a peer with no connection left and ignores a release of an unknown peer', () => {
    const l = new ConnectionLimiter({ maxConnections: 5, maxConnectionsPerPeer: 5 });
    l.admit('a');
    l.admit('a');
    l.release('a');
    l.release('a');
    l.release('a');
    l.release('zz');
    expect(l.peers).toBe(0);
    expect(l.connections).toBe(0);
  });
});
