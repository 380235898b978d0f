/**
 * A round-robin TCP load balancer on loopback, standing in for the one in
 * front of a real deployment: each new connection goes to the next backend
 * that accepts it, so clients of an instance that dies reconnect to another
 * one. No stickiness, as the service needs none.
 */
import { type Server, type Socket, connect, createServer } from 'node:net';

export interface Balancer {
  url: string;
  wsUrl: string;
  setBackends(ports: number[]): void;
  close(): Promise<void>;
}

export async function startBalancer(backends: number[]): Promise<Balancer> {
  let ports = [...backends];
  let next = 0;
  const sockets = new Set<Socket>();

  function track(s: Socket) {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  }

  function forward(client: Socket, tries: number) {
    if (tries >= ports.length || client.destroyed) {
      client.destroy();
      return;
    }
    const port = ports[next++ % ports.length]!;
    const upstream = connect({ host: '127.0.0.1', port });
    track(upstream);
    upstream.once('error', () => {
      if (!upstream.remoteAddress) forward(client, tries + 1); // refused: try the next backend
      else client.destroy();
    });
    upstream.once('connect', () => {
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('error', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  const server: Server = createServer((client) => {
    track(client);
    client.pause();
    forward(client, 0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    setBackends(list) {
      ports = [...list];
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
