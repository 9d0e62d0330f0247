/**
 * Webhook receivers the operator defines (ALERTING_RECEIVERS_FILE, docs/security.md "Webhooks"), and the
 * allow-list a rule's raw webhook URL must match. Pure: the file's text in, validated receivers out.
 *
 * File (JSON): `{ "<name>": { "url": "https://…", "secret": "whsec_…", "headers": {…}, "allowPrivate": false } }`.
 */

export interface Receiver {
  name: string;
  url: string;
  /** Standard Webhooks signing secret (`whsec_` + base64 of 24–64 random bytes); unsigned when absent. */
  secret?: string;
  /** Extra request headers (e.g. the receiver's own Authorization); never shown by the API or logs. */
  headers: Record<string, string>;
  /** May connect to loopback / private / link-local addresses (off by default). */
  allowPrivate: boolean;
}

export class ReceiversError extends Error {}

const NAME = /^[a-z0-9_-]{1,64}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
/** Headers Tidemark sets itself. */
const RESERVED_HEADERS = new Set(['host', 'content-type', 'content-length', 'transfer-encoding', 'connection', 'idempotency-key', 'webhook-id', 'webhook-timestamp', 'webhook-signature']);
const RECEIVER_FIELDS = new Set(['url', 'secret', 'headers', 'allowPrivate']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses and validates the receivers file; errors name the receiver and field (`ops.secret: …`). */
export function parseReceivers(text: string): Map<string, Receiver> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ReceiversError(`not JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) throw new ReceiversError('must be a JSON object of receiver name → {url, secret, headers, allowPrivate}');
  const out = new Map<string, Receiver>();
  for (const [name, r] of Object.entries(doc)) {
    const fail = (field: string, reason: string): never => {
      throw new ReceiversError(`${name}${field ? '.' + field : ''} ${reason}`);
    };
    if (!NAME.test(name)) fail('', 'is not a receiver name (1-64 characters of a-z, 0-9, _ and -)');
    if (!isObject(r)) return fail('', 'must be an object {url, secret, headers, allowPrivate}');
    for (const k of Object.keys(r)) if (!RECEIVER_FIELDS.has(k)) fail(k, 'is not a receiver field (url, secret, headers, allowPrivate)');
    if (typeof r.url !== 'string' || !isHttpUrl(r.url)) fail('url', 'must be an http:// or https:// URL');
    let secret: string | undefined;
    if (r.secret !== undefined) {
      if (typeof r.secret !== 'string' || !isWebhookSecret(r.secret)) fail('secret', 'must be "whsec_" followed by the base64 of 24 to 64 bytes');
      secret = r.secret as string;
    }
    const headers: Record<string, string> = {};
    if (r.headers !== undefined) {
      if (!isObject(r.headers)) fail('headers', 'must be an object of header name → string');
      for (const [h, v] of Object.entries(r.headers as Record<string, unknown>)) {
        if (!HEADER_NAME.test(h)) fail(`headers.${h}`, 'is not a header name');
        if (RESERVED_HEADERS.has(h.toLowerCase())) fail(`headers.${h}`, 'is set by Tidemark');
        if (typeof v !== 'string' || /[\r\n\0]/.test(v)) fail(`headers.${h}`, 'must be a string without line breaks');
        headers[h] = v as string;
      }
    }
    if (r.allowPrivate !== undefined && typeof r.allowPrivate !== 'boolean') fail('allowPrivate', 'must be true or false');
    out.set(name, { name, url: r.url as string, ...(secret ? { secret } : {}), headers, allowPrivate: r.allowPrivate === true });
  }
  return out;
}

/** `whsec_` + standard base64 of 24–64 bytes (Standard Webhooks recommends 24–64). */
export function isWebhookSecret(s: string): boolean {
  if (!s.startsWith('whsec_')) return false;
  const b64 = s.slice('whsec_'.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) return false;
  const bytes = Buffer.from(b64, 'base64').length;
  return bytes >= 24 && bytes <= 64;
}

export function isHttpUrl(u: string): boolean {
  try {
    const p = new URL(u);
    return p.protocol === 'http:' || p.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * Normalises an allow-list entry: an http(s) URL prefix without credentials, query or fragment, whose
 * path ends with `/` (`https://hooks.example.com` → `https://hooks.example.com/`), so that a prefix never
 * matches a longer host name (`https://hooks.example.com.evil.test/`) or a sibling path (`/team-a` vs `/team-ab`).
 */
export function normalizeAllowPrefix(prefix: string): string {
  let u: URL;
  try {
    u = new URL(prefix);
  } catch {
    throw new ReceiversError(`"${prefix}" is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ReceiversError(`"${prefix}" is not an http:// or https:// URL`);
  if (u.username || u.password) throw new ReceiversError(`"${prefix}" must not carry credentials`);
  if (u.search || u.hash) throw new ReceiversError(`"${prefix}" must not have a query or fragment`);
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u.href;
}

/** Why a raw webhook URL in a rule is refused, or undefined when it is allowed by `allowlist` (normalised prefixes). */
export function rawWebhookProblem(url: unknown, allowlist: readonly string[]): string | undefined {
  if (typeof url !== 'string' || !isHttpUrl(url)) return 'must be an http:// or https:// URL';
  const u = new URL(url);
  if (u.username || u.password) return 'must not carry credentials (define a receiver in ALERTING_RECEIVERS_FILE)';
  if (u.hash) return 'must not have a fragment';
  const href = u.href;
  const withSlash = u.pathname.endsWith('/') ? href : `${u.origin}${u.pathname}/${u.search}`;
  if (allowlist.some((p) => href.startsWith(p) || withSlash === p)) return undefined;
  return allowlist.length === 0
    ? 'is not allowed: name a receiver from ALERTING_RECEIVERS_FILE in "receivers" (raw URLs need ALERTING_WEBHOOK_ALLOWLIST)'
    : 'is not allowed: it matches no ALERTING_WEBHOOK_ALLOWLIST prefix (or name a receiver in "receivers")';
}
