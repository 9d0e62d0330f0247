/**
 * A free TCP port on loopback: bind port 0, read the port the kernel chose, release it.
 * Never returns the machine's own service ports (NATS 4222/6222/8222, Redis 6379).
 */
import * as net from 'node:net';

const RESERVED = new Set([4222, 6222, 8222, 6379]);

function bindZero(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}

/** A port free on `host` (default 127.0.0.1) right now. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await bindZero(host);
    if (port > 0 && !RESERVED.has(port)) return port;
  }
  throw new Error(`could not find a free port on ${host}`);
}
