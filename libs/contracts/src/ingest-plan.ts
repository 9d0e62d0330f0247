/**
 * What ingestion does with one request, before any I/O: validate each record, drop repeats of an `id`
 * within the request, and route each accepted event to its raw partition. Pure.
 */
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
      data = Buffer.from(JSON.stringify(event));
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
