/**
 * Server-sent-event clients with limits (docs/settings.md "Limits"): at most `maxClients` at once per endpoint, and a
 * client whose unsent data passes `maxBufferBytes` (it does not read, or reads too slowly) is dropped rather
 * than buffered without bound. Framework-free: a sink is anything with `write`, `writableLength` and `destroy`
 * (a Node `ServerResponse`).
 */
export interface SseSink {
  write(chunk: string): boolean;
  readonly writableLength: number;
  destroy(): void;
}

export interface SseCaps {
  maxClients: number;
  maxBufferBytes: number;
}

export interface SseClient {
  /** Writes one chunk; returns false (and drops the client) once its unsent data is over the cap. */
  send(chunk: string): boolean;
  /** Call when the connection closes (idempotent). */
  close(): void;
  readonly dropped: boolean;
}

export class SseClients {
  private open = 0;
  private droppedTotal = 0;

  constructor(private readonly caps: SseCaps) {}

  get clients(): number {
    return this.open;
  }

  /** Slow clients dropped since start. */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** A client for `sink`, or null when `maxClients` are already open (answer 429). */
  admit(sink: SseSink): SseClient | null {
    if (this.open >= this.caps.maxClients) return null;
    this.open++;
    let closed = false;
    let dropped = false;
    const close = () => {
      if (closed) return;
      closed = true;
      this.open--;
    };
    return {
      send: (chunk: string) => {
        if (closed) return false;
        sink.write(chunk);
        if (sink.writableLength > this.caps.maxBufferBytes) {
          dropped = true;
          this.droppedTotal++;
          close();
          sink.destroy();
          return false;
        }
        return true;
      },
      close,
      get dropped() {
        return dropped;
      },
    };
  }
}
