import { planIngest } from './ingest-plan';
import { partitionOf } from './partition';

const NOW = Date.UTC(2026, 10, 24);
const ev = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  type: 'page_view',
  ts: NOW - 1000,
  userId: 'u1',
  sessionId: `s-${id}`,
  ...extra,
});

describe('planIngest', () => {
  it('accepts the valid records of a mixed batch and rejects the others with their index', () => {
    const plan = planIngest(
      [{ value: ev('a') }, { value: ev('b', { type: 'nope' }) }, { error: 'line 3 is not valid JSON', line: 3 }, { value: ev('c') }],
      8,
      { now: NOW },
    );
    expect(plan.events.map((e) => [e.index, e.event.id])).toEqual([
      [0, 'a'],
      [3, 'c'],
    ]);
    expect(plan.rejected).toEqual([
      { index: 1, id: 'b', error: expect.stringContaining('type must be one of'), errors: [{ field: 'type', reason: expect.any(String) }] },
      { index: 2, line: 3, error: 'line 3 is not valid JSON', errors: [{ field: '', reason: 'line 3 is not valid JSON' }] },
    ]);
  });

  it('counts repeats of an id within the request as duplicates, keeping the first', () => {
    const plan = planIngest([{ value: ev('a') }, { value: ev('a', { userId: 'other' }) }, { value: ev('a') }], 8, { now: NOW });
    expect(plan.events).toHaveLength(1);
    expect(plan.events[0].event.userId).toBe('u1');
    expect(plan.duplicateIndices).toEqual([1, 2]);
  });

  it('routes by sessionId to its raw partition and stores the normalised event', () => {
    const plan = planIngest([{ value: ev('a', { ts: new Date(NOW - 5).toISOString(), extra: 1 }) }], 8, { now: NOW });
    const [p] = plan.events;
    expect(p.partition).toBe(partitionOf('s-a', 8));
    expect(JSON.parse(p.data.toString())).toEqual({ ...ev('a'), ts: NOW - 5, attrs: { extra: 1 } });
  });

  it('rejects a record nested 200,000 levels deep on its own; its neighbours are planned (no throw for the batch)', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = { a: deep };
    const plan = planIngest([{ value: ev('a') }, { value: ev('b', { attrs: deep }) }, { value: ev('c') }], 8, { now: NOW });
    expect(plan.events.map((e) => e.event.id)).toEqual(['a', 'c']);
    expect(plan.rejected).toEqual([{ index: 1, id: 'b', error: 'attrs.a.a.a.a is nested deeper than 4 levels', errors: [{ field: 'attrs.a.a.a.a', reason: 'is nested deeper than 4 levels' }] }]);
  });
});
