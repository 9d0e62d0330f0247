/**
 * Transport security settings of the services' own NATS and Redis connections (docs/security.md "Transport"):
 * parsed and checked once at boot, with the files they name checked to exist and be readable. Secrets stay out
 * of every message: `redactUrl` is what logs, errors and /health/ready show of a URL.
 */
import * as fs from 'node:fs';

/** How a service authenticates to NATS: at most one method. */
export type NatsAuth =
  | { kind: 'none' }
  | { kind: 'userPassword'; user: string; password: string }
  | { kind: 'token'; token: string }
  | { kind: 'nkey'; seedFile: string }
  | { kind: 'creds'; credsFile: string };

/** CA to trust, and a client certificate and key (both or neither), as file paths. */
export interface TlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

export interface NatsSecurity {
  auth: NatsAuth;
  /** Undefined: TLS only if the URL says `tls://` or the server requires it. */
  tls?: TlsFiles;
}

type Env = Record<string, string | undefined>;

/** An error naming the variable at fault (converted to ConfigError by config.ts). */
export class TransportSettingError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
  }
}

const val = (env: Env, name: string): string | undefined => {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
};

/** A file that exists, is a regular file, is readable and not empty; returns its path. */
export function readableFile(name: string, file: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new TransportSettingError(name, `file "${file}" does not exist`);
  }
  if (!stat.isFile()) throw new TransportSettingError(name, `"${file}" is not a regular file`);
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch {
    throw new TransportSettingError(name, `file "${file}" is not readable`);
  }
  if (stat.size === 0) throw new TransportSettingError(name, `file "${file}" is empty`);
  return file;
}

function tlsFiles(env: Env, prefix: string): TlsFiles | undefined {
  const caFile = val(env, `${prefix}_CA_FILE`);
  const certFile = val(env, `${prefix}_CERT_FILE`);
  const keyFile = val(env, `${prefix}_KEY_FILE`);
  if (!caFile && !certFile && !keyFile) return undefined;
  if (!!certFile !== !!keyFile) {
    const missing = certFile ? `${prefix}_KEY_FILE` : `${prefix}_CERT_FILE`;
    throw new TransportSettingError(missing, `is required with ${certFile ? `${prefix}_CERT_FILE` : `${prefix}_KEY_FILE`} (a client certificate needs its key)`);
  }
  const tls: TlsFiles = {};
  if (caFile) tls.caFile = readableFile(`${prefix}_CA_FILE`, caFile);
  if (certFile) tls.certFile = readableFile(`${prefix}_CERT_FILE`, certFile);
  if (keyFile) tls.keyFile = readableFile(`${prefix}_KEY_FILE`, keyFile);
  return tls;
}

/**
 * NATS_URL — one server or a comma-separated list of a cluster's servers — without its credentials, plus how
 * to authenticate: user/password (NATS_USER + NATS_PASSWORD, or in the URL), NATS_TOKEN, NATS_NKEY_SEED_FILE
 * or NATS_CREDS_FILE — one of them — and NATS_TLS_* files. Credentials may be in one URL of the list or in
 * several, then the same in each. `url` is the list without credentials (safe to log), `servers` its entries.
 */
