/** Readiness checks registered by the modules that own a connection (NATS, JetStream, Redis). */
export type HealthCheck = () => Promise<void> | void;

export interface ReadinessReport {
  status: 'ok' | 'unavailable';
  checks: Record<string, { status: 'ok' | 'down'; error?: string }>;
  /** What a service reports beside its checks (e.g. `partitions`: assignment and owned partitions). */
  [detail: string]: unknown;
}

export class HealthRegistry {
  private readonly checks = new Map<string, HealthCheck>();
  private readonly details = new Map<string, () => unknown>();

  register(name: string, check: HealthCheck): void {
    this.checks.set(name, check);
  }

  /** A field of the readiness report besides `status` and `checks` (read at every request). */
  detail(name: string, read: () => unknown): void {
    if (name === 'status' || name === 'checks') throw new Error(`"${name}" is not a detail name`);
    this.details.set(name, read);
  }

  async readiness(timeoutMs = 2000): Promise<ReadinessReport> {
    const report: ReadinessReport = { status: 'ok', checks: {} };
    await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          await withTimeout(Promise.resolve().then(check), timeoutMs);
          report.checks[name] = { status: 'ok' };
        } catch (e) {
          report.status = 'unavailable';
          report.checks[name] = { status: 'down', error: (e as Error).message };
        }
      }),
    );
    for (const [name, read] of this.details) report[name] = read();
    return report;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
