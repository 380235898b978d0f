/**
 * The visitor's side of the conversation, without any UI: the token, the
 * session, its history, the connection (the protocol SDK) and what the
 * widget shows of it, as one immutable `ChatView` snapshot per change.
 *
 * How the view stays exactly-once and in order:
 * - history after a reload comes from REST (`GET /sessions`, then the pages
 *   of `GET /sessions/:id/messages`); the SDK is then created with `cursors`
 *   set to the last seq loaded, so it delivers only what comes after, and its
 *   `sync` closes any gap between the REST pages and the first push;
 * - stored messages are kept per session keyed by seq, so even a message
 *   handed over twice would show once;
 * - own messages show at once as local entries (keyed by their cid), become
 *   "sent" with the server's `sent`, and give way to the stored message with
 *   the same cid when it arrives: never two bubbles for one message.
 */
import { ImClient, newCid, type EventFrame, type MessageObject, type ReadyFrame, type StateChange } from '../../src/client/index.js';
import type { Identity } from '../bridge.js';
import { rest, RestError, type SessionInfo, type SiteInfo } from './rest.js';

export type ConnState = 'idle' | 'connecting' | 'connected' | 'reconnecting';
export type SessionState = SessionInfo['state'];

export interface ViewMessage {
  /** stable across pending → stored: the cid for own messages, else the id */
  key: string;
  seq?: number;
  from: MessageObject['from'];
  type: MessageObject['type'];
  body: MessageObject['body'];
  status: MessageObject['status'];
  at: number;
  /** own messages the server has not confirmed yet */
  local?: 'sending' | 'failed';
}

export interface ChatView {
  booted: boolean;
  site?: SiteInfo;
  conn: ConnState;
  /** undefined: no conversation yet (the first message starts one) */
  sessionState?: SessionState;
  agent?: { id: string; name: string };
  messages: ViewMessage[];
  /** who is typing right now */
  typing?: string;
  /** the highest seq the other side has read */
  peerReadSeq: number;
  unread: number;
  failed: boolean;
}

export interface ChatOptions {
  siteKey: string;
  wsUrl: string;
  page?: { url: string; title?: string };
  /** the count of unread messages changed (the host shows it on the launcher) */
  onUnread: (count: number) => void;
}

interface LocalMessage {
  cid: string;
  sid?: string;
  text: string;
  at: number;
  seq?: number;
  failed?: boolean;
}

const TYPING_SHOWN_MS = 6000;
const TYPING_SEND_EVERY_MS = 2500;
const SITE_POLL_MS = 20_000;
const CLOSE_UNAUTHORIZED = 4001;

/** localStorage when the browser lets the frame have it (third-party storage may be blocked), else memory */
const memory = new Map<string, string>();
const store = {
  get(key: string): string | null {
    try {
      return localStorage.getItem(key);
    } catch {
      return memory.get(key) ?? null;
    }
  },
  set(key: string, value: string | null): void {
    try {
      if (value === null) localStorage.removeItem(key);
      else localStorage.setItem(key, value);
    } catch {
      if (value === null) memory.delete(key);
      else memory.set(key, value);
    }
  },
};

export class Chat {
  private readonly listeners = new Set<() => void>();
  private view: ChatView = { booted: false, conn: 'idle', messages: [], peerReadSeq: 0, unread: 0, failed: false };

  /** bumped by every boot, so the late answers of an earlier one change nothing */
  private generation = 0;
  private identity: Identity | undefined;
  private token: string | undefined;
  private client: ImClient | undefined;
  private everConnected = false;
  private conn: ConnState = 'idle';
  private booted = false;
  private failed = false;
  private site: SiteInfo | undefined;

