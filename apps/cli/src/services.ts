import * as path from 'node:path';
import * as fs from 'node:fs';

/** Every service, in start order. Each is `apps/<name>/src/main.ts` exporting `bootstrap(): Promise<...>`. */
export const SERVICE_NAMES = ['ingestion', 'dedup', 'aggregation', 'recommendation', 'alerting', 'dashboard'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export function serviceEntry(name: string): string {
  return path.resolve(__dirname, '..', '..', name, 'src', 'main.js');
}

/** The services that exist in this build. */
export function availableServices(): ServiceName[] {
  return SERVICE_NAMES.filter((name) => fs.existsSync(serviceEntry(name)));
}

export function isServiceName(name: string): name is ServiceName {
  return (SERVICE_NAMES as readonly string[]).includes(name);
}
