import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** the lowest port handed out, clear of the well-known and registered ports most services use */
const LOWEST = 10_000;
const TRIES = 50;

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for a server the
 * caller starts next (embedded FerretDB and Redis, test and bench
 * instances).
 *
 * It is picked at random below the kernel's ephemeral range
 * (`ip_local_port_range`), where outgoing connections take their local
 * ports: a port the kernel picks itself (listen on 0) comes from that range,
 * and one of the many client sockets a test or the bench opens could take
 * it before the server binds it (seen: EADDRINUSE when a bench target
 * started). Another process can still bind it first, which callers accept
 * for throwaway local servers; where the range cannot be read (not Linux),
 * the kernel picks.
 */
export async function freePort(): Promise<number> {
  const below = ephemeralStart();
  if (below !== undefined && below - LOWEST >= 1000) {
    for (let i = 0; i < TRIES; i++) {
      const port = LOWEST + Math.floor(Math.random() * (below - LOWEST));
      if (await bindable(port)) return port;
    }
  }
  return listenOnce(0);
}

/** The first port of the kernel's ephemeral range, if it can be read. */
function ephemeralStart(): number | undefined {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > 0 ? first : undefined;
  } catch {
    return undefined;
  }
}

async function bindable(port: number): Promise<boolean> {
  try {
    await listenOnce(port);
    return true;
  } catch {
    return false;
  }
}

/** Listens on `port` (0: any) on 127.0.0.1, closes, and answers the port it had. */
function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : 0;
      server.close((err) => (err ? reject(err) : bound > 0 ? resolve(bound) : reject(new Error('no port assigned'))));
    });
  });
}