  private sid: string | undefined;
  private state: SessionState | undefined;
  private agent: { id: string; name: string } | undefined;
  /** stored messages per session, by seq (also of a session being started, whose pushes may beat the REST answer) */
  private readonly stored = new Map<string, Map<number, MessageObject>>();
  private locals: LocalMessage[] = [];
  private readSeq = 0;
  /** false until `ready` told the read cursor: counting unread before would flash a wrong badge */
  private readKnown = false;
  private peerReadSeq = 0;
  private typingName: string | undefined;
  private typingTimer: ReturnType<typeof setTimeout> | undefined;
  private lastTypingSent = 0;
  private open = false;
  private lastUnread = -1;
  /** sends wait here for the token and session they need, in the order they were typed */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: ChatOptions) {
    document.addEventListener('visibilitychange', () => this.changed());
    setInterval(() => {
      if ((this.open && this.state !== 'active') || this.state === 'queued') void this.refreshSite();
    }, SITE_POLL_MS);
  }

  get snapshot(): ChatView {
    return this.view;
  }

  subscribe(cb: () => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private get tokenKey(): string {
    return `im-widget:${this.opts.siteKey}:token`;
  }

  /** (Re)starts as the anonymous visitor of this browser, or as the identified user. */
  async boot(identity?: Identity): Promise<void> {
    const gen = ++this.generation;
    this.teardown();
    this.identity = identity;
    void this.refreshSite();
    try {
      const token = identity ? (await rest.visitor(this.opts.siteKey, identity)).token : (store.get(this.tokenKey) ?? undefined);
      if (gen !== this.generation) return;
      if (token) await this.attach(token, gen);
    } catch (err) {
      if (gen !== this.generation) return;
      if (err instanceof RestError && err.status === 401) {
        // a stale anonymous token starts over as a new visitor; a bad identity hash stays anonymous
        if (!identity) store.set(this.tokenKey, null);
        console.warn(`[IMWidget] ${identity ? 'identify refused' : 'visitor token refused'}: ${err.message}`);
        if (identity) return this.boot();
      } else {
        this.failed = true;
      }
    }
    if (gen !== this.generation) return;
    this.booted = true;
    this.changed();
  }

  /** Loads the newest conversation over REST, then follows it live from where the history ends. */
  private async attach(token: string, gen: number): Promise<void> {
    this.token = token;
    const latest = (await rest.sessions(token))[0];
    const cursors: Record<string, number> = {};
    if (latest) {
      const history = await rest.history(token, latest.id);
      if (gen !== this.generation) return;
      this.sid = latest.id;
      const bySeq = this.messagesOf(latest.id);
      for (const m of history) {
        bySeq.set(m.seq, m);
        this.applyMessage(m);
      }
      this.state = latest.state;
      const last = history.at(-1)?.seq ?? 0;
      cursors[latest.id] = last;
      if (latest.state === 'closed') {
        this.readSeq = last;
        this.readKnown = true;
      }
    }
    if (gen !== this.generation) return;
    this.connect(token, cursors);
    if (latest && latest.state !== 'closed') this.client?.track(latest.id, latest.lastSeq);
  }

  private connect(token: string, cursors: Record<string, number>): void {
    const client = new ImClient({ url: this.opts.wsUrl, token, WebSocket, cursors, minReconnectDelayMs: 500, maxReconnectDelayMs: 10_000 });
    this.client = client;
    this.everConnected = false;
    client.on('state', (s) => client === this.client && this.onState(s));
    client.on('ready', (f) => client === this.client && this.onReady(f));
    client.on('message', (m) => client === this.client && this.onMessage(m));
    client.on('event', (e) => client === this.client && this.onEvent(e));
    client.connect();
  }

  private teardown(): void {
    const client = this.client;
    this.client = undefined;
    client?.close();
    this.token = undefined;
    this.conn = 'idle';
    this.failed = false;
    this.stored.clear();
    this.resetConversation();
  }

  private resetConversation(): void {
    this.sid = undefined;
    this.state = undefined;
    this.agent = undefined;
    this.locals = [];
    this.readSeq = 0;
    this.readKnown = false;
    this.peerReadSeq = 0;
    this.stopTyping();
    this.chain = Promise.resolve();
  }

  // ---- SDK events ----------------------------------------------------------

  private onState(s: StateChange): void {
    if (s.newState === 'connected') {
      this.everConnected = true;
      this.conn = 'connected';
    } else if (s.newState === 'closed') {
      this.conn = 'idle';
      if (s.code === CLOSE_UNAUTHORIZED && !this.identity) {
        store.set(this.tokenKey, null);
        void this.boot();
        return;
      }
    } else {
      this.conn = this.everConnected ? 'reconnecting' : 'connecting';
    }
    this.changed();
  }

  private onReady(f: ReadyFrame): void {
    const sid = this.sid;
    const mine = sid ? f.sessions.find((s) => s.id === sid) : f.sessions[0];
    if (mine) {
      if (!sid) {
        // a conversation started elsewhere (another tab): follow it; the SDK fetches its history
        this.sid = mine.id;
        this.state = mine.state as SessionState;
        this.messagesOf(mine.id);
      }
      this.readSeq = Math.max(this.readSeq, mine.readSeq);
    } else if (sid && this.state !== 'closed') {
      // closed while we were away: `ready` lists open sessions only, so catch up on its end ourselves
      void this.catchUp(sid);
    }
    this.readKnown = true;
    this.changed();
  }

  private async catchUp(sid: string): Promise<void> {
    const token = this.token;
    if (!token) return;
    try {
      const r = await fetch(`/api/v1/sessions/${encodeURIComponent(sid)}`, { headers: { authorization: `Bearer ${token}` } });
      if (!r.ok) return;
      const { session } = (await r.json()) as { session: SessionInfo };
      if (sid === this.sid) this.client?.track(sid, session.lastSeq);
    } catch {
      // offline again: the next `ready` tries again
    }
  }

  private onMessage(m: MessageObject): void {
    this.messagesOf(m.sessionId).set(m.seq, m);
    if (m.sessionId === this.sid) {
      this.applyMessage(m);
      if (m.from.kind === 'visitor') {
        this.locals = this.locals.filter((l) => l.cid !== m.cid);
        // whoever writes has read what came before (the server counts it so too)
        this.readSeq = Math.max(this.readSeq, m.seq);
      } else if (m.type === 'chat' && m.from.name === this.typingName) {
        this.stopTyping();
      }
    }
    this.changed();
  }

  /** What a stored message says about the session: who serves it and in which state it is. */
  private applyMessage(m: MessageObject): void {
    const b = m.body;
    if (m.type === 'chat') {
      if ((m.from.kind === 'agent' || m.from.kind === 'bot') && this.agent?.id !== m.from.id) this.agent = { id: m.from.id, name: m.from.name };
      return;
    }
    if (b.event === 'accepted' && typeof b.agentId === 'string') {
      this.state = 'active';
      this.agent = { id: b.agentId, name: typeof b.agentName === 'string' ? b.agentName : '' };
    } else if (b.event === 'transferred' && typeof b.toId === 'string') {
      this.state = 'active';
      this.agent = { id: b.toId, name: typeof b.toName === 'string' ? b.toName : '' };
    } else if (b.event === 'transferred' || b.event === 'handoff') {
      this.state = 'queued';
      this.agent = undefined;
    } else if (b.event === 'closed') {
      this.state = 'closed';
      this.agent = undefined;
      this.stopTyping();
    }
  }

  private onEvent(e: EventFrame): void {
    if (e.sid !== this.sid) return;
    if (e.name === 'typing') {
      const from = e.from as { kind?: unknown; name?: unknown } | undefined;
      if (!from || from.kind === 'visitor' || typeof from.name !== 'string') return;
      this.typingName = from.name;
      clearTimeout(this.typingTimer);
      this.typingTimer = setTimeout(() => {
        this.typingName = undefined;
        this.changed();
      }, TYPING_SHOWN_MS);
    } else if (e.name === 'read' && typeof e.seq === 'number') {
      if (e.kind === 'visitor') this.readSeq = Math.max(this.readSeq, e.seq);
      else this.peerReadSeq = Math.max(this.peerReadSeq, e.seq);
    } else if (e.name === 'session' && typeof e.state === 'string') {
      this.state = e.state as SessionState;
      if (typeof e.assigneeId !== 'string' || this.state === 'closed') this.agent = undefined;
      if (this.state === 'closed') this.stopTyping();
    }
    this.changed();
  }

  private stopTyping(): void {
    clearTimeout(this.typingTimer);
    this.typingTimer = undefined;
    this.typingName = undefined;
  }

  // ---- what the visitor does ----------------------------------------------

  setOpen(open: boolean): void {
    this.open = open;
    if (open) void this.refreshSite();
    this.changed();
  }

  /** Shows the message at once; the token and the session are made on the first one. */
  send(raw: string): void {
    const text = raw.trim();
    if (!text) return;
    const local: LocalMessage = { cid: newCid(), text, at: Date.now() };
    if (this.sid) local.sid = this.sid;
    this.locals.push(local);
    this.changed();
    this.deliver(local);
  }

  /** Sends a message that failed again, with the same cid (so it can never be stored twice). */
  retry(cid: string): void {
    const local = this.locals.find((l) => l.cid === cid && l.failed);
    if (!local) return;
    local.failed = false;
    this.changed();
    this.deliver(local);
  }

  private deliver(local: LocalMessage): void {
    const gen = this.generation;
    const fail = () => {
      if (gen !== this.generation) return;
      local.failed = true;
      this.changed();
    };
    this.chain = this.chain
      .then(async () => {
        const sid = local.sid ?? (await this.ensureSession(gen));
        local.sid = sid;
        const client = this.client;
        if (gen !== this.generation || !client) return;
        client.send(sid, local.text, { cid: local.cid }).then((sent) => {
          if (gen !== this.generation) return;
          local.seq = sent.seq;
          this.readSeq = Math.max(this.readSeq, sent.seq);
          this.changed();
        }, fail);
      })
      .catch(fail);
  }

  private async ensureSession(gen: number): Promise<string> {
    if (!this.token) {
      const { token } = await rest.visitor(this.opts.siteKey, this.identity);
      if (gen !== this.generation) throw new Error('restarted');
      if (!this.identity) store.set(this.tokenKey, token);
      this.token = token;
      this.connect(token, {});
    }
    if (this.sid && this.state !== 'closed') return this.sid;
    const session = await rest.startSession(this.token, this.opts.page);
    if (gen !== this.generation) throw new Error('restarted');
    this.sid = session.id;
    this.state = session.state;
    this.readKnown = true;
    this.messagesOf(session.id);
    for (const m of this.messagesOf(session.id).values()) this.applyMessage(m);
    this.client?.track(session.id, session.lastSeq);
    this.changed();
    return session.id;
  }

  /** Tells the agent the visitor is typing, at most every few seconds. */
  typing(): void {
    const now = Date.now();
    if (!this.sid || this.state === 'closed' || !this.client || now - this.lastTypingSent < TYPING_SEND_EVERY_MS) return;
    this.lastTypingSent = now;
    this.client.typing(this.sid);
  }

  /** After a close: an empty chat again; the next message starts a new session. */
  newConversation(): void {
    this.resetConversation();
    void this.refreshSite();
    this.changed();
  }

  private async refreshSite(): Promise<void> {
    try {
      this.site = await rest.site(this.opts.siteKey);
      this.changed();
    } catch {
      // keep what we knew; the next poll tries again
    }
  }

  // ---- the view ------------------------------------------------------------

  private messagesOf(sid: string): Map<number, MessageObject> {
    let m = this.stored.get(sid);
    if (!m) this.stored.set(sid, (m = new Map()));
    return m;
  }

  private changed(): void {
    const sid = this.sid;
    const stored = sid ? [...this.messagesOf(sid).values()].sort((a, b) => a.seq - b.seq) : [];
    const last = stored.at(-1)?.seq ?? 0;
    if (sid && this.client && this.open && document.visibilityState === 'visible' && last > this.readSeq) {
      this.client.read(sid, last);
      this.readSeq = last;
    }
    const ownCids = new Set(stored.filter((m) => m.from.kind === 'visitor').map((m) => m.cid));
    const messages: ViewMessage[] = stored.map((m) => ({
      key: m.from.kind === 'visitor' ? m.cid : m.id,
      seq: m.seq,
      from: m.from,
      type: m.type,
      body: m.body,
      status: m.status,
      at: Date.parse(m.createdAt),
    }));
    for (const l of this.locals) {
      if ((l.sid !== undefined && l.sid !== sid) || ownCids.has(l.cid)) continue;
      const view: ViewMessage = { key: l.cid, from: { id: '', kind: 'visitor', name: '' }, type: 'chat', body: { text: l.text }, status: 'ok', at: l.at };
      if (l.seq !== undefined) view.seq = l.seq;
      else view.local = l.failed ? 'failed' : 'sending';
      messages.push(view);
    }
    // confirmed local messages take their place by seq; unconfirmed ones stay last, in typing order
    messages.sort((a, b) => (a.seq ?? Number.MAX_SAFE_INTEGER) - (b.seq ?? Number.MAX_SAFE_INTEGER));
    const unread = this.readKnown ? stored.filter((m) => m.seq > this.readSeq && m.type === 'chat' && m.from.kind !== 'visitor').length : 0;
    const view: ChatView = {
      booted: this.booted,
      conn: this.conn,
      messages,
      peerReadSeq: this.peerReadSeq,
      unread,
      failed: this.failed,
    };
    if (this.site) view.site = this.site;
    if (this.state) view.sessionState = this.state;
    if (this.agent) view.agent = this.agent;
    if (this.typingName) view.typing = this.typingName;
    this.view = view;
    if (unread !== this.lastUnread) {
      this.lastUnread = unread;
      this.opts.onUnread(unread);
    }
    for (const cb of this.listeners) cb();
  }
}
