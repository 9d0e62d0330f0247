import { Webhook } from 'standardwebhooks';
import { signWebhook, webhookSignatureHeaders } from './delivery';
import { isWebhookSecret, normalizeAllowPrefix, parseReceivers, rawWebhookProblem } from './receivers';
import { validateRule } from './rule';

const SECRET = 'whsec_' + Buffer.alloc(32, 7).toString('base64');

describe('receivers file', () => {
  it('parses receivers with defaults', () => {
    const r = parseReceivers(
      JSON.stringify({
        ops: { url: 'https://hooks.example.com/tidemark', secret: SECRET, headers: { Authorization: 'Bearer x' } },
        local: { url: 'http://127.0.0.1:9999/hook', allowPrivate: true },
      }),
    );
    expect(r.get('ops')).toEqual({ name: 'ops', url: 'https://hooks.example.com/tidemark', secret: SECRET, headers: { Authorization: 'Bearer x' }, allowPrivate: false });
    expect(r.get('local')).toEqual({ name: 'local', url: 'http://127.0.0.1:9999/hook', headers: {}, allowPrivate: true });
  });

  it.each([
    ['not json', /not JSON/],
    ['[]', /JSON object/],
    [{ 'Bad Name': { url: 'https://x/' } }, /Bad Name is not a receiver name/],
    [{ ops: 'https://x/' }, /^ops must be an object/],
    [{ ops: { url: 'ftp://x/' } }, /^ops\.url must be an http/],
    [{ ops: { url: 'https://x/', secret: 'hunter2' } }, /^ops\.secret must be "whsec_"/],
    [{ ops: { url: 'https://x/', headers: { 'webhook-signature': 'v1,x' } } }, /^ops\.headers\.webhook-signature is set by Tidemark/],
    [{ ops: { url: 'https://x/', headers: { 'X-A': 'a\r\nInjected: 1' } } }, /line breaks/],
    [{ ops: { url: 'https://x/', allowPrivate: 'yes' } }, /^ops\.allowPrivate must be true or false/],
    [{ ops: { url: 'https://x/', extra: 1 } }, /^ops\.extra is not a receiver field/],
  ])('refuses %j', (doc, message) => {
    expect(() => parseReceivers(typeof doc === 'string' ? doc : JSON.stringify(doc))).toThrow(message);
  });

  it('never puts a secret in an error message', () => {
    try {
      parseReceivers(JSON.stringify({ ops: { url: 'https://x/', secret: 'whsec_c2hvcnQ=' } }));
    } catch (e) {
      expect((e as Error).message).not.toContain('c2hvcnQ');
    }
  });

  it('knows a Standard Webhooks secret', () => {
    expect(isWebhookSecret(SECRET)).toBe(true);
    expect(isWebhookSecret('whsec_' + Buffer.alloc(16).toString('base64'))).toBe(false);
    expect(isWebhookSecret('whsec_' + Buffer.alloc(65).toString('base64'))).toBe(false);
    expect(isWebhookSecret(Buffer.alloc(32).toString('base64'))).toBe(false);
    expect(isWebhookSecret('whsec_not base64!')).toBe(false);
  });
});

describe('raw webhook URLs in rules', () => {
  const allow = ['https://hooks.example.com/team-a', 'https://chat.example.org'].map(normalizeAllowPrefix);

  it('normalises allow-list prefixes so they end a path segment', () => {
    expect(allow).toEqual(['https://hooks.example.com/team-a/', 'https://chat.example.org/']);
    expect(() => normalizeAllowPrefix('https://u:p@x/')).toThrow(/credentials/);
    expect(() => normalizeAllowPrefix('ftp://x/')).toThrow(/http/);
    expect(() => normalizeAllowPrefix('https://x/?a=1')).toThrow(/query/);
    expect(() => normalizeAllowPrefix('nope')).toThrow(/not a URL/);
  });

  it.each([
    ['https://hooks.example.com/team-a/alerts', undefined],
    ['https://hooks.example.com/team-a', undefined],
    ['https://chat.example.org/any/path?x=1', undefined],
    ['https://hooks.example.com/team-ab', /ALLOWLIST/],
    ['https://hooks.example.com.evil.test/team-a/', /ALLOWLIST/],
    ['http://hooks.example.com/team-a/', /ALLOWLIST/],
    ['https://u:p@chat.example.org/', /credentials/],
    ['http://169.254.169.254/latest/meta-data/', /ALLOWLIST/],
    ['ftp://x/', /http/],
    [42, /http/],
  ])('%s', (url, problem) => {
    const p = rawWebhookProblem(url, allow);
    if (problem === undefined) expect(p).toBeUndefined();
    else expect(p).toMatch(problem);
  });

  it('refuses every raw URL without an allow-list, pointing at receivers', () => {
    expect(rawWebhookProblem('https://hooks.example.com/x', [])).toMatch(/name a receiver/);
  });

  it('validates a rule: receivers must exist, raw URLs must be allowed, each error names its field', () => {
    const rule = { id: 'r', kind: 'threshold', metric: 'm', op: '>', value: 1 };
    const policy = { receivers: new Set(['ops']), allowlist: allow };
    expect(validateRule({ ...rule, receivers: ['ops'], webhooks: ['https://chat.example.org/x'] }, undefined, policy).ok).toBe(true);
    const v = validateRule({ ...rule, receivers: ['ops', 'nobody'], webhooks: ['http://127.0.0.1:8080/'] }, undefined, policy);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.errors.map((e) => e.field)).toEqual(['receivers.1', 'webhooks.0']);
    const none = validateRule({ ...rule, webhooks: ['https://chat.example.org/x'] });
    expect(none.ok).toBe(false);
    if (!none.ok) expect(none.errors[0]).toEqual({ field: 'webhooks.0', reason: expect.stringMatching(/not allowed/) });
    const bad = validateRule({ ...rule, receivers: 'ops' }, undefined, policy);
    if (!bad.ok) expect(bad.errors[0].field).toBe('receivers');
  });
});

describe('Standard Webhooks signature', () => {
  const body = JSON.stringify({ rule: 'payment_failure_rate', notification: 'firing', value: 0.4, summary: 'ünïcode ✓' });

  it('verifies with the standardwebhooks package', () => {
    const ts = Math.floor(Date.now() / 1000);
    const headers = webhookSignatureHeaders(SECRET, 'msg_1', ts, body);
    expect(Object.keys(headers).sort()).toEqual(['webhook-id', 'webhook-signature', 'webhook-timestamp']);
    expect(new Webhook(SECRET).verify(body, headers)).toEqual(JSON.parse(body));
    expect(signWebhook(SECRET, 'msg_1', ts, body)).toBe(new Webhook(SECRET).sign('msg_1', new Date(ts * 1000), body));
  });

  it('does not verify with another secret, id, timestamp or body', () => {
    const ts = Math.floor(Date.now() / 1000);
    const headers = webhookSignatureHeaders(SECRET, 'msg_1', ts, body);
    const other = 'whsec_' + Buffer.alloc(32, 8).toString('base64');
    expect(() => new Webhook(other).verify(body, headers)).toThrow();
    expect(() => new Webhook(SECRET).verify(body + ' ', headers)).toThrow();
    expect(() => new Webhook(SECRET).verify(body, { ...headers, 'webhook-id': 'msg_2' })).toThrow();
    expect(() => new Webhook(SECRET).verify(body, { ...headers, 'webhook-timestamp': String(ts - 1) })).toThrow();
  });

  it('matches a fixed vector (v1 HMAC-SHA256 over id.timestamp.body, base64)', () => {
    const fixed = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    expect(signWebhook(fixed, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });
});
