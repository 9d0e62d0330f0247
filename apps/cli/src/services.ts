import * as path from 'node:path';
import * as fs from 'node:fs';

/** Every service, in start order. Each is `apps/<name>/src/main.ts` exporting `bootstrap(): Promise<...>`. */
export const SERVICE_NAMES = ['ingestion', 'dedup', 'aggregation', 'recommendation', 'alerting', 'dashboard'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/**
 * Node flags every service process starts with (`tidemark up`, chaos, the benchmarks, the tests; the Docker image
 * and the Kubernetes manifests set the same in NODE_OPTIONS). A young generation of 2 × 32 MB instead of V8's
 * default (16 MB semi-spaces at most, less under a small --max-old-space-size): a batch's garbage, and a
 * checkpoint interval's pre-summed state, die young instead of being copied and promoted. Measured on the full
 * pipeline, alternately: −13 % CPU an event for all processes together (docs/benchmarks.md); up to ~48 MB more
 * resident memory a process.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32'];

/** The node arguments that run service `name` through the CLI at `bin` (bin/tidemark.js), with SERVICE_NODE_FLAGS. */
export function serviceArgv(bin: string, name: string, nodeArgs: readonly string[] = []): string[] {
  return [...SERVICE_NODE_FLAGS, ...nodeArgs, bin, 'service', name];
}

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
