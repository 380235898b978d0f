/**
 * The workbench's state and everything that changes it: REST calls, the
 * protocol SDK's connection, and what the agent does. Components read
 * `state` and call methods; the controller never touches the DOM apart from
 * the tab title's source (the total unread) and notifications.
 *
 * How nothing is lost or doubled:
 * - history comes from REST pages, then the SDK follows the session from the
 *   last seq held (cursors at start-up, `track` later); the SDK delivers each
 *   seq at most once per client, and `mergeMessages` keeps one copy per seq
 *   when REST and the SDK both had it;
 * - after every (re)connect the queue and my sessions are read again over
 *   REST, since `event` frames sent while offline are not replayed;
 * - own messages carry a cid kept in localStorage until the service stored
 *   them, so one typed just before a reload is sent again with the same cid
 *   (the service answers a repeated cid with the original message).
 */
import { ImClient, type ClientState, type EventFrame, type MessageObject } from '../src/client/index.js';
import { newCid } from '../src/client/cid.js';
import type { SessionObject } from '../src/protocol/frames.js';
import { ApiError, createApi, type Account, type AgentInfo, type Api } from './api.js';
import { lastSeqOf, mergeMessages, newConversation, unreadOf, visitorName, type Conversation } from './conversation-state.js';
import { alertAgent } from './notify.js';
import { isObject, load, save } from './storage.js';

export interface Auth {
  token: string;
  agent: Account;
}

export interface QueueItem {
  session: SessionObject;
  visitor?: Account;
}

export interface Notice {
  id: number;
  kind: 'info' | 'error';
  text: string;
}

export type ConnState = ClientState | 'starting';

export interface State {
  auth: Auth | null;
  /** the first load after login or reload is running */
  booting: boolean;
  conn: ConnState;
  /** connected at least once since login: a later disconnect is a "reconnecting" */
  wasConnected: boolean;
  queue: QueueItem[];
  /** my conversations, in the order they came to me */
  order: string[];
  convs: Record<string, Conversation>;
  selected: string | null;
  notices: Notice[];
  loginError: string | null;
  loggingIn: boolean;
}

const AUTH_KEY = 'im.wb.auth';
const SELECTED_KEY = 'im.wb.selected';
const outboxKey = (agentId: string) => `im.wb.outbox.${agentId}`;
/** how long a typing indicator lasts without a new `typing` event */
export const TYPING_MS = 5000;
/** a message older than this when it arrives is catch-up, not news worth a beep */
const FRESH_MS = 60_000;

interface StoredSend {
  sid: string;
  cid: string;
  text: string;
}

