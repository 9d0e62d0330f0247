import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, loadConfig } from './config';
import { redactUrl, redactUrlsIn } from './transport';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidemark-transport-spec-'));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
};
const SEED = 'SUAGMJH5XLGZKQQWAWKRZJIGMOU4HPFUYLXJMXOO5NLFEO2OOQJ5LPRDPM';
const seedFile = file('user.nk', SEED + '\n');
const credsFile = file('user.creds', '-----BEGIN NATS USER JWT-----\neyJ0\n------END NATS USER JWT------\n-----BEGIN USER NKEY SEED-----\n' + SEED + '\n------END USER NKEY SEED------\n');
const ca = file('ca.pem', '-----BEGIN CERTIFICATE-----\n');
const cert = file('cert.pem', '-----BEGIN CERTIFICATE-----\n');
const key = file('key.pem', '-----BEGIN PRIVATE KEY-----\n');
const empty = file('empty', '');

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const failsWith = (env: Record<string, string>, variable: string, reason?: RegExp) => {
  let error: unknown;
  try {
    loadConfig(env);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).variable).toBe(variable);
  if (reason) expect((error as Error).message).toMatch(reason);
  return (error as Error).message;
};

describe('NATS credentials and TLS (config)', () => {
  it('uses no credentials by default', () => {
    expect(loadConfig({}).nats).toEqual({ auth: { kind: 'none' } });
  });

  it('moves user and password out of NATS_URL (decoded), leaving a URL safe to log', () => {
    const c = loadConfig({ NATS_URL: 'nats://ingestion:p%40ss%3Aw0rd@nats.internal:4222' });
    expect(c.natsUrl).toBe('nats://nats.internal:4222');
    expect(c.nats.auth).toEqual({ kind: 'userPassword', user: 'ingestion', password: 'p@ss:w0rd' });
  });

  it('reads NATS_USER + NATS_PASSWORD, NATS_TOKEN, NATS_NKEY_SEED_FILE and NATS_CREDS_FILE', () => {
    expect(loadConfig({ NATS_USER: 'dedup', NATS_PASSWORD: 'pw' }).nats.auth).toEqual({ kind: 'userPassword', user: 'dedup', password: 'pw' });
    expect(loadConfig({ NATS_TOKEN: 't0k' }).nats.auth).toEqual({ kind: 'token', token: 't0k' });
    expect(loadConfig({ NATS_NKEY_SEED_FILE: seedFile }).nats.auth).toEqual({ kind: 'nkey', seedFile });
    expect(loadConfig({ NATS_CREDS_FILE: credsFile }).nats.auth).toEqual({ kind: 'creds', credsFile });
  });

  it('refuses half a user/password pair and URL credentials without a password', () => {
    failsWith({ NATS_USER: 'dedup' }, 'NATS_PASSWORD');
    failsWith({ NATS_PASSWORD: 'pw' }, 'NATS_USER');
    failsWith({ NATS_URL: 'nats://dedup@127.0.0.1:4222' }, 'NATS_URL');
  });

  it.each([
    [{ NATS_URL: 'nats://a:b@127.0.0.1:4222', NATS_TOKEN: 't' }, 'NATS_TOKEN'],
    [{ NATS_USER: 'a', NATS_PASSWORD: 'b', NATS_NKEY_SEED_FILE: seedFile }, 'NATS_NKEY_SEED_FILE'],
    [{ NATS_TOKEN: 't', NATS_CREDS_FILE: credsFile }, 'NATS_CREDS_FILE'],
    [{ NATS_NKEY_SEED_FILE: seedFile, NATS_CREDS_FILE: credsFile }, 'NATS_CREDS_FILE'],
  ])('allows one authentication method at a time: %j', (env, variable) => {
    expect(failsWith(env, variable, /only one NATS authentication method/)).not.toMatch(/\bb\b|\bt\b/);
  });

  it('checks the files: present, readable, not empty, and of the right kind', () => {
    failsWith({ NATS_NKEY_SEED_FILE: path.join(dir, 'missing') }, 'NATS_NKEY_SEED_FILE', /does not exist/);
    failsWith({ NATS_NKEY_SEED_FILE: dir }, 'NATS_NKEY_SEED_FILE', /not a regular file/);
    failsWith({ NATS_NKEY_SEED_FILE: empty }, 'NATS_NKEY_SEED_FILE', /empty/);
    failsWith({ NATS_NKEY_SEED_FILE: ca }, 'NATS_NKEY_SEED_FILE', /user nkey seed/);
    failsWith({ NATS_CREDS_FILE: seedFile }, 'NATS_CREDS_FILE', /not a NATS creds file/);
    failsWith({ NATS_TLS_CA_FILE: path.join(dir, 'nope.pem') }, 'NATS_TLS_CA_FILE', /does not exist/);
    if (process.getuid?.() !== 0) {
      const unreadable = file('unreadable', 'x');
      fs.chmodSync(unreadable, 0o000);
      failsWith({ NATS_TLS_CA_FILE: unreadable }, 'NATS_TLS_CA_FILE', /not readable/);
    }
  });

  it('takes a CA alone, or a client certificate with its key', () => {
    expect(loadConfig({ NATS_TLS_CA_FILE: ca }).nats.tls).toEqual({ caFile: ca });
    expect(loadConfig({ NATS_TLS_CA_FILE: ca, NATS_TLS_CERT_FILE: cert, NATS_TLS_KEY_FILE: key }).nats.tls).toEqual({ caFile: ca, certFile: cert, keyFile: key });
    failsWith({ NATS_TLS_CERT_FILE: cert }, 'NATS_TLS_KEY_FILE');
    failsWith({ NATS_TLS_KEY_FILE: key }, 'NATS_TLS_CERT_FILE');
  });
});

