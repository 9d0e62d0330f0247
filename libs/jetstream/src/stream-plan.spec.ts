import { ProvisioningError, SERVER_DEFAULT_DUPLICATE_WINDOW_NS, StreamSettings, formatNanos, planStreamUpdate } from './stream-plan';

const S = 1e9;
const DAY = 86_400 * S;
const GIB = 1024 ** 3;

/** What Tidemark wants for EVENTS_RAW with JETSTREAM_REPLICAS=3. */
const wanted: StreamSettings = {
  subjects: ['events.raw.*'],
  storage: 'file',
  retention: 'limits',
  discard: 'old',
  num_replicas: 3,
  max_age: 7 * DAY,
  duplicate_window: 120 * S,
  max_bytes: 8 * GIB,
};
/** The stream as the server reports it when it equals `wanted` (server defaults for what we do not set). */
const same: StreamSettings = { ...wanted, max_msgs: -1, max_msgs_per_subject: -1, max_msg_size: -1 };
const plan = (current: Partial<StreamSettings>, want: Partial<StreamSettings> = {}, stored = 0, ours: number | undefined = 8 * GIB) =>
  planStreamUpdate('EVENTS_RAW', { ...same, ...current }, { ...wanted, ...want }, stored, ours);

describe('planStreamUpdate: an existing stream gets only what is missing', () => {
  it('equal: nothing to change, nothing to say', () => {
    expect(plan({})).toEqual({ update: {}, changed: [], warnings: [] });
  });

  describe('subjects', () => {
    it('adds a missing subject and keeps the existing ones', () => {
      const p = plan({ subjects: [] }, { subjects: ['events.raw.*'] });
      expect(p.update).toEqual({ subjects: ['events.raw.*'] });
      expect(plan({ subjects: ['a.*'] }, { subjects: ['a.*', 'b.*'] }).update).toEqual({ subjects: ['a.*', 'b.*'] });
    });
    it("keeps an operator's extra subject, with a warning naming it", () => {
      const p = plan({ subjects: ['events.raw.*', 'mirror.raw.*'] });
      expect(p.changed).toEqual([]);
      expect(p.warnings).toEqual([expect.stringMatching(/EVENTS_RAW: it also has subjects mirror\.raw\.\*.*left as it is/)]);
    });
    it('adds the missing and keeps the extra at once', () => {
      const p = plan({ subjects: ['x.*'] });
      expect(p.update.subjects).toEqual(['x.*', 'events.raw.*']);
      expect(p.warnings).toHaveLength(1);
    });
    it('the same subjects in another order are equal', () => {
      expect(plan({ subjects: ['b', 'a'] }, { subjects: ['a', 'b'] })).toEqual({ update: {}, changed: [], warnings: [] });
    });
  });

  describe('num_replicas', () => {
    it('raises replicas to JETSTREAM_REPLICAS', () => {
      expect(plan({ num_replicas: 1 })).toMatchObject({ update: { num_replicas: 3 }, changed: ['num_replicas'], warnings: [] });
    });
    it('treats a missing replica count (0) as 1', () => {
      expect(plan({ num_replicas: 0 }).update).toEqual({ num_replicas: 3 });
      expect(plan({ num_replicas: 0 }, { num_replicas: 1 })).toEqual({ update: {}, changed: [], warnings: [] });
    });
    it("never lowers an operator's replicas: left, with a warning", () => {
      const p = plan({ num_replicas: 5 });
      expect(p.changed).toEqual([]);
      expect(p.warnings).toEqual([expect.stringContaining('5 replicas, more than JETSTREAM_REPLICAS=3')]);
      expect(plan({ num_replicas: 3 }, { num_replicas: 1 }).update).toEqual({});
    });
  });

  describe('max_age', () => {
    it('raises a retention shorter than Tidemark needs', () => {
      expect(plan({ max_age: DAY })).toMatchObject({ update: { max_age: 7 * DAY }, changed: ['max_age'] });
    });
    it('keeps a longer one, with a warning', () => {
      const p = plan({ max_age: 30 * DAY });
      expect(p.update).toEqual({});
      expect(p.warnings).toEqual([expect.stringContaining("max_age is 30d, longer than Tidemark's 7d")]);
    });
    it('keeps an unlimited one (0), with a warning', () => {
      const p = plan({ max_age: 0 });
      expect(p.update).toEqual({});
      expect(p.warnings).toEqual([expect.stringContaining('max_age is unlimited')]);
    });
    it('an unlimited wanted age raises any limit', () => {
      expect(plan({ max_age: 30 * DAY }, { max_age: 0 }).update).toEqual({ max_age: 0 });
    });
  });

  describe('duplicate_window', () => {
    it('raises a shorter window', () => {
      expect(plan({ duplicate_window: 30 * S }).update).toEqual({ duplicate_window: 120 * S });
    });
    it('keeps a longer window, with a warning', () => {
      const p = plan({ duplicate_window: 10 * 60 * S });
      expect(p.update).toEqual({});
      expect(p.warnings).toEqual([expect.stringContaining("duplicate_window is 10m, longer than Tidemark's 2m")]);
    });
    it('0 means the server default (2 min) on either side', () => {
      expect(plan({ duplicate_window: 0 })).toEqual({ update: {}, changed: [], warnings: [] });
      expect(plan({ duplicate_window: SERVER_DEFAULT_DUPLICATE_WINDOW_NS }, { duplicate_window: 0 })).toEqual({ update: {}, changed: [], warnings: [] });
      expect(plan({ duplicate_window: 60 * S }, { duplicate_window: 0 }).update).toEqual({ duplicate_window: SERVER_DEFAULT_DUPLICATE_WINDOW_NS });
    });
    it('never beyond the max_age the stream will have (the server refuses that)', () => {
      // max_age raised to 1 min along with it: the window follows, capped at 1 min.
      expect(plan({ max_age: 30 * S, duplicate_window: 10 * S }, { max_age: 60 * S }).update).toEqual({ max_age: 60 * S, duplicate_window: 60 * S });
    });
  });

  describe('max_bytes (decideMaxBytes)', () => {
    it('raises a smaller size and takes over an unlimited one', () => {
      expect(plan({ max_bytes: GIB }).update).toEqual({ max_bytes: 8 * GIB });
      expect(plan({ max_bytes: -1 }).update).toEqual({ max_bytes: 8 * GIB });
    });
    it("keeps an operator's larger size, with a warning", () => {
      const p = plan({ max_bytes: 20 * GIB });
      expect(p.update).toEqual({});
      expect(p.warnings).toEqual([expect.stringContaining(`max_bytes is ${20 * GIB} bytes`)]);
    });
    it('our default follows STREAM_MAX_BYTES_<NAME> down (it is ours, not an operator raise)', () => {
      expect(plan({ max_bytes: 8 * GIB }, { max_bytes: 2 * GIB }).update).toEqual({ max_bytes: 2 * GIB });
    });
    it('never below what the stream holds, and says why', () => {
      const p = plan({ max_bytes: -1 }, {}, 9 * GIB);
      expect(p.update).toEqual({});
      expect(p.warnings).toEqual([expect.stringContaining(`below the ${9 * GIB} bytes it holds`)]);
    });
  });

  describe('limits Tidemark never sets', () => {
    it.each(['max_msgs', 'max_msgs_per_subject', 'max_msg_size'] as const)("keeps an operator's %s, with a warning", (key) => {
      const p = plan({ [key]: 1000 });
      expect(p.update).toEqual({});
      expect(p.warnings).toEqual([expect.stringContaining(`${key} is 1000 (Tidemark sets none)`)]);
    });
    it('server defaults (-1) and absent fields are not worth a word', () => {
      expect(plan({ max_msgs: undefined, max_msgs_per_subject: undefined, max_msg_size: undefined }).warnings).toEqual([]);
    });
    it("keeps an operator's discard policy, with a warning", () => {
      const p = plan({ discard: 'new' });
      expect(p.update).toEqual({});
      expect(p.warnings).toEqual([expect.stringContaining("discard is new (Tidemark's: old)")]);
    });
  });

  it('storage and retention cannot change in place: an error naming the stream', () => {
    expect(() => plan({ storage: 'memory' })).toThrow(ProvisioningError);
    expect(() => plan({ storage: 'memory' })).toThrow(/stream EVENTS_RAW has storage memory, wanted file/);
    expect(() => plan({ retention: 'workqueue' })).toThrow(/stream EVENTS_RAW has retention workqueue, wanted limits/);
  });

  it('several differences at once: every raise applied, every operator choice left and warned', () => {
    const p = plan({ subjects: ['events.raw.*', 'extra.>'], num_replicas: 1, max_age: 30 * DAY, duplicate_window: 60 * S, max_bytes: 20 * GIB, max_msgs: 5 });
    expect(p.update).toEqual({ num_replicas: 3, duplicate_window: 120 * S });
    expect(p.changed.sort()).toEqual(['duplicate_window', 'num_replicas']);
    expect(p.warnings).toHaveLength(4); // subjects, max_age, max_bytes, max_msgs
  });

  it('is idempotent: applying the update gives a stream with nothing left to change', () => {
    const currents: Partial<StreamSettings>[] = [
      { subjects: [], num_replicas: 1, max_age: DAY, duplicate_window: 10 * S, max_bytes: -1 },
      { subjects: ['x'], num_replicas: 5, max_age: 0, duplicate_window: 0, max_bytes: GIB, discard: 'new' },
      { num_replicas: 2, max_age: 8 * DAY, duplicate_window: 600 * S, max_bytes: 16 * GIB, max_msgs: 10 },
    ];
    for (const c of currents) {
      const first = plan(c);
      const after = { ...c, ...first.update };
      const second = plan(after);
      expect(second.update).toEqual({});
      // ...and it never lowered a limit.
      for (const key of ['num_replicas', 'max_age', 'duplicate_window'] as const) {
        const before = c[key] ?? same[key];
        const now = (after as StreamSettings)[key] ?? same[key];
        if (before !== 0) expect(now === 0 || now >= before).toBe(true);
      }
    }
  });
});

describe('formatNanos', () => {
  it.each<[number, string]>([
    [0, 'unlimited'],
    [7 * DAY, '7d'],
    [3600 * S, '1h'],
    [120 * S, '2m'],
    [90 * S, '90s'],
    [1.5 * S, '1500ms'],
  ])('%d ns = %s', (ns, text) => expect(formatNanos(ns)).toBe(text));
});
