/**
 * What the two baseline relays (R0, R1) share: an HTTP server with
 * `/health/ready`, a bare `ws` server speaking just enough of the wire format
 * for the SDK (`ImClient`) to drive it exactly as it drives the service, and
 * the server-side heartbeat. No validation beyond what routing needs, no
 * storage, no business logic: the relays differ only in what `onSend` does.
 *
 * Accounts come from the token itself: `<pair>-v` is the visitor of session
 * `<pair>`, `<pair>-a` its agent, and each one's peer is the other side.
 * Seqs are counted per sender (in memory, on the sender's instance): each
 * client receives only its peer's messages, so that single counter is the
 * contiguous seq run the SDK expects. No seq claims, so nothing is shared.
 */
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import type { MsgFrame, ReadyFrame, SentFrame } from '../../src/protocol/frames.js';

export interface Account {
  id: string;
  kind: 'visitor' | 'agent';
  sid: string;
  peerId: string;
}

/** One `send`, numbered, with both answers already built. */
export interface InboundSend {
  from: Account;
  sid: string;
  cid: string;
  text: string;
  seq: number;
  ts: number;
  /** the `sent` frame for the sender */
  sent: string;
  /** the `msg` frame for the peer */
  msg: string;
  /** writes a frame to the sending connection, if it is still open */
  reply(frame: string): void;
}

export interface RelayOptions {
  port: number;
  heartbeatMs: number;
  onSend(send: InboundSend): void;
  /** the first connection of an account on this process opened (true) or its last one closed (false) */
  onAccount?(accountId: string, present: boolean): Promise<void>;
  /** answers /health/ready with 503 until this resolves */
  ready?: Promise<void>;
}

export interface Relay {
  /** writes a frame to every connection of the account on this process */
  deliver(accountId: string, frame: string): void;
  close(): Promise<void>;
}

export function parseToken(token: string): Account | undefined {
  const m = /^(.+)-([va])$/.exec(token);
  if (!m) return undefined;
  const [, sid, side] = m as unknown as [string, string, 'v' | 'a'];
  return { id: token, kind: side === 'v' ? 'visitor' : 'agent', sid, peerId: `${sid}-${side === 'v' ? 'a' : 'v'}` };
}

interface Conn {
  ws: WebSocket;
  account: Account | undefined;
  lastHeard: number;
}

