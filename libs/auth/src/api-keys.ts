/**
 * API keys with scopes (docs/security.md). Pure: no framework, no I/O.
 *
 * An entry is `<scope>[+<scope>…]:<secret>`, e.g. `ingest:k1`, `admin+read:k3`; scopes are `ingest` (send
 * events), `read` (queries, recommendations, alerts, the dashboard's data, /metrics) and `admin` (rules,
 * silences). No scope implies another. Clients send `Authorization: Bearer <secret>` (HTTP, NATS request
 * headers) or `AUTH <secret>` as the first TCP line. Secrets are kept only as SHA-256 digests and compared
 * in constant time against every key, and never appear in an error or a log line.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export const SCOPES = ['ingest', 'read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Shortest secret accepted: a guessable key is no key. */
export const MIN_SECRET_LENGTH = 16;

export interface ApiKey {
  scopes: ReadonlySet<Scope>;
  /** SHA-256 of the secret. */
  digest: Buffer;
  /** Where it came from, for messages: `API_KEYS entry 2`. Never the secret. */
  label: string;
}

export class ApiKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApiKeyError';
  }
}

const digestOf = (secret: string): Buffer => createHash('sha256').update(secret, 'utf8').digest();

/** Parses entries (`<scope>[+<scope>…]:<secret>`); `source` names them in errors (`API_KEYS`, a file). */
export function parseApiKeys(entries: readonly string[], source: string): ApiKey[] {
  const keys: ApiKey[] = [];
  const seen = new Set<string>();
  entries.forEach((raw, i) => {
    const entry = raw.trim();
    const label = `${source} entry ${i + 1}`;
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new ApiKeyError(`${label} is not <scope>[+<scope>…]:<secret>`);
    const scopes = new Set<Scope>();
    for (const s of entry.slice(0, colon).split('+')) {
      if (!(SCOPES as readonly string[]).includes(s)) throw new ApiKeyError(`${label} has the unknown scope "${s.slice(0, 20)}" (scopes: ${SCOPES.join(', ')})`);
      scopes.add(s as Scope);
    }
    const secret = entry.slice(colon + 1);
    if (secret.length < MIN_SECRET_LENGTH) throw new ApiKeyError(`${label} has a secret shorter than ${MIN_SECRET_LENGTH} characters`);
    if (/\s/.test(secret)) throw new ApiKeyError(`${label} has white space in its secret`);
    const digest = digestOf(secret);
    const hex = digest.toString('hex');
    if (seen.has(hex)) throw new ApiKeyError(`${label} repeats the secret of an earlier entry`);
    seen.add(hex);
    keys.push({ scopes, digest, label });
  });
  return keys;
}

/** The entries of a keys file: one per line; blank lines and `#` comments skipped. */
export function keyFileEntries(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

export type AuthDecision = { ok: true; key: ApiKey } | { ok: false; status: 401 | 403; reason: string };

/** The secret of an `Authorization: Bearer <secret>` header value, or undefined. */
export function bearerToken(header: string | undefined | null): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}

export class ApiKeyRing {
  constructor(private readonly keys: readonly ApiKey[]) {}

  /** False when no keys are configured: everything is open (loopback, or AUTH=off). */
  get enabled(): boolean {
    return this.keys.length > 0;
  }

  /** Which key a secret is, comparing against every key in constant time. */
  find(secret: string | undefined): ApiKey | undefined {
    if (secret === undefined) return undefined;
    const d = digestOf(secret);
    let found: ApiKey | undefined;
    for (const k of this.keys) if (timingSafeEqual(k.digest, d) && !found) found = k;
    return found;
  }

  /** May a request with this secret do what `scope` allows? Open when no keys are configured. */
  authorize(secret: string | undefined, scope: Scope): AuthDecision {
    if (!this.enabled) return { ok: true, key: OPEN };
    if (secret === undefined) return { ok: false, status: 401, reason: 'an API key is required (Authorization: Bearer <key>)' };
    const key = this.find(secret);
    if (!key) return { ok: false, status: 401, reason: 'unknown API key' };
    if (!key.scopes.has(scope)) return { ok: false, status: 403, reason: `this API key lacks the "${scope}" scope` };
    return { ok: true, key };
  }

  /** `authorize` from an `Authorization` header value. */
  authorizeHeader(header: string | undefined | null, scope: Scope): AuthDecision {
    return this.authorize(bearerToken(header), scope);
  }
}

const OPEN: ApiKey = { scopes: new Set(SCOPES), digest: Buffer.alloc(32), label: 'open (no keys configured)' };

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** Route metadata key for the scope an HTTP route needs (`public` for none); read by the API key guard. */
export const SCOPE_METADATA = 'tidemark:scope';