export function natsSecurity(env: Env, natsUrl: string): { url: string; servers: string[]; security: NatsSecurity } {
  const methods: { variable: string; auth: NatsAuth }[] = [];
  const servers: string[] = [];
  let inUrl: { user: string; password: string; at: string } | undefined;
  for (const entry of natsUrl.split(',').map((x) => x.trim())) {
    const u = new URL(entry);
    if (u.username || u.password) {
      if (!u.username || !u.password) throw new TransportSettingError('NATS_URL', `credentials in the URL need both a user and a password (nats://user:password@host:port); ${redactUrl(entry)} has only one`);
      const creds = { user: decodeURIComponent(u.username), password: decodeURIComponent(u.password), at: redactUrl(entry) };
      if (inUrl && (inUrl.user !== creds.user || inUrl.password !== creds.password)) {
        throw new TransportSettingError('NATS_URL', `servers ${inUrl.at} and ${creds.at} carry different credentials: give them once (in one URL, or NATS_USER/NATS_PASSWORD)`);
      }
      inUrl ??= creds;
      u.username = '';
      u.password = '';
    }
    servers.push(stripTrailingSlash(u.href));
  }
  if (inUrl) methods.push({ variable: 'NATS_URL', auth: { kind: 'userPassword', user: inUrl.user, password: inUrl.password } });
  const user = val(env, 'NATS_USER');
  const password = val(env, 'NATS_PASSWORD');
  if (user || password) {
    if (!user || !password) throw new TransportSettingError(user ? 'NATS_PASSWORD' : 'NATS_USER', `is required with ${user ? 'NATS_USER' : 'NATS_PASSWORD'}`);
    methods.push({ variable: 'NATS_USER', auth: { kind: 'userPassword', user, password } });
  }
  const token = val(env, 'NATS_TOKEN');
  if (token) methods.push({ variable: 'NATS_TOKEN', auth: { kind: 'token', token } });
  const seed = val(env, 'NATS_NKEY_SEED_FILE');
  if (seed) {
    readableFile('NATS_NKEY_SEED_FILE', seed);
    if (!/^\s*SU[A-Z2-7]{50,}\s*$/.test(fs.readFileSync(seed, 'utf8'))) {
      throw new TransportSettingError('NATS_NKEY_SEED_FILE', `"${seed}" does not hold a user nkey seed (one line starting with SU)`);
    }
    methods.push({ variable: 'NATS_NKEY_SEED_FILE', auth: { kind: 'nkey', seedFile: seed } });
  }
  const creds = val(env, 'NATS_CREDS_FILE');
  if (creds) {
    readableFile('NATS_CREDS_FILE', creds);
    const text = fs.readFileSync(creds, 'utf8');
    if (!text.includes('BEGIN NATS USER JWT') || !text.includes('BEGIN USER NKEY SEED')) {
      throw new TransportSettingError('NATS_CREDS_FILE', `"${creds}" is not a NATS creds file (a user JWT and its nkey seed)`);
    }
    methods.push({ variable: 'NATS_CREDS_FILE', auth: { kind: 'creds', credsFile: creds } });
  }
  if (methods.length > 1) {
    throw new TransportSettingError(methods[1].variable, `only one NATS authentication method at a time; also set: ${methods.map((m) => m.variable).join(', ')}`);
  }
  const tls = tlsFiles(env, 'NATS_TLS');
  return { url: servers.join(','), servers, security: { auth: methods[0]?.auth ?? { kind: 'none' }, ...(tls ? { tls } : {}) } };
}

/** REDIS_TLS_* files: only with a `rediss://` REDIS_URL. */
export function redisTls(env: Env, redisUrl: string): TlsFiles | undefined {
  const tls = tlsFiles(env, 'REDIS_TLS');
  if (tls && new URL(redisUrl).protocol !== 'rediss:') {
    const name = tls.caFile ? 'REDIS_TLS_CA_FILE' : 'REDIS_TLS_CERT_FILE';
    throw new TransportSettingError(name, 'needs a rediss:// REDIS_URL (TLS)');
  }
  return tls;
}

/** `nats://127.0.0.1:4222/` → `nats://127.0.0.1:4222`, as users write it. */
function stripTrailingSlash(href: string): string {
  return href.endsWith('/') && new URL(href).pathname === '/' ? href.slice(0, -1) : href;
}

/**
 * A URL fit for a log line or a health report: the password (and a lone user, which may be a token) replaced
 * by `***`, query string dropped. Anything that does not parse as a URL is shown as `<unparseable URL>`.
 */
export function redactUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return '<unparseable URL>';
  }
  if (u.password) u.password = '***';
  else if (u.username) u.username = '***';
  if (u.search) u.search = '';
  u.hash = '';
  return stripTrailingSlash(u.href);
}

/** A comma-separated list of URLs (REDIS_URL's seed nodes in cluster mode), each redacted. */
export function redactUrlList(raw: string): string {
  return raw
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '')
    .map(redactUrl)
    .join(',');
}

/** Replaces every URL with credentials inside a free text (e.g. a driver's error message) by its redacted form. */
export function redactUrlsIn(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]*@[^\s"'<>]*/gi, (m) => redactUrl(m));
}
