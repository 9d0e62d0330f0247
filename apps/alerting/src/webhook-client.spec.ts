import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BlockedAddressError, checkedAddresses, postWebhook } from './webhook-client';

const resolver = (table: Record<string, string[]>) => async (host: string) => (table[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

describe('webhook addresses, checked after resolution', () => {
  const resolve = resolver({
    'hooks.example.com': ['93.184.216.34', '2606:2800:220:1::1'],
    'mixed.example.com': ['93.184.216.34', '10.0.0.7'],
    'metadata.example.com': ['169.254.169.254'],
    'mapped.example.com': ['::ffff:127.0.0.1'],
  });

  it('accepts a host whose every address is public', async () => {
    expect((await checkedAddresses('hooks.example.com', false, resolve)).map((a) => a.address)).toEqual(['93.184.216.34', '2606:2800:220:1::1']);
  });

  it.each([
    ['mixed.example.com', /10\.0\.0\.7 \(private\)/],
    ['metadata.example.com', /169\.254\.169\.254 \(link-local\)/],
    ['mapped.example.com', /::ffff:127\.0\.0\.1 \(loopback\)/],
    ['127.0.0.1', /127\.0\.0\.1 \(loopback\)/],
    ['[::1]', /::1 \(loopback\)/],
    ['[fe80::1]', /link-local/],
    ['0.0.0.0', /unspecified/],
  ])('refuses %s', async (host, message) => {
    await expect(checkedAddresses(host, false, resolve)).rejects.toThrow(BlockedAddressError);
    await expect(checkedAddresses(host, false, resolve)).rejects.toThrow(message);
  });

  it('lets a receiver with allowPrivate reach private addresses, and fails a name without addresses', async () => {
    expect((await checkedAddresses('mixed.example.com', true, resolve)).length).toBe(2);
    await expect(checkedAddresses('nothing.example.com', true, resolve)).rejects.toThrow(/no address/);
  });
});

describe('postWebhook', () => {
  let server: http.Server;
  let port: number;
  const seen: { url?: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen.push({ url: req.url, headers: req.headers, body });
        if (req.url === '/moved') res.writeHead(301, { location: '/elsewhere' }).end();
        else res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('connects to the address it checked, whatever the name resolves to later (no rebinding)', async () => {
    let calls = 0;
    // First answer 127.0.0.1 (allowed here), then anything else: only one lookup is ever made.
    const rebinding = async () => (calls++ === 0 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '10.9.9.9', family: 4 }]);
    const status = await postWebhook({ url: `http://rebind.example.com:${port}/hook?x=1`, headers: { 'x-a': '1' }, body: '{"a":1}', timeoutMs: 2000, allowPrivate: true }, rebinding);
    expect(status).toBe(204);
    expect(calls).toBe(1);
    const last = seen[seen.length - 1];
    expect(last).toMatchObject({ url: '/hook?x=1', body: '{"a":1}' });
    expect(last.headers.host).toBe(`rebind.example.com:${port}`);
    expect(last.headers['x-a']).toBe('1');
  });

  it('refuses loopback without allowPrivate before any request', async () => {
    const before = seen.length;
    await expect(postWebhook({ url: `http://127.0.0.1:${port}/hook`, headers: {}, body: '{}', timeoutMs: 2000, allowPrivate: false })).rejects.toThrow(BlockedAddressError);
    await expect(postWebhook({ url: `http://2130706433:${port}/hook`, headers: {}, body: '{}', timeoutMs: 2000, allowPrivate: false })).rejects.toThrow(/loopback/);
    expect(seen.length).toBe(before);
  });

  it('does not follow a redirect: the 3xx is the answer', async () => {
    expect(await postWebhook({ url: `http://127.0.0.1:${port}/moved`, headers: {}, body: '{}', timeoutMs: 2000, allowPrivate: true })).toBe(301);
    expect(seen.some((s) => s.url === '/elsewhere')).toBe(false);
  });
});
