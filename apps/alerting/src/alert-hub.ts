import { Injectable } from '@nestjs/common';
import type { Alert } from '@tidemark/alerting';

/** An alert as shown live (SSE), with whether a silence muted its notification. */
export type LiveAlert = Alert & { silenced?: boolean };

/** In-process fan-out of state changes to the SSE clients. */
@Injectable()
export class AlertHub {
  private readonly listeners = new Set<(a: LiveAlert) => void>();

  subscribe(listener: (a: LiveAlert) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(alert: LiveAlert): void {
    for (const l of this.listeners) {
      try {
        l(alert);
      } catch {
        // one client's trouble is its own
      }
    }
  }

  get clients(): number {
    return this.listeners.size;
  }
}