export function startRelay(opts: RelayOptions): Relay {
  const byAccount = new Map<string, Set<Conn>>();
  const all = new Set<Conn>();
  /** next seq per sending account: survives the sender's reconnects to this process */
  const seqs = new Map<string, number>();
  let isReady = opts.ready === undefined;
  void opts.ready?.then(() => (isReady = true));

  const http = createServer((req, res) => {
    res.writeHead(req.url === '/health/ready' && isReady ? 200 : 503).end();
  });
  const wss = new WebSocketServer({ server: http, path: '/ws' });
  const write = (conn: Conn, frame: string) => {
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(frame);
  };

  const auth = async (conn: Conn, token: unknown) => {
    const account = typeof token === 'string' ? parseToken(token) : undefined;
    if (!account) return conn.ws.close(4001, 'invalid token');
    conn.account = account;
    let conns = byAccount.get(account.id);
    if (!conns) {
      conns = new Set();
      byAccount.set(account.id, conns);
      await opts.onAccount?.(account.id, true);
    }
    conns.add(conn);
    const ready: ReadyFrame = {
      t: 'ready',
      account: { id: account.id, kind: account.kind, name: account.id, siteId: 'bench' },
      sessions: [{ id: account.sid, state: 'active', lastSeq: 0, readSeq: 0 }],
      heartbeatMs: opts.heartbeatMs,
    };
    write(conn, JSON.stringify(ready));
  };

  const send = (conn: Conn, from: Account, frame: Record<string, unknown>) => {
    const { sid, cid } = frame;
    const text = (frame.body as { text?: unknown } | undefined)?.text;
    if (typeof sid !== 'string' || typeof cid !== 'string' || typeof text !== 'string') {
      return write(conn, JSON.stringify({ t: 'error', code: 'bad_request', message: 'invalid send frame', ref: 'send' }));
    }
    if (sid !== from.sid) return write(conn, JSON.stringify({ t: 'error', code: 'forbidden', message: 'not your session', ref: 'send', sid, cid }));
    const seq = (seqs.get(from.id) ?? 0) + 1;
    seqs.set(from.id, seq);
    const ts = Date.now();
    const id = `${from.id}.${seq}`;
    const sent: SentFrame = { t: 'sent', sid, cid, id, seq, ts };
    const msg: MsgFrame = { t: 'msg', sid, seq, id, cid, from: { id: from.id, kind: from.kind, name: from.id }, type: 'chat', body: { text }, status: 'ok', ts };
    opts.onSend({ from, sid, cid, text, seq, ts, sent: JSON.stringify(sent), msg: JSON.stringify(msg), reply: (f) => write(conn, f) });
  };

  wss.on('connection', (ws) => {
    const conn: Conn = { ws, account: undefined, lastHeard: Date.now() };
    all.add(conn);
    ws.on('pong', () => (conn.lastHeard = Date.now()));
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      all.delete(conn);
      const account = conn.account;
      const conns = account && byAccount.get(account.id);
      if (account && conns?.delete(conn) && conns.size === 0) {
        byAccount.delete(account.id);
        void opts.onAccount?.(account.id, false);
      }
    });
    ws.on('message', (data) => {
      conn.lastHeard = Date.now();
      let frame: Record<string, unknown>;
      try {
        frame = JSON.parse(data.toString()) as Record<string, unknown>;
      } catch {
        return write(conn, JSON.stringify({ t: 'error', code: 'bad_request', message: 'frame is not valid JSON' }));
      }
      if (!conn.account) {
        if (frame.t !== 'auth') return ws.close(4001, 'the first frame must be auth');
        auth(conn, frame.token).catch(() => ws.close(1011, 'auth failed'));
        return;
      }
      switch (frame.t) {
        case 'send':
          return send(conn, conn.account, frame);
        case 'ping':
          return write(conn, '{"t":"pong"}');
        case 'sync':
          // nothing is kept: a client only syncs after a gap, which a relay never leaves
          return write(conn, JSON.stringify({ t: 'batch', sid: frame.sid, messages: [], more: false }));
        default:
          return; // ack, read, typing: nothing to do without storage
      }
    });
  });

  // The same heartbeat as the service's gateway: five sweeps an interval drop whoever was silent
  // for two intervals and ping whoever was for a whole one.
  const heartbeat = setInterval(() => {
    const now = Date.now();
    const deadline = now - 2 * opts.heartbeatMs;
    const quietSince = now - opts.heartbeatMs;
    for (const conn of all) {
      if (conn.lastHeard < deadline) conn.ws.terminate();
      else if (conn.lastHeard <= quietSince) conn.ws.ping();
    }
  }, opts.heartbeatMs / 5);

  http.listen(opts.port, '127.0.0.1');

  return {
    deliver(accountId, frame) {
      const conns = byAccount.get(accountId);
      if (conns) for (const conn of conns) write(conn, frame);
    },
    async close() {
      clearInterval(heartbeat);
      for (const conn of all) conn.ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => http.close(() => resolve())));
    },
  };
}

/** Reads the port and heartbeat the bench gives every target, and stops on SIGTERM. */
export function relayEnv(): { port: number; heartbeatMs: number } {
  const port = Number(process.env.PORT);
  const heartbeatS = Number(process.env.HEARTBEAT_SECONDS ?? 25);
  if (!Number.isInteger(port) || port <= 0 || !(heartbeatS > 0)) throw new Error('PORT and HEARTBEAT_SECONDS must be positive numbers');
  return { port, heartbeatMs: heartbeatS * 1000 };
}

export function closeOnSignal(close: () => Promise<void>): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      close().then(
        () => process.exit(0),
        (err: unknown) => {
          console.error(err);
          process.exit(1);
        },
      );
    });
  }
}
