import * as path from 'node:path';
import * as fs from 'node:fs';

/** Every service, in start order. Each is `apps/<name>/src/main.ts` exporting `bootstrap(): Promise<...>`. */
export const SERVICE_NAMES = ['ingestion', 'dedup', 'aggregation', 'recommendation', 'alerting', 'dashboard'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/**
 * V8 flags every service process starts with that V8 also takes from `NODE_OPTIONS` (the Kubernetes manifests set
 * them there). A young generation of 2 × 32 MB instead of V8's default (16 MB semi-spaces at most, less under a
 * small --max-old-space-size): a batch's garbage, and a checkpoint interval's pre-summed state, die young instead
 * of being copied and promoted. Measured on the full pipeline, alternately: −13 % CPU an event for all processes
 * together (docs/benchmarks.md); up to ~48 MB more resident memory a process.
 */
export const SERVICE_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=32'];

/**
 * V8 flags every service process starts with that Node refuses in `NODE_OPTIONS`: they go on the `node` command
 * line (the Docker image's ENTRYPOINT, the Kubernetes manifests' command). `--single-threaded`: no background
 * threads for garbage collection or compilation — a service does that work on its own thread, in its turn,
 * instead of competing for the cores with the pipeline's other processes. Measured on the full pipeline, four
 * pairs alternately: −9 % CPU an event for all processes together draining a backlog, −4 % live
 * (docs/benchmarks.md, "eleventh session").
 */
export const SERVICE_COMMAND_FLAGS: readonly string[] = ['--single-threaded'];

/** Node flags every service process starts with (`tidemark up`, chaos, the benchmarks, the tests). */
export const SERVICE_NODE_FLAGS: readonly string[] = [...SERVICE_NODE_OPTIONS, ...SERVICE_COMMAND_FLAGS];

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
