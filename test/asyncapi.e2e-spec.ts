/**
 * docs/asyncapi.yaml is a valid AsyncAPI 3 document and names every NATS subject Tidemark uses
 * (libs/contracts/src/subjects.ts `subjects` and `rpc`, and the alert rules subject).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Parser } from '@asyncapi/parser';
import { rpc, streams, subjects } from '@tidemark/contracts';
import { RULES_SUBJECT } from '../apps/alerting/src/alerts.rpc';

jest.setTimeout(60_000);

const FILE = path.resolve(__dirname, '..', 'docs', 'asyncapi.yaml');

async function parse() {
  const { document, diagnostics } = await new Parser().parse(fs.readFileSync(FILE, 'utf8'));
  const errors = diagnostics.filter((d) => d.severity === 0).map((d) => `${d.path.join('.')}: ${d.message}`);
  return { document, errors };
}

/** `{partition}`-style parameters become the sample value, so an address can be compared with a subject. */
const addressMatches = (address: string, subject: string) => new RegExp(`^${address.replace(/\./g, '\\.').replace(/\{[^}]+\}/g, '[^.]+')}$`).test(subject);

it('is a valid AsyncAPI 3 document', async () => {
  const { document, errors } = await parse();
  expect(errors).toEqual([]);
  expect(document!.version()).toMatch(/^3\./);
});

it('names every subject of libs/contracts and every request-reply subject', async () => {
  const { document } = await parse();
  const addresses = document!.channels().all().map((c) => c.address()!);
  const samples = [
    ...Object.values(rpc),
    RULES_SUBJECT,
    subjects.raw(3),
    subjects.clean(3),
    subjects.late('revenue'),
    subjects.result('revenue'),
    subjects.alert('payment_failures'),
    subjects.dlq('EVENTS_CLEAN', 'aggregation-p3'),
  ];
  // every subject builder and rpc entry is sampled above: a new one fails here until it is added
  expect(samples.length).toBe(Object.keys(rpc).length + 1 + Object.keys(subjects).length);
  for (const subject of samples) expect({ subject, documented: addresses.some((a) => addressMatches(a, subject)) }).toEqual({ subject, documented: true });
  // and every stream's subjects are covered by a channel
  for (const s of Object.values(streams)) {
    // `*` is one token; `>` is one or more
    const samples = ['x', 'x.y'].map((rest) => s.subjects[0].replace('*', '3').replace('>', rest));
    const documented = samples.some((sample) => addresses.some((a) => addressMatches(a, sample)));
    expect({ stream: s.name, documented }).toEqual({ stream: s.name, documented: true });
  }
});

it('fails for a subject it does not name (so the test above can fail)', async () => {
  const { document } = await parse();
  const addresses = document!.channels().all().map((c) => c.address()!);
  expect(addresses.some((a) => addressMatches(a, 'tidemark.nothing.here'))).toBe(false);
  expect(addresses.some((a) => addressMatches(a, 'events.raw.3.extra'))).toBe(false);
});
