/**
 * Outgoing webhook POSTs that cannot be turned against the network they run in (docs/security.md "Webhooks"):
 * the host name is resolved here, every address it resolves to is checked (libs/alerting `classifyAddress`),
 * and the socket connects to the checked address — no second lookup, so no DNS rebinding between check and
 * connect. Loopback, private, link-local (cloud metadata), unspecified and other non-public addresses are
 * refused unless the receiver allows private targets. Redirects are never followed (a 3xx is an answer).
 */
import * as dns from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import type { LookupFunction } from 'node:net';
import { classifyAddress } from '@tidemark/alerting';

export class BlockedAddressError extends Error {}

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Loopback / private / link-local targets allowed (a receiver's `allowPrivate`). */
  allowPrivate: boolean;
}

type Resolve = (host: string) => Promise<{ address: string; family: number }[]>;

const systemResolve: Resolve = (host) => dns.promises.lookup(host, { all: true, verbatim: true });

/** The addresses to connect to, all checked; throws BlockedAddressError naming the first refused one. */
export async function checkedAddresses(hostname: string, allowPrivate: boolean, resolve: Resolve = systemResolve): Promise<{ address: string; family: number }[]> {
  const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  const literal = classifyAddress(host);
  const addresses = literal !== undefined ? [{ address: host, family: host.includes(':') ? 6 : 4 }] : await resolve(host);
  if (addresses.length === 0) throw new Error(`${host} resolves to no address`);
  if (!allowPrivate) {
    for (const a of addresses) {
      const cls = classifyAddress(a.address) ?? 'unparseable';
      if (cls !== 'public') {
        throw new BlockedAddressError(`${host} resolves to ${a.address} (${cls}); refused (the receiver does not allow private targets)`);
      }
    }
  }
  return addresses;
}

/** POSTs once; resolves with the HTTP status (the body is read and dropped). */
export async function postWebhook(req: WebhookRequest, resolve: Resolve = systemResolve): Promise<number> {
  const url = new URL(req.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BlockedAddressError(`${url.protocol} is not http(s)`);
  const addresses = await checkedAddresses(url.hostname, req.allowPrivate, resolve);
  const pinned = addresses[0];
  // Node calls this instead of DNS: it hands out the address checked above (a host literal skips it).
  const lookup: LookupFunction = (_host, options, callback) => {
    if ((options as dns.LookupOptions).all) (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
  const auth = url.username || url.password ? { Authorization: `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}` } : {};
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise<number>((resolvePromise, reject) => {
    const request = mod.request(
      {
        protocol: url.protocol,
        hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: { ...auth, ...req.headers, 'content-length': String(Buffer.byteLength(req.body)) },
        lookup,
        agent: false,
        timeout: req.timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolvePromise(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    const timer = setTimeout(() => request.destroy(new Error(`no answer within ${req.timeoutMs} ms`)), req.timeoutMs);
    request.on('close', () => clearTimeout(timer));
    request.on('timeout', () => request.destroy(new Error(`no answer within ${req.timeoutMs} ms`)));
    request.on('error', reject);
    request.end(req.body);
  });
}
