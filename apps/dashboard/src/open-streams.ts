import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';

/**
 * The open SSE streams. On shutdown they are ended before the HTTP server closes: the server waits for its
 * open connections, so one open page would otherwise hold a SIGTERM'd dashboard up (until `tidemark up`'s
 * supervisor SIGKILLs it 10 s later).
 */
@Injectable()
export class OpenStreams implements BeforeApplicationShutdown {
  private readonly open = new Set<() => void>();
  private closing = false;

  /** Registers a stream's `end`; returns the function that forgets it (call it when the client goes away). */
  add(end: () => void): () => void {
    if (this.closing) {
      end();
      return () => undefined;
    }
    this.open.add(end);
    return () => this.open.delete(end);
  }

  get size(): number {
    return this.open.size;
  }

  beforeApplicationShutdown(): void {
    this.closing = true;
    const ends = [...this.open];
    this.open.clear();
    for (const end of ends) end();
  }
}