describe('Redis TLS (config)', () => {
  it('keeps REDIS_URL with its credentials for the driver, and takes REDIS_TLS_* only with rediss://', () => {
    const c = loadConfig({ REDIS_URL: 'rediss://tidemark:secret@redis.internal:6380', REDIS_TLS_CA_FILE: ca });
    expect(c.redisUrl).toBe('rediss://tidemark:secret@redis.internal:6380');
    expect(c.redisTls).toEqual({ caFile: ca });
    expect(loadConfig({}).redisTls).toBeUndefined();
    failsWith({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_TLS_CA_FILE: ca }, 'REDIS_TLS_CA_FILE', /rediss:\/\//);
    failsWith({ REDIS_URL: 'rediss://h:6380', REDIS_TLS_CERT_FILE: cert }, 'REDIS_TLS_KEY_FILE');
  });
});

describe('redactUrl', () => {
  it.each([
    ['redis://tidemark:s3cret@redis:6379/0', 'redis://tidemark:***@redis:6379/0'],
    ['rediss://:s3cret@redis:6380', 'rediss://:***@redis:6380'],
    ['nats://t0ken@nats:4222', 'nats://***@nats:4222'],
    ['nats://nats:4222', 'nats://nats:4222'],
    ['https://user:pw@hooks.example.com/x?token=abc#frag', 'https://user:***@hooks.example.com/x'],
    ['not a url', '<unparseable URL>'],
  ])('%s → %s', (input, output) => {
    expect(redactUrl(input)).toBe(output);
  });

  it('redacts URLs inside free text', () => {
    expect(redactUrlsIn('connect ECONNREFUSED redis://u:pw@10.0.0.1:6379 (retrying)')).toBe('connect ECONNREFUSED redis://u:***@10.0.0.1:6379 (retrying)');
    expect(redactUrlsIn('no url here')).toBe('no url here');
  });
});

describe('NATS_URL with several servers (a cluster)', () => {
  it('gives the client every server, credentials-free, in order', () => {
    const c = loadConfig({ NATS_URL: 'nats://a:4222, nats://b:4223 ,tls://c:4224' });
    expect(c.natsServers).toEqual(['nats://a:4222', 'nats://b:4223', 'tls://c:4224']);
    expect(c.natsUrl).toBe('nats://a:4222,nats://b:4223,tls://c:4224');
    expect(c.nats.auth).toEqual({ kind: 'none' });
    expect(loadConfig({}).natsServers).toEqual(['nats://127.0.0.1:4222']);
  });

  it('takes credentials from one URL of the list, or the same ones from several', () => {
    const one = loadConfig({ NATS_URL: 'nats://a:4222,nats://svc:s3cret@b:4222,nats://c:4222' });
    expect(one.nats.auth).toEqual({ kind: 'userPassword', user: 'svc', password: 's3cret' });
    expect(one.natsUrl).toBe('nats://a:4222,nats://b:4222,nats://c:4222');
    expect(one.natsUrl).not.toContain('s3cret');
    const all = loadConfig({ NATS_URL: 'nats://svc:s3cret@a:4222,nats://svc:s3cret@b:4222' });
    expect(all.nats.auth).toEqual({ kind: 'userPassword', user: 'svc', password: 's3cret' });
    expect(all.natsServers).toEqual(['nats://a:4222', 'nats://b:4222']);
  });

  it('refuses different credentials in two URLs, without showing either password', () => {
    const msg = failsWith({ NATS_URL: 'nats://svc:one1@a:4222,nats://svc:two2@b:4222' }, 'NATS_URL', /different credentials/);
    expect(msg).not.toMatch(/one1|two2/);
    failsWith({ NATS_URL: 'nats://svc:pw@a:4222,nats://other:pw@b:4222' }, 'NATS_URL', /different credentials/);
  });

  it('credentials in a URL of the list and NATS_USER/NATS_TOKEN: only one method', () => {
    failsWith({ NATS_URL: 'nats://a:4222,nats://svc:pw@b:4222', NATS_TOKEN: 't' }, 'NATS_TOKEN', /only one NATS authentication method/);
  });

  it.each([
    ['nats://a:4222,,nats://b:4222', /server 2 of 3: empty entry/],
    ['nats://a:4222,', /server 2 of 2: empty entry/],
    ['nats://a:4222,http://b:4222', /server 2 of 2: "http:\/\/b:4222" must use nats:\/\//],
    ['nats://a:4222,not a url', /server 2 of 2: "not a url" is not a URL/],
    ['nats://a:4222,nats://a:4222', /a:4222 is listed twice/],
    ['nats://a:4222,nats://user@b:4222', /need both a user and a password/],
  ])('refuses %s, naming NATS_URL and the entry', (NATS_URL, reason) => {
    failsWith({ NATS_URL }, 'NATS_URL', reason);
  });

  it('a bad entry with a password is shown redacted', () => {
    const msg = failsWith({ NATS_URL: 'nats://a:4222,http://u:hunter2@b:4222' }, 'NATS_URL');
    expect(msg).not.toContain('hunter2');
  });
});

describe('JETSTREAM_REPLICAS and JETSTREAM_PROVISION', () => {
  it('default to 1 replica and auto provisioning', () => {
    expect(loadConfig({}).jetstream).toEqual({ replicas: 1, provision: 'auto' });
    expect(loadConfig({ JETSTREAM_REPLICAS: '3', JETSTREAM_PROVISION: 'off' }).jetstream).toEqual({ replicas: 3, provision: 'off' });
    expect(loadConfig({ JETSTREAM_REPLICAS: '5' }).jetstream.replicas).toBe(5);
  });

  it.each([
    [{ JETSTREAM_REPLICAS: '0' }, 'JETSTREAM_REPLICAS', /0 is outside 1\.\.5/],
    [{ JETSTREAM_REPLICAS: '6' }, 'JETSTREAM_REPLICAS', /6 is outside 1\.\.5/],
    [{ JETSTREAM_REPLICAS: 'three' }, 'JETSTREAM_REPLICAS', /not a whole number/],
    [{ JETSTREAM_REPLICAS: '2.5' }, 'JETSTREAM_REPLICAS', /not a whole number/],
    [{ JETSTREAM_PROVISION: 'create' }, 'JETSTREAM_PROVISION', /"create" is not one of auto, off/],
  ])('refuses %j naming the variable', (env, variable, reason) => {
    failsWith(env as Record<string, string>, variable, reason);
  });
});
