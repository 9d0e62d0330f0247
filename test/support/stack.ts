/** Every Tidemark service as its own process on free ports, against given servers (for whole-system specs). */
import { freePort } from './free-port';
import { ServiceProcess, serviceProcess } from './service-process';

export const ALL_SERVICES = ['ingestion', 'dedup', 'aggregation', 'recommendation', 'alerting', 'dashboard'] as const;
export type ServiceName = (typeof ALL_SERVICES)[number];

export interface Stack {
  /** `http://127.0.0.1:<port>` of each service. */
  url: Record<ServiceName, string>;
  tcpPort: number;
  services: ServiceProcess[];
  byName: Partial<Record<ServiceName, ServiceProcess>>;
  stop(): Promise<void>;
}

/**
 * Starts `names` (default: all six services) with `env` (NATS_URL, REDIS_URL, …) plus a free port each;
 * resolves once all are ready. `byName` gives each process (to kill -9 and start again).
 */
export async function startStack(env: Record<string, string>, names: readonly ServiceName[] = ALL_SERVICES): Promise<Stack> {
  const ports: Record<string, number> = { INGESTION_TCP_PORT: await freePort() };
  for (const s of ALL_SERVICES) ports[`${s.toUpperCase()}_PORT`] = await freePort();
  const all = { ...env, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) };
  const url = {} as Record<ServiceName, string>;
  const byName = {} as Partial<Record<ServiceName, ServiceProcess>>;
  for (const s of ALL_SERVICES) url[s] = `http://127.0.0.1:${ports[`${s.toUpperCase()}_PORT`]}`;
  for (const s of names) byName[s] = serviceProcess(s, all, `${url[s]}/health/ready`);
  const services = Object.values(byName) as ServiceProcess[];
  await Promise.all(services.map((s) => s.start()));
  return { url, tcpPort: ports.INGESTION_TCP_PORT, services, byName, stop: async () => void (await Promise.all(services.map((s) => s.stop()))) };
}
