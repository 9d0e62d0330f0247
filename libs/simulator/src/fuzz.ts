/**
 * Hostile inputs for every endpoint, seeded and pure: the same seed (and the same `now` per call) gives the
 * same inputs. Malformed bodies, headers, query strings, TCP byte streams, NATS requests, alert rules and
 * silences, mixed with valid events whose ids (and places in the request) are recorded so that a caller can
 * check exactness afterwards. Used by `tidemark fuzz` and test/fuzz.e2e-spec.ts; see README "Limits".
 */
import { Random } from './random';

export type FuzzTarget = 'ingestion' | 'aggregation' | 'recommendation' | 'alerting' | 'tcp' | 'nats';

/** A valid event inside an input: `at` is its record index (HTTP, NATS) or its 1-based line number (TCP). */
export interface FuzzValid {
  id: string;
  at: number;
}

export interface FuzzInput {
  /** Label for reports, e.g. `POST /v1/events` or `nats tidemark.ingest`. */
  endpoint: string;
  target: FuzzTarget;
  method?: string;
  /** Path and query string (HTTP). */
  path?: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** TCP: the byte stream, already split into the writes to make. */
  chunks?: Uint8Array[];
  /** NATS subject and payload. */
  subject?: string;
  data?: Uint8Array;
  /** Valid events inside (ingestion endpoints only). */
  valid: FuzzValid[];
  /** Ids of valid events inside whose outcome the answer cannot tell (their place is unknown): maybe stored. */
  unsure?: string[];
}

export interface HostileInputsOptions {
  seed: number;
  /** Prefix of the valid events' ids (default `fz<seed>`); give a fresh one per run against a live system. */
  runId?: string;
  /** Rough upper bound of one input's size in bytes (default 300 000); a few inputs go past it on purpose. */
  maxBytes?: number;
}

const enc = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));

/** Ids that once named another Redis key, broke a script or a pattern. */
export const ADVERSARIAL_IDS = ['Z', 'Z:r', ':', '{', '}', '*', '?', '[a]', '\\', '%', '..', '/', 'a b', 'x'.repeat(128), 'é🛒中', '\u202e', '\ufeffbom'];

const EVENT_TYPES = ['page_view', 'product_view', 'add_to_cart', 'remove_from_cart', 'checkout_started', 'order_placed', 'payment_succeeded', 'payment_failed'];
const NAN_LIKE = ['NaN', 'Infinity', '-Infinity', '1e400', '-0', '0x10', '', ' ', 'null', 'undefined', 'abc', '١٢٣', '9'.repeat(40)];
/** JSON text of awkward numbers (some not JSON at all). */
const NUMBERS = ['1e308', '-1e308', '1e400', '-1', '0', '0.0000001', '9007199254740993', '123456789012345678901234567890', 'NaN', 'Infinity', '-0', '1.5'];
const CONTROL = '\u0000\u0001\u0007\u0008\u001b\u007f\u0085\u2028\u2029';
const CONTENT_TYPES = [
  'application/json',
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
  'APPLICATION/JSON; charset=utf-8',
  'application/json; charset=latin1',
  'text/plain',
  'application/xml',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded',
  '',
  ';;;',
  'application/json, application/x-ndjson',
];

export class HostileInputs {
  private readonly r: Random;
  private readonly runId: string;
  private readonly maxBytes: number;
  private validSeq = 0;
  private readonly sentValid: { id: string; text: string }[] = [];
  private now = 0;

  constructor(options: HostileInputsOptions) {
    this.r = new Random(options.seed);
    this.runId = options.runId ?? `fz${options.seed}`;
    this.maxBytes = options.maxBytes ?? 300_000;
  }

