/**
 * A TCP proxy on loopback in front of a server (the database), which can
 * stop passing on what its clients send: a database that stops answering,
 * without stopping the one the other tests share. What arrives while it is
 * stalled is held, in order, and passed on when it resumes.
 */
import { type Server, type Socket, connect, createServer } from 'node:net';

export interface StallProxy {
  /** the upstream URL with this proxy's host and port */
  url: string;
  stall(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startStallProxy(upstreamUrl: string): Promise<StallProxy> {
  const upstream = new URL(upstreamUrl);
  let stalled = false;
  /** per connection: sends what it was given, or holds it while stalled */
  const pipes = new Set<{ flush(): void; destroy(): void }>();

  const server: Server = createServer((client: Socket) => {
    const toServer = connect(Number(upstream.port), upstream.hostname);
    const held: Buffer[] = [];
    const pipe = {
      flush() {
        for (const chunk of held.splice(0)) toServer.write(chunk);
      },
      destroy() {
        client.destroy();
        toServer.destroy();
      },
    };
    pipes.add(pipe);
    client.on('data', (chunk) => (stalled ? held.push(chunk) : toServer.write(chunk)));
    toServer.on('data', (chunk) => client.write(chunk));
    for (const s of [client, toServer]) {
      s.on('error', () => pipe.destroy());
      s.on('close', () => {
        pipe.destroy();
        pipes.delete(pipe);
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = new URL(upstreamUrl);
  url.host = `127.0.0.1:${port}`;

  return {
    url: url.toString(),
    stall: () => {
      stalled = true;
    },
    resume: () => {
      stalled = false;
      for (const p of pipes) p.flush();
    },
    close: async () => {
      for (const p of pipes) p.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
