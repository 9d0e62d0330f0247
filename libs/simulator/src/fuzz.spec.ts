import { HostileInputs, FuzzInput } from './fuzz';

const NOW = 1_780_000_000_000;
const take = (seed: number, n: number, runId?: string): FuzzInput[] => {
  const g = new HostileInputs({ seed, runId });
  return Array.from({ length: n }, (_, i) => g.next(NOW + i));
};
const plain = (inputs: FuzzInput[]) =>
  JSON.stringify(inputs, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));

describe('HostileInputs', () => {
  it('the same seed gives the same inputs; another seed others', () => {
    expect(plain(take(7, 300))).toEqual(plain(take(7, 300)));
    expect(plain(take(8, 50))).not.toEqual(plain(take(7, 50)));
  });

  it('reaches every endpoint and mixes valid events in, with fresh ids under the run id', () => {
    const inputs = take(3, 600, 'run1');
    const endpoints = new Set(inputs.map((i) => i.endpoint));
    for (const e of ['POST /v1/events', 'tcp ingest', 'nats tidemark.ingest', 'GET /v1/metrics…', 'nats tidemark.metrics.query', 'GET /v1/recommendations…', 'nats tidemark.recs.*', 'nats tidemark.alerts.list', 'POST /v1/alert-rules', 'nats tidemark.alerts.rules', 'POST /v1/silences']) {
      expect(endpoints).toContain(e);
    }
    const valid = inputs.flatMap((i) => i.valid);
    expect(valid.length).toBeGreaterThan(100);
    for (const v of valid) expect(v.id).toMatch(/^run1-\d+$/);
  });

  it('a valid event sits where it says: its record index (HTTP, NATS) or its line (TCP)', () => {
    for (const input of take(11, 400)) {
      if (input.valid.length === 0) continue;
      if (input.target === 'tcp') {
        const lines = Buffer.concat(input.chunks!).toString('latin1').split('\n');
        for (const v of input.valid) expect(JSON.parse(Buffer.from(lines[v.at - 1].replace(/\r$/, ''), 'latin1').toString('utf8')).id).toBe(v.id);
        continue;
      }
      const text = Buffer.from(input.body ?? input.data!).toString('utf8');
      let records: unknown[];
      try {
        const parsed = JSON.parse(text) as unknown;
        records = Array.isArray(parsed) ? parsed : [parsed];
      } catch {
        if (text.startsWith('[') && !text.includes('\n')) continue; // a broken JSON array: a 400 for all of it
        records = text.split('\n').filter((l) => l.trim() !== '').map((l) => l);
      }
      for (const v of input.valid) {
        const r = records[v.at];
        expect(typeof r === 'string' ? (JSON.parse(r) as { id: string }).id : (r as { id: string }).id).toBe(v.id);
      }
    }
  });
});
