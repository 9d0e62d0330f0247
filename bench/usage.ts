/**
 * The command line of a benchmark (`tidemark bench <what> [options]`): one table of its options gives both the
 * node:util parseArgs configuration and the `--help` text, so the defaults the usage prints are the parser's.
 * No side effects on import: `--help` starts nothing.
 */
import { parseArgs } from 'node:util';

/** One option: its parseArgs type and default, and what the usage says of it. */
export interface BenchOption {
  type: 'string' | 'boolean';
  default?: string | boolean;
  /** The value's placeholder in the usage (`N`, `R`, …), for string options. */
  value?: string;
  /** What it does. Its first line gets ` (default X)` from `default`; further lines are indented under it. */
  help: string;
}

export type BenchOptions = Record<string, BenchOption>;

/** Parsed values: strings with a default are always set; booleans are true or false. */
export type BenchValues<O extends BenchOptions> = {
  [K in keyof O]: O[K]['type'] extends 'boolean' ? boolean : O[K] extends { default: string } ? string : string | undefined;
};

/** An environment variable a bench honours, and what the usage says of it (lines as in BenchOption.help). */
export interface BenchEnv {
  name: string;
  help: string;
}

/** What support.ts's startService reads: node flags for the service processes (benches that start services with it). */
export const BENCH_NODE_ARGS: BenchEnv = {
  name: 'BENCH_NODE_ARGS',
  help: 'environment variable: node flags for every service process the bench starts,\ne.g. BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" to profile them',
};

export interface BenchCliSpec<O extends BenchOptions> {
  /** The benchmark's name in `tidemark bench <what>`. */
  what: string;
  options: O;
  /** Environment variables the bench honours (e.g. BENCH_NODE_ARGS), listed after the options. */
  env?: BenchEnv[];
  /** What the bench measures and how, printed below the options. */
  about: string;
}

export interface BenchCli<O extends BenchOptions> {
  usage: string;
  /**
   * The arguments' values; `undefined` when `--help` / `-h` was given (the usage is printed: return 0, start
   * nothing). An unknown option or a missing value throws parseArgs's error: `tidemark` reports it as a usage
   * error (exit 2) pointing to `tidemark bench <what> --help`.
   */
  parse(args: string[]): BenchValues<O> | undefined;
}

export function benchCli<const O extends BenchOptions>(spec: BenchCliSpec<O>): BenchCli<O> {
  const usage = benchUsage(spec);
  const config = Object.fromEntries(
    Object.entries(spec.options).map(([name, o]) => [name, o.default === undefined ? { type: o.type } : { type: o.type, default: o.default }]),
  );
  return {
    usage,
    parse(args) {
      const { values } = parseArgs({ args, options: { ...config, help: { type: 'boolean', short: 'h', default: false } } });
      const { help, ...rest } = values;
      if (help) {
        console.log(usage);
        return undefined;
      }
      return rest as BenchValues<O>;
    },
  };
}

function benchUsage(spec: BenchCliSpec<BenchOptions>): string {
  const entries = [
    ...Object.entries(spec.options).map(([name, o]) => ({
      head: `  --${name}${o.value ? ` ${o.value}` : ''}`,
      help: o.help,
      byDefault: o.type === 'string' && o.default !== undefined ? ` (default ${o.default})` : '',
    })),
    ...(spec.env ?? []).map((e) => ({ head: `  ${e.name}`, help: e.help, byDefault: '' })),
  ];
  const width = Math.max(0, ...entries.map((e) => e.head.length)) + 3;
  const lines = [`Usage: tidemark bench ${spec.what} [options]`];
  for (const { head, help, byDefault } of entries) {
    const [first, ...more] = help.split('\n');
    lines.push(`${head.padEnd(width)}${first}${byDefault}`, ...more.map((l) => `${' '.repeat(width)}${l}`));
  }
  lines.push(spec.about);
  return lines.join('\n');
}