  /** The next input; `now` (epoch ms) dates its events. */
  next(now: number): FuzzInput {
    this.now = now;
    const r = this.r;
    const x = r.next();
    if (x < 0.3) return this.httpEvents(now);
    if (x < 0.45) return this.tcp(now);
    if (x < 0.55) return this.natsIngest(now);
    if (x < 0.64) return this.metricsHttp();
    if (x < 0.69) return this.metricsNats();
    if (x < 0.75) return this.recsHttp();
    if (x < 0.79) return this.recsNats();
    if (x < 0.82) return { endpoint: 'nats tidemark.alerts.list', target: 'nats', subject: 'tidemark.alerts.list', data: enc(this.pick([JSON.stringify({ state: this.str() }), '{}', '', '[', 'null', JSON.stringify({ state: { $gt: 1 } })])), valid: [] };
    if (x < 0.9) return this.rulesHttp();
    if (x < 0.94) return this.rulesNats();
    return this.silencesHttp();
  }

  // ---- primitives --------------------------------------------------------------------------------------------

  private pick<T>(items: readonly T[]): T {
    return this.r.pick(items);
  }

  /** A hostile string value (JS string; may hold a lone surrogate or control characters). */
  private str(): string {
    const r = this.r;
    switch (r.int(0, 9)) {
      case 0:
        return this.pick(ADVERSARIAL_IDS);
      case 1:
        return this.pick(NAN_LIKE);
      case 2:
        return `a${CONTROL.slice(r.int(0, CONTROL.length - 1))}b`;
      case 3:
        return `u\ud800x`; // a lone surrogate
      case 4:
        return 'y'.repeat(this.pick([127, 128, 129, 256, 257, 1025, 70_000]));
      case 5:
        return `'; DROP TABLE x; --`;
      case 6:
        return '${jndi:ldap://x}{{7*7}}<script>';
      default:
        return `s${r.int(0, 50)}`;
    }
  }

  /** JSON text of a hostile scalar or small structure. */
  private valueText(depth = 0): string {
    const r = this.r;
    switch (r.int(0, depth > 2 ? 3 : 6)) {
      case 0:
        return this.pick(NUMBERS);
      case 1:
        return JSON.stringify(this.str());
      case 2:
        return this.pick(['true', 'false', 'null', '"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"']);
      case 3:
        return String(r.int(-5, 5));
      case 4:
        return `[${Array.from({ length: r.int(0, 4) }, () => this.valueText(depth + 1)).join(',')}]`;
      case 5:
        return `{${Array.from({ length: r.int(0, 4) }, () => `${JSON.stringify(this.str())}:${this.valueText(depth + 1)}`).join(',')}}`;
      default:
        return this.deep(this.pick([5, 50, 1000, 20_000]));
    }
  }

  private deep(levels: number): string {
    return this.r.chance(0.5) ? '['.repeat(levels) + '1' + ']'.repeat(levels) : '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
  }

  /** A well-formed event of a random type (id given). */
  private event(id: string, now: number): Record<string, unknown> {
    const r = this.r;
    const type = this.pick(EVENT_TYPES);
    const user = r.chance(0.2) ? this.pick(ADVERSARIAL_IDS) : `fu${r.int(0, 20)}`;
    const product = r.chance(0.2) ? this.pick(ADVERSARIAL_IDS) : `fp${r.int(0, 30)}`;
    const order = r.chance(0.3) ? this.pick(['Z', 'Z:r', 'Z:r:r', '{Z}']) : `fo${r.int(0, 40)}`;
    const e: Record<string, unknown> = { id, type, ts: now - r.int(0, 20_000), userId: user, sessionId: `fs${r.int(0, 10)}` };
    if (type === 'product_view' || type === 'add_to_cart' || type === 'remove_from_cart') Object.assign(e, { productId: product, categoryId: `fc${r.int(0, 3)}`, price: r.int(1, 500), quantity: r.int(1, 3) });
    if (type === 'order_placed') {
      const items = Array.from({ length: r.int(1, 4) }, () => ({ productId: r.chance(0.2) ? this.pick(ADVERSARIAL_IDS) : `fp${r.int(0, 30)}`, price: r.int(1, 100), quantity: r.int(1, 3) }));
      Object.assign(e, { orderId: order, amount: items.reduce((s, i) => s + i.price * i.quantity, 0), items });
    }
    if (type === 'payment_succeeded' || type === 'payment_failed') Object.assign(e, { orderId: order, amount: r.int(1, 500) });
    if (type === 'payment_failed') e.reason = 'declined';
    if (r.chance(0.1)) e.attrs = { campaign: `c${r.int(0, 3)}`, nested: { a: [1, 2] } };
    return e;
  }

