import { LoggerService } from '@nestjs/common';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;

/**
 * Nest's start-up chatter (every module loaded, every route mapped: ~20 lines a service) is logged at debug,
 * not info: at the default level a start shows what a person wants to read.
 */
const CHATTER = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory', 'NestApplication', 'NestMicroservice']);

/** Structured logs: one JSON object a line on stdout (errors on stderr), for any log shipper. */
export class JsonLogger implements LoggerService {
  constructor(
    private readonly service: string,
    private readonly level: LogLevel = 'info',
    private readonly clock: () => number = Date.now,
  ) {}

  log(message: unknown, ...rest: unknown[]) {
    this.write('info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]) {
    this.write('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]) {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]) {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]) {
    this.write('debug', message, rest);
  }

  /** Builds the log record; exported for tests. */
  format(level: LogLevel, message: unknown, rest: unknown[]): Record<string, unknown> {
    const record: Record<string, unknown> = { time: new Date(this.clock()).toISOString(), level, service: this.service };
    // Nest passes the context as the last string argument.
    const args = [...rest];
    if (typeof args[args.length - 1] === 'string') record.context = args.pop();
    if (message instanceof Error) {
      record.msg = message.message;
      record.stack = message.stack;
    } else if (typeof message === 'object' && message !== null) {
      Object.assign(record, message);
    } else {
      record.msg = String(message);
    }
    for (const a of args) {
      if (a instanceof Error) record.err = { message: a.message, stack: a.stack };
      else if (typeof a === 'string' && a.includes('\n')) record.stack = a;
      else if (typeof a === 'object' && a !== null) Object.assign(record, a);
      else if (a !== undefined) record.detail = a;
    }
    return record;
  }

  private write(level: LogLevel, message: unknown, rest: unknown[]) {
    const context = rest[rest.length - 1];
    if (level === 'info' && typeof context === 'string' && CHATTER.has(context)) level = 'debug';
    if (LEVELS[level] < LEVELS[this.level]) return;
    const line = JSON.stringify(this.format(level, message, rest)) + '\n';
    (level === 'error' ? process.stderr : process.stdout).write(line);
  }
}
