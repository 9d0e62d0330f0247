import { SseClients, SseSink } from './sse';

/** A sink that never drains (a client that does not read). */
function stuck(): SseSink & { destroyed: boolean; ended: boolean; data: string[] } {
  const data: string[] = [];
  return {
    data,
    destroyed: false,
    ended: false,
    end() {
      this.ended = true;
    },
    write(chunk: string) {
      data.push(chunk);
      return false;
    },
    get writableLength() {
      return data.reduce((n, c) => n + c.length, 0);
    },
    destroy() {
      this.destroyed = true;
    },
  };
}

describe('SseClients', () => {
  it('admits up to maxClients, then none until one closes', () => {
    const clients = new SseClients({ maxClients: 2, maxBufferBytes: 100 });
    const a = clients.admit(stuck());
    expect(clients.admit(stuck())).not.toBeNull();
    expect(clients.admit(stuck())).toBeNull();
    a!.close();
    a!.close();
    expect(clients.clients).toBe(1);
    expect(clients.admit(stuck())).not.toBeNull();
  });

  it('drops a client whose unsent data passes the cap, and frees its place', () => {
    const clients = new SseClients({ maxClients: 1, maxBufferBytes: 100 });
    const sink = stuck();
    const c = clients.admit(sink)!;
    expect(c.send('x'.repeat(60))).toBe(true);
    expect(c.send('x'.repeat(60))).toBe(false);
    expect(sink.destroyed).toBe(true);
    expect(c.dropped).toBe(true);
    expect(c.send('more')).toBe(false);
    expect(sink.data).toHaveLength(2);
    expect(clients.clients).toBe(0);
    expect(clients.dropped).toBe(1);
    expect(clients.admit(stuck())).not.toBeNull();
  });

  it('keeps a client that reads (its buffer drains)', () => {
    const clients = new SseClients({ maxClients: 1, maxBufferBytes: 100 });
    const sink = { write: () => true, writableLength: 0, end: jest.fn(), destroy: jest.fn() };
    const c = clients.admit(sink)!;
    for (let i = 0; i < 1000; i++) expect(c.send('x'.repeat(60))).toBe(true);
    expect(sink.destroy).not.toHaveBeenCalled();
  });

  it('ends every open stream on shutdown, not those already gone, and admits no new one', () => {
    const clients = new SseClients({ maxClients: 5, maxBufferBytes: 100 });
    const [a, b, c] = [stuck(), stuck(), stuck()];
    clients.admit(a);
    clients.admit(b)!.close();
    clients.admit(c);
    expect(clients.stopping).toBe(false);
    clients.endAll();
    expect([a.ended, b.ended, c.ended]).toEqual([true, false, true]);
    expect(clients.stopping).toBe(true);
    expect(clients.admit(stuck())).toBeNull();
  });
});