  /**
   * A fresh valid event (recorded), or now and then a resend of an earlier one: the same event again, as a
   * client retry sends it. (Ids are de-duplicated per partition, i.e. per sessionId: docs/semantics.md.)
   */
  private validEvent(now: number): { id: string; text: string } {
    if (this.sentValid.length > 0 && this.r.chance(0.1)) return this.pick(this.sentValid);
    const id = `${this.runId}-${++this.validSeq}`;
    const sent = { id, text: JSON.stringify(this.event(id, now)) };
    this.sentValid.push(sent);
    if (this.sentValid.length > 1000) this.sentValid.shift();
    return sent;
  }

  /** JSON text (maybe not JSON at all) of one hostile record. */
  private hostileRecord(now: number): string {
    const r = this.r;
    const base = this.event(this.pick([...ADVERSARIAL_IDS, `dup-${r.int(0, 5)}`, `h${r.int(0, 1e6)}`]), now);
    switch (r.int(0, 15)) {
      case 0: // broken JSON
        return this.pick(['{', '[', '}', '{"id":', '{"id":"x",}', "{'id':'x'}", '{"id":NaN}', 'nul', '"', '{"a":1}}', ',', '\\u0000']);
      case 1: // not an object
        return this.pick(['null', '1', '"str"', '[]', 'true', '[{"id":"x"}]', '{}']);
      case 2: {
        // one field of the wrong type or value
        const field = this.pick(['id', 'type', 'ts', 'userId', 'sessionId', 'productId', 'price', 'quantity', 'orderId', 'amount', 'items', 'attrs', 'reason']);
        const text = JSON.stringify(base);
        return `${text.slice(0, -1)},${JSON.stringify(field)}:${this.valueText()}}`;
      }
      case 3: // a NaN-like string where a number goes
        return JSON.stringify({ ...base, [this.pick(['ts', 'price', 'amount', 'quantity'])]: this.pick(NAN_LIKE) });
      case 4: // time far away
        return JSON.stringify({ ...base, ts: this.pick([0, -1, now + 86_400_000, now + 301_000, 8.64e15, 8.64e15 + 1, '2099-01-01T00:00:00Z', '1970-01-01', 'yesterday', now - 3_600_000]) });
      case 5: // deep nesting
        return `${JSON.stringify(base).slice(0, -1)},"attrs":${this.deep(this.pick([4, 5, 100, 10_000]))}}`;
      case 6: {
        // huge attrs: many keys or many bytes
        const attrs = r.chance(0.5) ? Object.fromEntries(Array.from({ length: this.pick([64, 65, 1000]) }, (_, i) => [`k${i}`, i])) : { blob: 'b'.repeat(this.pick([8000, 8200, 60_000])) };
        return JSON.stringify({ ...base, attrs });
      }
      case 7: {
        // many items
        const n = this.pick([100, 101, 1000, 1001]);
        const items = Array.from({ length: n }, (_, i) => ({ productId: `ip${i}`, price: 1, quantity: 1 }));
        return JSON.stringify({ ...base, type: 'order_placed', orderId: this.pick(['Z', 'Z:r', 'big']), amount: n, items });
      }
      case 8: // lone surrogates, escaped and raw
        return r.chance(0.5) ? JSON.stringify(base).replace(/"userId":"[^"]*"/, '"userId":"\\ud800"') : JSON.stringify({ ...base, userId: 'u\udc00', productId: '\ud83d' });
      case 9: // control characters in every string
        return JSON.stringify({ ...base, userId: `u${CONTROL}`, sessionId: `\u0000`, id: `${base.id as string}${CONTROL}` });
      case 10: // huge numbers
        return JSON.stringify(base).replace(/"ts":\d+/, `"ts":${this.pick(NUMBERS)}`);
      case 11: // ids of every length
        return JSON.stringify({ ...base, id: this.pick(['', 'i'.repeat(128), 'i'.repeat(129), '🛒'.repeat(64), '🛒'.repeat(65), 7, null]) });
      case 12: // unknown type, extra fields
        return JSON.stringify({ ...base, type: this.pick(['PAGE_VIEW', 'refund', '', 'constructor', '__proto__']), __proto__x: 1, constructor: { prototype: 1 } });
      case 13: // a __proto__ key
        return `${JSON.stringify(base).slice(0, -1)},"__proto__":{"polluted":true}}`;
      default: // well-formed, adversarial id (accepted or a duplicate: exactness is checked on every id)
        return JSON.stringify(base);
    }
  }

