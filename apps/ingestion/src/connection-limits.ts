/**
 * Connection caps of the TCP listener, in total and per peer address (docs/settings.md "Limits"). Pure: the listener
 * asks `admit` for each new connection and calls `release` once it closes.
 */
export interface ConnectionCaps {
  maxConnections: number;
  maxConnectionsPerPeer: number;
}

export type Admission = { ok: true } | { ok: false; reason: string };

export class ConnectionLimiter {
  private total = 0;
  private readonly perPeer = new Map<string, number>();

  constructor(private readonly caps: ConnectionCaps) {}

  get connections(): number {
    return this.total;
  }

  /** Counts the connection in when both caps allow it; a refused one is not counted (no `release`). */
  admit(peer: string): Admission {
    if (this.total >= this.caps.maxConnections) return { ok: false, reason: `too many connections (limit ${this.caps.maxConnections}); try again later` };
    const mine = this.perPeer.get(peer) ?? 0;
    if (mine >= this.caps.maxConnectionsPerPeer) {
      return { ok: false, reason: `too many connections from ${peer} (limit ${this.caps.maxConnectionsPerPeer}); try again later` };
    }
    this.total++;
    this.perPeer.set(peer, mine + 1);
    return { ok: true };
  }

  release(peer: string): void {
    const mine = this.perPeer.get(peer);
    if (mine === undefined) return;
    this.total--;
    if (mine <= 1) this.perPeer.delete(peer);
    else this.perPeer.set(peer, mine - 1);
  }

  /** Peers holding a connection (the map never keeps a peer with none). */
  get peers(): number {
    return this.perPeer.size;
  }
}