const isAuth = (v: unknown): v is Auth => isObject(v) && typeof v.token === 'string' && isObject(v.agent) && typeof v.agent.id === 'string' && typeof v.agent.name === 'string';
const isSends = (v: unknown): v is StoredSend[] => Array.isArray(v) && v.every((s) => isObject(s) && typeof s.sid === 'string' && typeof s.cid === 'string' && typeof s.text === 'string');
const isString = (v: unknown): v is string => typeof v === 'string';

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class Controller {
  state: State;
  private readonly listeners = new Set<() => void>();
  private api: Api = createApi(null);
  private client: ImClient | null = null;
  /** the last seq I hold per session, handed to the SDK (see ImClientOptions.cursors) */
  private cursors: Record<string, number> = {};
  /** sessions I am transferring or closing myself: their `session` event removes them quietly */
  private readonly leaving = new Set<string>();
  /** sessions I am accepting: their `session` event is no transfer to announce */
  private readonly accepting = new Set<string>();
  /** when each conversation was added (a counter), so a reconcile never drops one newer than its REST answer */
  private readonly addedAt = new Map<string, number>();
  private epoch = 0;
  /** session events that arrived while a reconcile's REST answer was on its way: applied again after it */
  private heldEvents: SessionObject[] | null = null;
  /** queue items whose visitor is being looked up */
  private readonly lookups = new Set<string>();
  private reconcileRunning: Promise<void> | null = null;
  private reconcileAgain = false;
  private noticeSeq = 0;
  private typingTimers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor() {
    const auth = load(AUTH_KEY, isAuth) ?? null;
    this.state = {
      auth,
      booting: auth !== null,
      conn: 'starting',
      wasConnected: false,
      queue: [],
      order: [],
      convs: {},
      selected: null,
      notices: [],
      loginError: null,
      loggingIn: false,
    };
    if (auth) void this.start(auth);
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private set(patch: Partial<State>): void {
    this.state = { ...this.state, ...patch };
    for (const fn of this.listeners) fn();
  }

  private updateConv(id: string, fn: (c: Conversation) => Conversation | null): void {
    const c = this.state.convs[id];
    if (!c) return;
    const next = fn(c);
    if (next === null || next === c) return;
    this.set({ convs: { ...this.state.convs, [id]: next } });
  }

  get me(): string {
    return this.state.auth?.agent.id ?? '';
  }

  get totalUnread(): number {
    return this.state.order.reduce((n, id) => n + (this.state.convs[id] ? unreadOf(this.state.convs[id]!) : 0), 0);
  }

  // ---- sign in and out ---------------------------------------------------

  async login(email: string, password: string): Promise<void> {
    if (this.state.loggingIn) return;
    this.set({ loggingIn: true, loginError: null });
    try {
      const r = await createApi(null).login(email.trim(), password);
      const auth: Auth = { token: r.token, agent: r.agent };
      save(AUTH_KEY, auth);
      this.set({ auth, booting: true, loggingIn: false });
      await this.start(auth);
    } catch (err) {
      const text =
        err instanceof ApiError && (err.status === 401 || err.status === 400 || err.status === 404)
          ? 'Wrong email or password.'
          : err instanceof ApiError && err.status === 0
            ? 'Cannot reach the server. Check your connection and try again.'
            : `Sign-in failed: ${errorText(err)}`;
      this.set({ loggingIn: false, loginError: text });
    }
  }

  logout(reason: string | null = null): void {
    this.client?.close();
    this.client = null;
    save(AUTH_KEY, undefined);
    save(SELECTED_KEY, undefined);
    for (const t of this.typingTimers.values()) clearTimeout(t);
    this.typingTimers.clear();
    this.cursors = {};
    this.leaving.clear();
    this.api = createApi(null);
    this.set({ auth: null, booting: false, conn: 'starting', wasConnected: false, queue: [], order: [], convs: {}, selected: null, notices: [], loginError: reason });
  }

  /** After login or on a reload with a stored token: load what REST knows, then connect. */
  private async start(auth: Auth): Promise<void> {
    this.api = createApi(auth.token);
    const wanted = load(SELECTED_KEY, isString) ?? null;
    try {
      await this.reconcile();
    } catch (err) {
      // not reachable now: the SDK keeps trying, and every `ready` reconciles again
      if (!this.handleAuthError(err)) this.notice('error', `Could not load your conversations: ${errorText(err)}`);
    }
    if (this.state.auth !== auth) return; // logged out meanwhile
    if (wanted && this.state.convs[wanted]) this.select(wanted);
    else if (!this.state.selected && this.state.order[0]) this.select(this.state.order[0]);
    this.set({ booting: false });
    this.connect(auth);
    this.resendStored();
  }

  private connect(auth: Auth): void {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    const client = new ImClient({ url, token: auth.token, WebSocket, cursors: this.cursors, minReconnectDelayMs: 250, maxReconnectDelayMs: 5000 });
    this.client = client;
    client.on('state', (s) => {
      if (this.client !== client) return;
      if (s.newState === 'closed' && (s.code === 4001 || s.code === 4003 || s.code === 4009)) {
        this.logout('Your sign-in has expired. Please sign in again.');
        return;
      }
      this.set({ conn: s.newState, ...(s.newState === 'connected' ? { wasConnected: true } : {}) });
    });
    client.on('ready', (f) => {
      if (this.client !== client) return;
      for (const s of f.sessions) this.updateConv(s.id, (c) => (s.readSeq > c.readSeq ? { ...c, readSeq: s.readSeq } : c));
      void this.reconcile().catch((err: unknown) => {
        if (!this.handleAuthError(err)) this.notice('error', `Could not refresh the queue: ${errorText(err)}`);
      });
      this.markSelectedRead();
    });
    client.on('message', (m) => {
      if (this.client === client) this.onMessages(m.sessionId, [m], true);
    });
    client.on('event', (f) => {
      if (this.client === client) this.onEvent(f);
    });
    client.connect();
  }

  /** true when the error meant the token is no longer valid (and we logged out) */
  private handleAuthError(err: unknown): boolean {
    if (err instanceof ApiError && err.status === 401) {
      this.logout('Your sign-in has expired. Please sign in again.');
      return true;
    }
    return false;
  }

  // ---- keeping the lists right ------------------------------------------

  /**
   * Reads the queue and my sessions over REST and makes the lists match:
   * run at start-up and after every `ready`. Calls that overlap collapse into
   * one more run after the current one.
   */
  reconcile(): Promise<void> {
    if (this.reconcileRunning) {
      this.reconcileAgain = true;
      return this.reconcileRunning;
    }
    const run = async () => {
      try {
        do {
          this.reconcileAgain = false;
          await this.reconcileOnce();
        } while (this.reconcileAgain);
      } finally {
        this.reconcileRunning = null;
      }
    };
    this.reconcileRunning = run();
    return this.reconcileRunning;
  }

  private async reconcileOnce(): Promise<void> {
    const auth = this.state.auth;
    if (!auth) return;
    const startedAt = ++this.epoch;
    // Which of an event and the REST answer is newer cannot be told; the event wins.
    const held: SessionObject[] = [];
    this.heldEvents = held;
    let answer: [{ sessions: SessionObject[] }, { sessions: Record<string, number> }];
    try {
      answer = await Promise.all([this.api.sessions(), this.api.unread()]);
    } finally {
      this.heldEvents = null;
    }
    const [{ sessions }, unread] = answer;
    if (this.state.auth !== auth) return;
    const me = this.me;
    const queued = sessions.filter((s) => s.state === 'queued').sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    const known = new Map(this.state.queue.map((q) => [q.session.id, q]));
    this.set({ queue: queued.map((s) => ({ ...known.get(s.id), session: s })) });
    this.lookUpVisitors();

    const mine = sessions.filter((s) => s.state === 'active' && s.assigneeId === me);
    const mineIds = new Set(mine.map((s) => s.id));
    for (const id of this.state.order) {
      const c = this.state.convs[id];
      if (c && !c.ended && !mineIds.has(id) && (this.addedAt.get(id) ?? 0) < startedAt) this.removeConv(id);
    }
    for (const e of held) this.onSessionChange(e, true);
    await Promise.all(
      mine.map((s) => {
        const n = unread.sessions[s.id];
        if (this.state.convs[s.id]) {
          this.updateConv(s.id, (c) => ({ ...c, session: s }));
          return undefined;
        }
        return this.addConv(s, n);
      }),
    );
  }

  /** A session became mine: show it, then fetch its visitor and history. */
  private async addConv(session: SessionObject, unread?: number): Promise<void> {
    if (this.state.convs[session.id]) return;
    const conv = newConversation(session);
    // the service counts unread as lastSeq - read position; start from its count
    if (unread !== undefined) conv.readSeq = Math.max(0, session.lastSeq - unread);
    this.addedAt.set(session.id, ++this.epoch);
    this.set({ convs: { ...this.state.convs, [session.id]: conv }, order: [...this.state.order, session.id] });
    const sid = session.id;
    // start-up picks the remembered conversation itself
    if (!this.state.selected && !this.state.booting) this.select(sid);
    try {
      const [details] = await Promise.all([
        this.api.session(sid).catch(() => undefined),
        this.api.history(sid, 0, (page) => this.onMessages(sid, page, false)),
      ]);
      if (details) {
        // the visitor's read position survives a reload of this page: live `read` events only move it on
        const seen = details.visitorReadSeq ?? 0;
        this.updateConv(sid, (c) => ({ ...c, session: details.session, ...(details.visitor ? { visitor: details.visitor } : {}), visitorReadSeq: Math.max(c.visitorReadSeq, seen) }));
      }
    } catch (err) {
      if (!this.handleAuthError(err)) this.notice('error', `Could not load the conversation: ${errorText(err)}`);
    }
    const c = this.state.convs[sid];
    if (!c) return;
    this.updateConv(sid, (x) => ({ ...x, loading: false }));
    const last = lastSeqOf(c);
    // Read by the SDK when it first sees the session: it then follows from here.
    if (!(sid in this.cursors)) this.cursors[sid] = last;
    this.client?.track(sid, Math.max(last, c.session.lastSeq));
    this.markSelectedRead();
  }

  private removeConv(id: string): void {
    if (!this.state.convs[id]) return;
    this.addedAt.delete(id);
    const convs = { ...this.state.convs };
    delete convs[id];
    const order = this.state.order.filter((x) => x !== id);
    let selected = this.state.selected;
    if (selected === id) {
      const at = this.state.order.indexOf(id);
      selected = order[Math.min(at, order.length - 1)] ?? null;
    }
    this.set({ convs, order, selected });
    save(SELECTED_KEY, selected ?? undefined);
    this.markSelectedRead();
  }

  /** Visitor names for queue items, fetched once each. */
  private lookUpVisitors(): void {
    for (const q of this.state.queue) {
      const id = q.session.id;
      if (q.visitor || this.lookups.has(id)) continue;
      this.lookups.add(id);
      this.api
        .session(id)
        .then((r) => {
          if (r.visitor) this.set({ queue: this.state.queue.map((x) => (x.session.id === id ? { ...x, visitor: r.visitor } : x)) });
        })
        .catch(() => undefined)
        .finally(() => this.lookups.delete(id));
    }
  }

  // ---- what the SDK brings ----------------------------------------------

  private onMessages(sid: string, messages: MessageObject[], live: boolean): void {
    const c = this.state.convs[sid];
    if (!c) return; // not mine (yet): addConv reads the history over REST
    const me = this.me;
    const merged = mergeMessages(c.messages, messages);
    if (merged === c.messages) return;
    const isNew = (m: MessageObject) => m.seq > lastSeqOf(c);
    let readSeq = c.readSeq;
    let pending = c.pending;
    let typing = c.visitorTypingAt;
    let news: MessageObject | undefined;
    for (const m of messages) {
      if (m.from.id === me) {
        // the service counts what I sent as read by me
        readSeq = Math.max(readSeq, m.seq);
        if (pending.some((p) => p.cid === m.cid)) pending = pending.filter((p) => p.cid !== m.cid);
      } else if (m.from.kind === 'visitor') {
        typing = 0;
        if (live && isNew(m) && Date.now() - Date.parse(m.createdAt) < FRESH_MS) news = m;
      }
    }
    this.updateConv(sid, (x) => ({ ...x, messages: merged, readSeq, pending, visitorTypingAt: typing }));
    this.markSelectedRead();
    if (news) {
      const text = typeof news.body.text === 'string' ? news.body.text : 'sent an attachment';
      alertAgent(visitorName(c), text.slice(0, 140), `msg-${sid}`, () => this.select(sid));
    }
  }

  private onEvent(f: EventFrame): void {
    const sid = f.sid;
    if (f.name === 'session') {
      const session = f.session as SessionObject | undefined;
      if (session && typeof session.id === 'string') this.onSessionChange(session);
      return;
    }
    if (f.name === 'typing') {
      const from = f.from as { kind?: string } | undefined;
      if (from?.kind !== 'visitor' || !this.state.convs[sid]) return;
      this.updateConv(sid, (c) => ({ ...c, visitorTypingAt: Date.now() }));
      clearTimeout(this.typingTimers.get(sid));
      this.typingTimers.set(
        sid,
        setTimeout(() => {
          this.typingTimers.delete(sid);
          this.updateConv(sid, (c) => (c.visitorTypingAt && Date.now() - c.visitorTypingAt >= TYPING_MS - 50 ? { ...c, visitorTypingAt: 0 } : c));
        }, TYPING_MS),
      );
      return;
    }
    if (f.name === 'read') {
      const seq = typeof f.seq === 'number' ? f.seq : 0;
      if (f.accountId === this.me) this.updateConv(sid, (c) => (seq > c.readSeq ? { ...c, readSeq: seq } : c));
      else if (f.kind === 'visitor') this.updateConv(sid, (c) => (seq > c.visitorReadSeq ? { ...c, visitorReadSeq: seq } : c));
      return;
    }
    if (f.name === 'moderation') {
      const id = f.id;
      const status = f.status;
      if (typeof id !== 'string' || (status !== 'ok' && status !== 'pending' && status !== 'rejected')) return;
      this.updateConv(sid, (c) => ({ ...c, messages: c.messages.map((m) => (m.id === id ? { ...m, status } : m)) }));
    }
  }

  /** A session's state changed (every agent of the site hears it). */
  private onSessionChange(s: SessionObject, replay = false): void {
    const sid = s.id;
    if (!replay) this.heldEvents?.push(s);
    // the queue
    const inQueue = this.state.queue.some((q) => q.session.id === sid);
    if (s.state === 'queued') {
      if (inQueue) this.set({ queue: this.state.queue.map((q) => (q.session.id === sid ? { ...q, session: s } : q)) });
      else {
        this.set({ queue: [...this.state.queue, { session: s }].sort((a, b) => a.session.createdAt.localeCompare(b.session.createdAt)) });
        this.lookUpVisitors();
        if (!replay) alertAgent('New conversation waiting', s.page?.title ?? s.topic ?? 'A visitor is waiting in the queue', `queue-${sid}`, () => undefined);
      }
    } else if (inQueue) {
      this.set({ queue: this.state.queue.filter((q) => q.session.id !== sid) });
    }
    // my conversations
    const mine = s.state === 'active' && s.assigneeId === this.me;
    const c = this.state.convs[sid];
    if (mine && !c) {
      void this.addConv(s);
      if (!replay && !this.accepting.has(sid)) this.notice('info', 'A conversation was transferred to you.');
      return;
    }
    if (!c) return;
    if (mine) {
      this.updateConv(sid, (x) => ({ ...x, session: s, ended: false }));
      return;
    }
    if (this.leaving.has(sid) || s.state !== 'closed') {
      // I transferred or closed it (here or on another device of mine)
      this.removeConv(sid);
      return;
    }
    // closed by the visitor or the service: keep it to read until dismissed
    this.updateConv(sid, (x) => ({ ...x, session: s, ended: true, visitorTypingAt: 0 }));
  }

  // ---- what the agent does ----------------------------------------------

  select(id: string | null): void {
    if (id !== null && !this.state.convs[id]) return;
    this.set({ selected: id });
    save(SELECTED_KEY, id ?? undefined);
    this.markSelectedRead();
  }

  /** Marks the selected conversation read when the agent can see it. */
  markSelectedRead(): void {
    const id = this.state.selected;
    if (!id || document.visibilityState !== 'visible') return;
    const c = this.state.convs[id];
    if (!c || c.ended) return;
    const last = lastSeqOf(c);
    if (last <= c.readSeq) return;
    this.client?.read(id, last);
    this.updateConv(id, (x) => ({ ...x, readSeq: Math.max(x.readSeq, last) }));
  }

  async accept(id: string): Promise<void> {
    const visitor = this.state.queue.find((q) => q.session.id === id)?.visitor;
    this.accepting.add(id);
    try {
      const { session } = await this.api.accept(id);
      this.set({ queue: this.state.queue.filter((q) => q.session.id !== id) });
      const loaded = this.addConv(session);
      if (visitor) this.updateConv(id, (c) => (c.visitor ? c : { ...c, visitor }));
      this.select(id);
      await loaded;
    } catch (err) {
      if (err instanceof ApiError && (err.status === 409 || err.status === 404)) {
        const atCapacity = err.status === 409 && /capacity/i.test(err.message);
        if (atCapacity) {
          this.notice('error', 'You are at capacity: close or transfer a conversation first.');
          return;
        }
        this.set({ queue: this.state.queue.filter((q) => q.session.id !== id) });
        this.notice('info', 'That conversation was taken by someone else.');
        return;
      }
      if (!this.handleAuthError(err)) this.notice('error', `Could not accept: ${errorText(err)}`);
    } finally {
      this.accepting.delete(id);
    }
  }

  async transfer(id: string, toAgentId: string | null): Promise<boolean> {
    this.leaving.add(id);
    try {
      await this.api.transfer(id, toAgentId ?? undefined);
      this.removeConv(id);
      this.notice('info', toAgentId ? 'Conversation transferred.' : 'Conversation returned to the queue.');
      return true;
    } catch (err) {
      if (!this.handleAuthError(err)) this.notice('error', `Could not transfer: ${errorText(err)}`);
      return false;
    } finally {
      this.leaving.delete(id);
    }
  }

  async close(id: string): Promise<boolean> {
    const c = this.state.convs[id];
    if (c?.ended) {
      this.removeConv(id);
      return true;
    }
    this.leaving.add(id);
    try {
      await this.api.close(id);
      this.removeConv(id);
      this.notice('info', 'Conversation closed.');
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        // already closed (by the visitor, or the service): nothing left to do
        this.removeConv(id);
        return true;
      }
      if (!this.handleAuthError(err)) this.notice('error', `Could not close: ${errorText(err)}`);
      return false;
    } finally {
      this.leaving.delete(id);
    }
  }

  /** Removes an ended conversation from the list. */
  dismiss(id: string): void {
    this.removeConv(id);
  }

  agents(): Promise<AgentInfo[]> {
    return this.api.agents().then((r) => r.agents.filter((a) => a.kind === 'agent'));
  }

  send(sid: string, text: string): void {
    const c = this.state.convs[sid];
    if (!c || c.ended || text.trim() === '') return;
    const cid = newCid();
    this.storeSend({ sid, cid, text });
    this.updateConv(sid, (x) => ({ ...x, pending: [...x.pending, { cid, text }] }));
    this.transmit(sid, cid, text);
  }

  private transmit(sid: string, cid: string, text: string): void {
    const client = this.client;
    if (!client) return;
    client.send(sid, text, { cid }).then(
      (sent) => {
        this.forgetSend(cid);
        // normally the push of my own message is on its way; if it is not, the SDK fetches it
        const c = this.state.convs[sid];
        if (c && lastSeqOf(c) < sent.seq) client.track(sid, sent.seq);
      },
      (err: unknown) => {
        if (this.client !== client) return; // logged out: the stored copy stays for the next login
        this.forgetSend(cid);
        this.updateConv(sid, (x) => ({ ...x, pending: x.pending.map((p) => (p.cid === cid ? { ...p, error: errorText(err) } : p)) }));
      },
    );
  }

  discardPending(sid: string, cid: string): void {
    this.updateConv(sid, (x) => ({ ...x, pending: x.pending.filter((p) => p.cid !== cid) }));
  }

  typing(sid: string): void {
    this.client?.typing(sid);
  }

  /** Sends again what was typed before a reload and not yet stored (same cid: never twice). */
  private resendStored(): void {
    const stored = load(outboxKey(this.me), isSends) ?? [];
    for (const s of stored) {
      const c = this.state.convs[s.sid];
      if (!c || c.ended || c.messages.some((m) => m.cid === s.cid && m.from.id === this.me)) {
        this.forgetSend(s.cid);
        continue;
      }
      if (!c.pending.some((p) => p.cid === s.cid)) this.updateConv(s.sid, (x) => ({ ...x, pending: [...x.pending, { cid: s.cid, text: s.text }] }));
      this.transmit(s.sid, s.cid, s.text);
    }
  }

  private storeSend(s: StoredSend): void {
    const key = outboxKey(this.me);
    save(key, [...(load(key, isSends) ?? []), s]);
  }

  private forgetSend(cid: string): void {
    const key = outboxKey(this.me);
    const list = load(key, isSends) ?? [];
    const rest = list.filter((s) => s.cid !== cid);
    if (rest.length !== list.length) save(key, rest.length > 0 ? rest : undefined);
  }

  // ---- notices -----------------------------------------------------------

  notice(kind: Notice['kind'], text: string): void {
    const id = ++this.noticeSeq;
    this.set({ notices: [...this.state.notices.slice(-3), { id, kind, text }] });
    setTimeout(() => this.dropNotice(id), kind === 'error' ? 8000 : 5000);
  }

  dropNotice(id: number): void {
    if (this.state.notices.some((n) => n.id === id)) this.set({ notices: this.state.notices.filter((n) => n.id !== id) });
  }
}

