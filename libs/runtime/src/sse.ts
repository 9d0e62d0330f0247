/**
 * Server-sent-event clients with limits (docs/settings.md "Limits"): at most `maxClients` at once per endpoint, and a
 * client whose unsent data passes `maxBufferBytes` (it does not read, or reads too slowly) is dropped rather
 * than buffered without bound. On shutdown `endAll` ends every open stream, so a stopping service is not held up
 * by its clients' connections (the HTTP server waits for them) until SIGKILL (docs/operations.md). Framework-free:
 * a sink is anything with `write`, `writableLength`, `end` and `destroy` (a Node `ServerResponse`).
 */
export interface SseSink {
  write(chunk: string): boolean;
  readonly writableLength: number;
  end(): void;
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
  private ending = false;
  private readonly sinks = new Set<SseSink>();

  constructor(private readonly caps: SseCaps) {}

  get clients(): number {
    return this.open;
  }

  /** Slow clients dropped since start. */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** True once `endAll` ran: the service is stopping (answer 503 to a new stream). */
  get stopping(): boolean {
    return this.ending;
  }

  /** A client for `sink`, or null when `maxClients` are already open (answer 429) or the service is stopping. */
  admit(sink: SseSink): SseClient | null {
    if (this.ending || this.open >= this.caps.maxClients) return null;
    this.open++;
    this.sinks.add(sink);
    let closed = false;
    let dropped = false;
    const close = () => {
      if (closed) return;
      closed = true;
      this.open--;
      this.sinks.delete(sink);
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

  /** Ends every open stream (shutdown) and admits no new one. Each ends normally: the client sees the stream close. */
  endAll(): void {
    this.ending = true;
    const sinks = [...this.sinks];
    this.sinks.clear();
    for (const sink of sinks) {
      try {
        sink.end();
      } catch {
        sink.destroy();
      }
    }
  }
}
