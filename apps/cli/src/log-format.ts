/**
 * How `tidemark up` shows its services' logs: JSON lines as they are (for a log shipper, or when asked with
 * LOG_FORMAT=json), or, on a terminal, one readable line each: time, level, message, and the other fields as
 * key=value. Pure.
 */

export type LogFormat = 'json' | 'pretty';

/** `auto` is pretty on a terminal and JSON elsewhere. */
export function resolveLogFormat(setting: 'auto' | LogFormat, isTty: boolean): LogFormat {
  return setting === 'auto' ? (isTty ? 'pretty' : 'json') : setting;
}

const LEVEL_TAG: Record<string, string> = { debug: 'debug', info: 'info ', warn: 'WARN ', error: 'ERROR' };
const SKIP = new Set(['time', 'level', 'service', 'msg', 'context', 'stack']);

/** One line of a service's output, formatted; lines that are not JSON records pass through unchanged. */
export function formatLogLine(line: string, format: LogFormat): string {
  if (format === 'json') return line;
  let r: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || typeof (parsed as { level?: unknown }).level !== 'string') return line;
    r = parsed as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof r.time === 'string' && /T(\d\d:\d\d:\d\d)/.exec(r.time)?.[1];
  const extra = Object.entries(r)
    .filter(([k, v]) => !SKIP.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`);
  const head = [time || '', LEVEL_TAG[r.level as string] ?? String(r.level), r.context ? `[${String(r.context)}]` : '', r.msg === undefined ? '' : String(r.msg)].filter(Boolean).join(' ');
  const stack = typeof r.stack === 'string' && (r.level === 'error' || r.level === 'warn') ? `\n${r.stack}` : '';
  return `${head}${extra.length ? `  ${extra.join(' ')}` : ''}${stack}`;
}