  /** Records mixed with valid ones. */
  private records(now: number, count: number): { texts: string[]; valid: FuzzValid[] } {
    const texts: string[] = [];
    const valid: FuzzValid[] = [];
    const share = this.r.next();
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      if (this.r.next() < share) {
        const v = this.validEvent(now);
        valid.push({ id: v.id, at: i });
        texts.push(v.text);
      } else {
        const text = this.hostileRecord(now);
        texts.push(bytes + text.length > this.maxBytes ? this.pick(['{', 'null', '{"id":1}']) : text); // bounded size
      }
      bytes += texts[i].length;
    }
    return { texts, valid };
  }

  private count(): number {
    return this.pick([1, 1, 2, 3, 5, 10, 30, 100]);
  }

  /** A body for the ingest endpoints (HTTP and NATS): JSON, a JSON array or NDJSON, with the valid events' indexes. */
  private ingestBody(now: number): { body: string; ndjson: boolean; valid: FuzzValid[] } {
    const r = this.r;
    const kind = r.int(0, 9);
    if (kind === 0) {
      // whole-body garbage: nothing valid inside
      return { body: this.pick(['', ' ', '\n\n', '[', '[]', '{}', 'null', '[1,2]', this.deep(50_000), '\u0000'.repeat(100), 'x'.repeat(this.maxBytes * 2), this.valueText()]), ndjson: r.chance(0.5), valid: [] };
    }
    if (kind === 1) {
      // many valid events (maybe over the count cap of 10 000: a 413, nothing accepted)
      const n = this.pick([2000, 10_001]);
      const valid: FuzzValid[] = [];
      const texts = Array.from({ length: n }, (_, i) => {
        const v = this.validEvent(now);
        valid.push({ id: v.id, at: i });
        return v.text;
      });
      const ndjson = r.chance(0.5);
      return { body: ndjson ? texts.join('\n') : `[${texts.join(',')}]`, ndjson, valid };
    }
    const { texts, valid } = this.records(now, this.count());
    // Only one-line texts may go into NDJSON (a record text never holds a raw newline: JSON.stringify escapes them).
    if (r.chance(0.5)) {
      // A broken record breaks a JSON array as a whole: nothing in it is accepted, so indexes still hold.
      return { body: `[${texts.join(',')}]`, ndjson: false, valid };
    }
    const sep = r.chance(0.2) ? '\r\n' : '\n';
    return { body: texts.join(sep) + (r.chance(0.7) ? sep : ''), ndjson: true, valid };
  }

  private authHeaders(): Record<string, string> {
    const r = this.r;
    const h: Record<string, string> = {};
    if (r.chance(0.1)) h['x-huge'] = 'h'.repeat(this.pick([1000, 8000, 20_000, 70_000]));
    if (r.chance(0.05)) h['accept-encoding'] = 'gzip, br, x-bogus';
    if (r.chance(0.05)) h['content-encoding'] = this.pick(['gzip', 'br', 'identity', 'bogus']);
    if (r.chance(0.05)) h['authorization'] = this.pick(['Bearer', 'Basic Zm9vOmJhcg==', `Bearer ${'k'.repeat(5000)}`]);
    if (r.chance(0.05)) h['x-forwarded-for'] = '1.2.3.4, ::1, garbage';
    return h;
  }

  // ---- endpoints ---------------------------------------------------------------------------------------------

  private httpEvents(now: number): FuzzInput {
    const { body, ndjson, valid } = this.ingestBody(now);
    const headers = this.authHeaders();
    const r = this.r;
    const ct = r.chance(0.6) ? (ndjson ? 'application/x-ndjson' : 'application/json') : this.pick(CONTENT_TYPES);
    if (ct !== '' || r.chance(0.5)) headers['content-type'] = ct;
    const method = r.chance(0.95) ? 'POST' : this.pick(['PUT', 'GET', 'DELETE', 'PATCH']);
    const path = r.chance(0.95) ? '/v1/events' : this.pick(['/v1/events?x=1', '/v1/events/', '/v1//events', '/v1/events/%00', '/v1/events?' + 'a=1&'.repeat(2000)]);
    const endpoint = method === 'POST' && path.startsWith('/v1/events') ? 'POST /v1/events' : `${method} /v1/events (odd)`;
    // An NDJSON body keeps its record indexes whatever the content type says (JSON that fails to parse is read
    // as NDJSON, or answered 400); a JSON array sent as NDJSON is one record, so its indexes would not hold.
    // (An NDJSON body that happens to parse as one JSON value is read as that value: its indexes are unknown.)
    const readAsSent = ndjson ? isNdjsonType(ct) || !parsesAsOneJson(body) : !isNdjsonType(ct);
    return { endpoint, target: 'ingestion', method, path, headers, body: enc(body), ...(method === 'POST' && readAsSent ? { valid } : { valid: [], unsure: valid.map((v) => v.id) }) };
  }

  private natsIngest(now: number): FuzzInput {
    const { body, ndjson, valid } = this.ingestBody(now);
    const headers: Record<string, string> = {};
    if (ndjson) headers['Content-Type'] = 'application/x-ndjson';
    else if (this.r.chance(0.3)) headers['Content-Type'] = this.pick(CONTENT_TYPES.filter((c) => c !== '' && !/ndjson|jsonl/.test(c)));
    if (ndjson && this.r.chance(0.3)) delete headers['Content-Type']; // read as JSON first, as NDJSON when that fails
    const readAsSent = !ndjson || headers['Content-Type'] !== undefined || !parsesAsOneJson(body);
    return { endpoint: 'nats tidemark.ingest', target: 'nats', subject: 'tidemark.ingest', data: enc(body), headers, ...(readAsSent ? { valid } : { valid: [], unsure: valid.map((v) => v.id) }) };
  }

  private tcp(now: number): FuzzInput {
    const r = this.r;
    const lines: Uint8Array[] = [];
    const valid: FuzzValid[] = [];
    const n = this.count();
    for (let i = 0; i < n; i++) {
      const x = r.next();
      if (x < 0.4) {
        const v = this.validEvent(now);
        valid.push({ id: v.id, at: lines.length + 1 });
        lines.push(enc(v.text));
      } else if (x < 0.7) {
        lines.push(enc(this.hostileRecord(now)));
      } else if (x < 0.8) {
        // binary garbage without a newline (so line numbers hold)
        const bytes = new Uint8Array(r.int(1, 300));
        for (let j = 0; j < bytes.length; j++) bytes[j] = r.int(0, 255) === 10 ? 0 : r.int(0, 255);
        for (let j = 0; j < bytes.length; j++) if (bytes[j] === 10) bytes[j] = 0;
        lines.push(bytes);
      } else if (x < 0.85) {
        lines.push(enc('x'.repeat(this.pick([65_535, 65_537, 200_000])))); // over-long line
      } else if (x < 0.9) {
        lines.push(enc(this.pick(['', ' ', '\r', 'AUTH nothing', 'AUTH']))); // blank lines and stray AUTH
      } else {
        lines.push(enc(this.valueText()));
      }
    }
    const sep = enc(r.chance(0.2) ? '\r\n' : '\n');
    const parts: Uint8Array[] = [];
    lines.forEach((l, i) => {
      parts.push(l);
      if (i < lines.length - 1 || r.chance(0.7)) parts.push(sep); // sometimes no trailing newline
    });
    const all = Buffer.concat(parts);
    // Random splits, down to single bytes and through multi-byte characters.
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < all.length; ) {
      const size = r.chance(0.3) ? r.int(1, 3) : r.int(1, Math.max(1, Math.min(all.length, 70_000)));
      chunks.push(new Uint8Array(all.subarray(i, i + size)));
      i += size;
    }
    return { endpoint: 'tcp ingest', target: 'tcp', chunks, valid };
  }

  private query(params: string[]): string {
    const r = this.r;
    const parts: string[] = [];
    for (const p of params) {
      if (r.chance(0.3)) continue; // missing
      const v = this.pick([
        'abc',
        '-1',
        '0',
        String(this.now),
        '99999999999999999999999',
        '1e3',
        '1.5',
        '',
        'NaN',
        '%00',
        '%ZZ',
        urlPart(this.str()),
        '9007199254740993',
        String(r.int(1, 20)),
      ]);
      parts.push(`${p}=${v}`);
      if (r.chance(0.1)) parts.push(`${p}=${v}`); // an array
      if (r.chance(0.05)) parts.push(`${p}[]=1`);
    }
    if (r.chance(0.05)) parts.push('x='.repeat(1000));
    return parts.length ? `?${parts.join('&')}` : '';
  }

  private segment(): string {
    const s = this.r.chance(0.5) ? this.pick(ADVERSARIAL_IDS) : this.str();
    return this.r.chance(0.9) ? urlPart(s) : this.pick(['%', '%ZZ', '%2F', '%00', '..', '.']);
  }

  private metricsHttp(): FuzzInput {
    const metric = this.r.chance(0.6) ? this.pick(['events', 'gmv', 'orders', 'top_products', 'conversion_rate', 'payment_failure_rate']) : this.segment();
    const x = this.r.int(0, 5);
    const path =
      x === 0 ? `/v1/metrics/${metric}/top${this.query(['k'])}` : x === 1 ? `/v1/watermark${this.query(['x'])}` : x === 2 ? '/v1/metrics' : `/v1/metrics/${metric}${this.query(['from', 'to', 'key', 'limit'])}`;
    return { endpoint: 'GET /v1/metrics…', target: 'aggregation', method: 'GET', path, headers: this.authHeaders(), valid: [] };
  }

  private natsJson(fields: Record<string, string[]>): string {
    const r = this.r;
    if (r.chance(0.1)) return this.pick(['', '{', 'null', '[]', '"x"', '1', this.deep(10_000), '\u0000']);
    const parts: string[] = [];
    for (const [name, choices] of Object.entries(fields)) {
      if (r.chance(0.2)) continue;
      parts.push(`${JSON.stringify(name)}:${r.chance(0.5) ? this.pick(choices) : this.valueText()}`);
    }
    return `{${parts.join(',')}}`;
  }

  private metricsNats(): FuzzInput {
    const data = this.natsJson({
      op: ['"range"', '"top"', '"watermark"', '"definitions"', '"drop"', '1'],
      metric: ['"events"', '"gmv"', '"top_products"', '"nope"', '"__proto__"'],
      from: ['0', '-1', '"abc"', '1e300', `${this.now - 60_000}`],
      to: [`${this.now + 60_000}`, '"abc"', '[1]', '1.5'],
      key: ['"page_view"', '"Z:r"', '5', '"*"'],
      limit: ['1', '0', '-1', '100000', '"all"'],
      k: ['5', '-1', '1e9', '"x"'],
    });
    return { endpoint: 'nats tidemark.metrics.query', target: 'nats', subject: 'tidemark.metrics.query', data: enc(data), valid: [] };
  }

  private recsHttp(): FuzzInput {
    const x = this.r.int(0, 3);
    const s = this.segment();
    const path =
      x === 0
        ? `/v1/recommendations/users/${s}${this.query(['k'])}`
        : x === 1
          ? `/v1/recommendations/sessions/${s}${this.query(['k', 'excludeSeen'])}`
          : x === 2
            ? `/v1/recommendations/products/${s}/similar${this.query(['k'])}`
            : `/v1/trending${this.query(['categoryId', 'k'])}`;
    return { endpoint: 'GET /v1/recommendations…', target: 'recommendation', method: 'GET', path, headers: this.authHeaders(), valid: [] };
  }

  private recsNats(): FuzzInput {
    const subject = this.pick(['tidemark.recs.user', 'tidemark.recs.similar', 'tidemark.recs.trending']);
    const data = this.natsJson({
      userId: ['"fu1"', '"Z:r"', '"*"', '1', '"\\ud800"', JSON.stringify('u'.repeat(300))],
      sessionId: ['"fs1"', '{}'],
      productId: ['"fp1"', '"{"', 'null'],
      categoryId: ['"fc1"', '[]'],
      k: ['5', '0', '-1', '1e9', '"x"', '1.5'],
      excludeSeen: ['true', '"yes"'],
    });
    return { endpoint: 'nats tidemark.recs.*', target: 'nats', subject, data: enc(data), valid: [] };
  }

  /** A rule, sometimes sound, mostly not. Webhooks never point anywhere reachable. */
  private ruleText(id?: string): string {
    const r = this.r;
    const rule: Record<string, unknown> = { id: id ?? `fuzz-${r.int(0, 30)}`, kind: this.pick(['threshold', 'rate', 'absence', 'nope', 1]), metric: this.pick(['gmv', 'events', 'payment_failure_rate', 'nope']), op: this.pick(['>', '<', '>=', '==', '=~']), value: r.int(0, 100) };
    if (r.chance(0.3)) rule.description = 'd'.repeat(this.pick([10, 1024, 1025, 100_000]));
    if (r.chance(0.3)) rule.labels = Object.fromEntries(Array.from({ length: this.pick([1, 32, 33]) }, (_, i) => [this.pick([`l${i}`, 'n'.repeat(129)]), this.str()]));
    if (r.chance(0.2)) rule.webhooks = Array.from({ length: this.pick([1, 8, 9]) }, () => this.pick(['http://127.0.0.1:9/x', 'ftp://x', 'not a url', 'http://169.254.169.254/', `http://127.0.0.1:9/${'p'.repeat(2100)}`]));
    if (r.chance(0.2)) rule.for = this.pick(['1m', '-1s', '99999999d', 'abc', 5, '']);
    if (r.chance(0.2)) rule.key = this.pick(['Z:r', '*', '(a+)+', 'k'.repeat(300)]);
    let text = JSON.stringify(rule);
    if (r.chance(0.2)) text = `${text.slice(0, -1)},${JSON.stringify(this.pick(['value', 'metric', 'op', 'id', 'labels']))}:${this.valueText()}}`;
    if (r.chance(0.05)) text = this.pick(['{', '[]', 'null', '', text.slice(0, r.int(0, text.length))]);
    return text;
  }

  private rulesHttp(): FuzzInput {
    const r = this.r;
    const id = r.chance(0.7) ? `fuzz-${r.int(0, 30)}` : this.segment();
    const x = r.int(0, 5);
    const headers = { ...this.authHeaders(), 'content-type': r.chance(0.9) ? 'application/json' : this.pick(CONTENT_TYPES) };
    if (x === 0) return { endpoint: 'GET /v1/alert-rules', target: 'alerting', method: 'GET', path: r.chance(0.5) ? '/v1/alert-rules' : `/v1/alert-rules/${id}`, headers, valid: [] };
    if (x === 1) return { endpoint: 'DELETE /v1/alert-rules/:id', target: 'alerting', method: 'DELETE', path: `/v1/alert-rules/${id}`, headers, valid: [] };
    if (x === 2) return { endpoint: 'PUT /v1/alert-rules/:id', target: 'alerting', method: 'PUT', path: `/v1/alert-rules/${id}`, headers, body: enc(this.ruleText(decodeSafe(id))), valid: [] };
    return { endpoint: 'POST /v1/alert-rules', target: 'alerting', method: 'POST', path: '/v1/alert-rules', headers, body: enc(this.ruleText()), valid: [] };
  }

  private rulesNats(): FuzzInput {
    const r = this.r;
    const op = this.pick(['list', 'get', 'create', 'replace', 'delete', 'drop', '']);
    const text = r.chance(0.1) ? this.pick(['', '{', 'null', '[]']) : `{"op":${JSON.stringify(op)},"id":${r.chance(0.7) ? JSON.stringify(`fuzz-${r.int(0, 30)}`) : this.valueText()},"rule":${this.ruleText()}}`;
    return { endpoint: 'nats tidemark.alerts.rules', target: 'nats', subject: 'tidemark.alerts.rules', data: enc(text), valid: [] };
  }

  private silencesHttp(): FuzzInput {
    const r = this.r;
    const headers = { ...this.authHeaders(), 'content-type': 'application/json' };
    if (r.chance(0.2)) return { endpoint: 'GET/DELETE /v1/silences', target: 'alerting', method: r.chance(0.5) ? 'GET' : 'DELETE', path: r.chance(0.5) ? '/v1/silences' : `/v1/silences/${this.segment()}`, headers, valid: [] };
    const matcher = () => {
      const m: Record<string, unknown> = { name: this.pick(['key', 'severity', 'rule', 'n'.repeat(129), '']), value: this.pick(['(a+)+', '(a|aa)*b', '.*.*.*.*.*x', '[a-z]+', 'u-*', '*', '\\', 'x'.repeat(257), this.str(), 'a'.repeat(26) + '!']) };
      if (r.chance(0.4)) m.isRegex = this.pick([true, false, 'yes']);
      if (r.chance(0.4)) m.isGlob = this.pick([true, false, 1]);
      return m;
    };
    const silence: Record<string, unknown> = { matchers: Array.from({ length: this.pick([0, 1, 2, 16, 17]) }, matcher) };
    const when = r.int(0, 3);
    if (when === 0) silence.duration = this.pick(['1h', '90d', '91d', '36500d', '-1h', '0s', '1y', 'abc', '', 5, '1e400h', '9'.repeat(30) + 'ms']);
    else if (when === 1) silence.endsAt = this.pick([this.now + 60_000, -1, 8.64e15 + 1, 'tomorrow', 1e308]);
    else if (when === 2) Object.assign(silence, { startsAt: this.pick([this.now, 'x', -1]), endsAt: this.pick([this.now + 60_000, 0]) });
    if (r.chance(0.3)) silence.comment = 'c'.repeat(this.pick([10, 1025, 100_000]));
    return { endpoint: 'POST /v1/silences', target: 'alerting', method: 'POST', path: '/v1/silences', headers, body: enc(JSON.stringify(silence)), valid: [] };
  }
}

/** Percent-encoded; a lone surrogate (which cannot be encoded) becomes `%ED%A0%80`, bytes that are no UTF-8. */
function urlPart(s: string): string {
  return s.replace(/[\ud800-\udfff]/g, '\ue000').split('\ue000').map(encodeURIComponent).join('%ED%A0%80');
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function parsesAsOneJson(body: string): boolean {
  try {
    JSON.parse(body);
    return true;
  } catch {
    return false;
  }
}

/** As the ingestion reads a content type (libs/contracts/src/ndjson.ts parseBody). */
function isNdjsonType(contentType: string): boolean {
  const ct = contentType.split(';')[0].trim().toLowerCase();
  return ct === 'application/x-ndjson' || ct === 'application/ndjson' || ct === 'application/jsonl';
}
