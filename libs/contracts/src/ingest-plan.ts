/**
 * What ingestion does with one request, before any I/O: validate each record, drop repeats of an `id`
 * within the request, and route each accepted event to its raw partition. Pure.
 */
import { isUtf8 } from 'node:buffer';
import { RejectedRecord } from './api';
import { TidemarkEvent } from './events';
import { BodyRecord } from './ndjson';
import { partitionOf } from './partition';
import { ValidateOptions, describeErrors, validateEvent } from './validate';

export interface PlannedEvent {
  index: number;
  event: TidemarkEvent;
  /** Its raw partition (the subject is `subjects.raw(partition)`). */
  partition: number;
  /** The serialised event, as stored in JetStream. */
  data: Buffer;
}

export interface IngestPlan {
  events: PlannedEvent[];
  /** Indices of records repeating an id already in this request. */
  duplicateIndices: number[];
  rejected: RejectedRecord[];
}

export function planIngest(records: BodyRecord[], partitions: number, opts: ValidateOptions): IngestPlan {
  const events: PlannedEvent[] = [];
  const rejected: RejectedRecord[] = [];
  const seen = new Set<string>();
  const duplicateIndices: number[] = [];
  records.forEach((record, index) => {
    const line = () => (record.line === undefined ? {} : { line: record.line });
    if ('error' in record) {
      rejected.push({ index, ...line(), error: record.error, errors: [{ field: '', reason: record.error }] });
      return;
    }
    const result = validateEvent(record.value, opts);
    if (!result.ok) {
      const id = (record.value as { id?: unknown } | null)?.id;
      rejected.push({
        index,
        ...line(),
        error: describeErrors(result.errors),
        errors: result.errors,
        ...(typeof id === 'string' ? { id } : {}),
      });
      return;
    }
    const event = result.event;
    let data: Buffer;
    try {
      data = storedAsSent(record, event) ? record.raw! : Buffer.from(JSON.stringify(event));
    } catch (e) {
      // validateEvent bounds nesting, so this is a safety net: one record's problem never fails its batch.
      const error = `cannot be serialised: ${(e as Error).message}`;
      rejected.push({ index, ...line(), error, errors: [{ field: '', reason: error }], id: event.id });
      return;
    }
    if (seen.has(event.id)) {
      duplicateIndices.push(index);
      return;
    }
    seen.add(event.id);
    const partition = partitionOf(event.sessionId, partitions);
    events.push({ index, event, partition, data });
  });
  return { events, duplicateIndices, rejected };
}

/**
 * Whether the record's line can be stored as it was sent, instead of the event serialised again: validation
 * left the event unchanged (it is the parsed value itself), the bytes are well-formed UTF-8, and every number
 * in it reads back as itself — no literal beyond the range of a double (parsed as ±Infinity, which
 * JSON.stringify would store as null) and no -0 (stored as 0). Then any reader parses exactly the value
 * validation accepted, and ingestion skips a JSON.stringify and a copy per event (docs/ingestion.md).
 */
function storedAsSent(record: { value: unknown; raw?: Buffer }, event: TidemarkEvent): boolean {
  return record.raw !== undefined && (event as unknown) === record.value && isUtf8(record.raw) && plainNumbers(event);
}

/** Every number in `value` is finite and not -0 (no recursion: any depth is safe). */
export function plainNumbers(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'number') {
      if (!Number.isFinite(v) || Object.is(v, -0)) return false;
    } else if (typeof v === 'object' && v !== null) {
      if (Array.isArray(v)) for (let i = 0; i < v.length; i++) stack.push(v[i]);
      else for (const k in v) stack.push((v as Record<string, unknown>)[k]);
    }
  }
  return true;
}
