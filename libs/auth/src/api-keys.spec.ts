import fc from 'fast-check';
import { ApiKeyError, ApiKeyRing, bearerToken, isLoopbackHost, keyFileEntries, parseApiKeys } from './api-keys';

const K = { ingest: 'ingest-secret-0001', read: 'read-secret-000002', admin: 'admin-secret-00003' };
const ring = () => new ApiKeyRing(parseApiKeys([`ingest:${K.ingest}`, `read:${K.read}`, `admin+read:${K.admin}`], 'API_KEYS'));

describe('parseApiKeys', () => {
  it('reads scopes and keeps only digests', () => {
    const keys = parseApiKeys([' ingest+read:abcdefghijklmnop '], 'API_KEYS');
    expect([...keys[0].scopes]).toEqual(['ingest', 'read']);
    expect(keys[0].digest).toHaveLength(32);
    expect(JSON.stringify(keys)).not.toContain('abcdefghijklmnop');
  });

  it.each([
    ['nocolon', /not <scope>/],
    [':abcdefghijklmnop', /not <scope>/],
    ['root:abcdefghijklmnop', /unknown scope "root"/],
    ['read+write:abcdefghijklmnop', /unknown scope "write"/],
    ['read:short', /shorter than 16/],
    ['read:abcdefgh ijklmnop', /white space/],
  ])('refuses %s without showing the secret', (entry, why) => {
    let error: unknown;
    try {
      parseApiKeys([entry], 'API_KEYS');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiKeyError);
    expect((error as Error).message).toMatch(why);
    expect((error as Error).message).toMatch(/API_KEYS entry 1/);
    expect((error as Error).message).not.toContain('ijklmnop');
  });

  it('refuses a secret given twice', () => {
    expect(() => parseApiKeys(['read:abcdefghijklmnop', 'admin:abcdefghijklmnop'], 'F')).toThrow(/F entry 2 repeats/);
  });

  it('reads a keys file: one entry a line, comments and blank lines skipped', () => {
    expect(keyFileEntries('# keys\r\ningest:abcdefghijklmnop\n\n  read:bcdefghijklmnopq  \n')).toEqual(['ingest:abcdefghijklmnop', 'read:bcdefghijklmnopq']);
  });
});

describe('ApiKeyRing', () => {
  it('401 without a key or with an unknown one, 403 without the scope, ok with it', () => {
    const r = ring();
    expect(r.authorize(undefined, 'read')).toMatchObject({ ok: false, status: 401 });
    expect(r.authorize('not-a-key-at-all-x', 'read')).toMatchObject({ ok: false, status: 401, reason: 'unknown API key' });
    expect(r.authorize(K.ingest, 'read')).toMatchObject({ ok: false, status: 403 });
    expect(r.authorize(K.read, 'admin')).toMatchObject({ ok: false, status: 403 });
    expect(r.authorize(K.ingest, 'ingest')).toMatchObject({ ok: true });
    expect(r.authorize(K.admin, 'admin')).toMatchObject({ ok: true });
    expect(r.authorize(K.admin, 'read')).toMatchObject({ ok: true });
    expect(r.authorize(K.admin, 'ingest')).toMatchObject({ ok: false, status: 403 });
    expect(r.authorizeHeader(`Bearer ${K.read}`, 'read')).toMatchObject({ ok: true });
    expect(r.authorizeHeader(`bearer   ${K.read}`, 'read')).toMatchObject({ ok: true });
    expect(r.authorizeHeader(`Basic ${K.read}`, 'read')).toMatchObject({ ok: false, status: 401 });
  });

  it('is open when no keys are configured', () => {
    expect(new ApiKeyRing([]).enabled).toBe(false);
    expect(new ApiKeyRing([]).authorize(undefined, 'admin')).toMatchObject({ ok: true });
  });

  it('never takes a prefix, a suffix or a near miss for a key (property)', () => {
    const r = ring();
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        fc.pre(!Object.values(K).includes(s));
        expect(r.find(s)).toBeUndefined();
      }),
    );
    expect(r.find(K.read.slice(0, -1))).toBeUndefined();
    expect(r.find(`${K.read}x`)).toBeUndefined();
  });

  it('bearerToken reads only the Bearer scheme', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('Bearer')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.5', false],
    ['example.com', false],
  ])('%s → %s', (host, loopback) => expect(isLoopbackHost(host)).toBe(loopback));
});
