/**
 * The protocol SDK (`ImClient`) over real sockets, for integration tests,
 * with sockets a test can break on purpose:
 * - `mute()`: incoming frames are lost from now on (a network that silently
 *   stopped delivering: the server still stores what the client sends, but
 *   its answers and pushes never arrive);
 * - `kill()`: the TCP connection is dropped without a close handshake
 *   (`ws.terminate()`), so the client sees 1006 and reconnects by itself.
 */
import WebSocket from 'ws';
import { ImClient, type ImClientOptions, type MessageObject, type ReadyFrame, type WebSocketLike } from '../../src/client/index.js';
import { activeSession, api, type SiteFixture } from './api.js';
import type { Service } from './service.js';
import { waitFor } from './wait-for.js';

export class TestSocket implements WebSocketLike {
  readonly ws: WebSocket;
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;
  private muted = false;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('open', () => this.onopen?.({}));
    this.ws.on('message', (data, isBinary) => {
      if (!this.muted) this.onmessage?.({ data: isBinary ? data : data.toString() });
    });
    this.ws.on('close', (code, reason) => this.onclose?.({ code, reason: reason.toString() }));
    this.ws.on('error', (err) => this.onerror?.(err));
  }

  get readyState(): number {
    return this.ws.readyState;
  }

  send(data: string): void {
    this.ws.send(data);
  }

  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }

  mute(): void {
    this.muted = true;
  }

  kill(): void {
    this.ws.terminate();
  }
}

export interface SdkClient {
  client: ImClient;
  /** every message handed to the app, in the order it was handed over */
  messages: MessageObject[];
  /** every `ready`, one per (re)connection */
  readies: ReadyFrame[];
  /** the close codes of the connections the client lost */
  closeCodes: number[];
  /** the sockets the client opened, oldest first */
  sockets: TestSocket[];
  /** the socket in use (the last one opened) */
  socket(): TestSocket;
}

/** An `ImClient` for `token`, connected (not yet ready: wait for `readies`). */
export function sdkClient(service: Service, token: string, options: Partial<ImClientOptions> = {}): SdkClient {
  const sockets: TestSocket[] = [];
  class TrackedSocket extends TestSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  const client = new ImClient({
    url: service.wsUrl,
    token,
    WebSocket: TrackedSocket,
    // quick reconnects keep the tests short; the backoff itself is unit-tested
    minReconnectDelayMs: 20,
    maxReconnectDelayMs: 250,
    ...options,
  });
  const result: SdkClient = {
    client,
    messages: [],
    readies: [],
    closeCodes: [],
    sockets,
    socket() {
      const s = sockets.at(-1);
      if (!s) throw new Error('the client has not opened a socket yet');
      return s;
    },
  };
  client.on('message', (m) => result.messages.push(m));
  client.on('ready', (f) => result.readies.push(f));
  client.on('state', (s) => {
    if (s.newState === 'disconnected' && s.code !== undefined) result.closeCodes.push(s.code);
  });
  client.connect();
  return result;
}

/** What a chat window shows of a session: one line per message, in order. */
export interface Line {
  seq: number;
  id: string;
  cid: string;
  from: string;
  text: string | undefined;
}

export function timeline(messages: MessageObject[], sid: string): Line[] {
  return messages
    .filter((m) => m.sessionId === sid)
    .map((m) => ({ seq: m.seq, id: m.id, cid: m.cid, from: m.from.id, text: typeof m.body.text === 'string' ? m.body.text : m.body.event }));
}

/** The whole stored history of a session over REST, ascending by seq. */
export async function restHistory(service: Service, token: string, sid: string): Promise<MessageObject[]> {
  const all: MessageObject[] = [];
  for (;;) {
    const r = await api(service, token).get<{ messages: MessageObject[]; lastSeq: number }>(`/sessions/${sid}/messages?after=${all.at(-1)?.seq ?? 0}&limit=200`);
    if (r.status !== 200) throw new Error(`history: ${r.status} ${JSON.stringify(r.body)}`);
    all.push(...r.body.messages);
    if (r.body.messages.length < 200) return all;
  }
}

/** 1..n */
export function range1(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/**
 * A visitor and an agent chatting in an accepted session, each through the SDK
 * and ready. The clients are pushed onto `clients` so the caller closes them.
 */
export async function connectedPair(service: Service, site: SiteFixture, clients: SdkClient[]) {
  const { agent, visitor, sid } = await activeSession(service, site);
  const v = sdkClient(service, visitor.token);
  const a = sdkClient(service, agent.token);
  clients.push(v, a);
  await waitFor(() => v.readies.length === 1 && a.readies.length === 1, 10_000, 'both clients to be ready');
  return { agent, visitor, sid, v, a };
}
