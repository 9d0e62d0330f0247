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
  stop(): Promise<void>;
}

/** Starts all six services with `env` (NATS_URL, REDIS_URL, …) plus their ports; resolves once all are ready. */
export async function startStack(env: Record<string, string>): Promise<Stack> {
  const ports: Record<string, number> = { INGESTION_TCP_PORT: await freePort() };
  for (const s of ALL_SERVICES) ports[`${s.toUpperCase()}_PORT`] = await freePort();
  const all = { ...env, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) };
  const url = {} as Record<ServiceName, string>;
  const services: ServiceProcess[] = [];
  for (const s of ALL_SERVICES) {
    url[s] = `http://127.0.0.1:${ports[`${s.toUpperCase()}_PORT`]}`;
    services.push(serviceProcess(s, all, `${url[s]}/health/ready`));
  }
  await Promise.all(services.map((s) => s.start()));
  return { url, tcpPort: ports.INGESTION_TCP_PORT, services, stop: async () => void (await Promise.all(services.map((s) => s.stop()))) };
}
