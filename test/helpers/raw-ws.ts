/**
 * A raw WebSocket peer for protocol tests: sends frames as given (even
 * malformed ones) and lets the test wait for the frames it expects.
 */
import WebSocket from 'ws';

export interface RawPeer {
  ws: WebSocket;
  frames: any[];
  send(frame: unknown): void;
  /** Waits for the first not-yet-taken frame matching `match` (default 5 s). */
  next(match?: (f: any) => boolean, timeoutMs?: number): Promise<any>;
  /** Resolves with the close code. */
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

export async function rawPeer(wsUrl: string): Promise<RawPeer> {
  const ws = new WebSocket(wsUrl);
  const frames: any[] = [];
  const taken = new Set<number>();
  const waiters: Array<() => void> = [];
  ws.on('message', (data) => {
    try {
      frames.push(JSON.parse(data.toString()));
    } catch {
      frames.push({ t: '<unparsable>', data: data.toString() });
    }
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    frames,
    closed,
    send(frame) {
      ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    },
    async next(match = () => true, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = frames.findIndex((f, idx) => !taken.has(idx) && match(f));
        if (i >= 0) {
          taken.add(i);
          return frames[i];
        }
        const left = deadline - Date.now();
        if (left <= 0 || ws.readyState === WebSocket.CLOSED) {
          throw new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(frames.slice(-5))}`);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    close() {
      ws.close();
    },
  };
}

/** A raw peer that has authenticated; resolves with its `ready` frame. */
export async function authedPeer(wsUrl: string, token: string): Promise<RawPeer & { ready: any }> {
  const peer = await rawPeer(wsUrl);
  peer.send({ t: 'auth', token });
  const ready = await peer.next((f) => f.t === 'ready' || f.t === 'error');
  if (ready.t !== 'ready') throw new Error(`auth failed: ${JSON.stringify(ready)}`);
  return Object.assign(peer, { ready });
}
