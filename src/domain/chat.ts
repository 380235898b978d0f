/**
 * The domain operations of customer-service sessions: start, accept,
 * transfer, close, send, read, history, unread, and automatic assignment.
 * REST routes and the WebSocket gateway both call these, so they cannot
 * disagree. Everything outside the process goes through the ports.
 */
import { type AppError, badRequest, conflict, forbidden, notFound, rateLimited, tooLarge } from '../errors.js';
import { KeyedQueue } from './keyed-queue.js';
import {
  type Account,
  type Actor,
  type Message,
  type MessageBody,
  type Routing,
  type Session,
  type SessionState,
  type Site,
  SYSTEM_SENDER,
} from './model.js';
import type {
  AccountStore,
  Clock,
  CursorStore,
  Fanout,
  ForwardedAppend,
  LimitRefusal,
  MessageLimiter,
  MessageStore,
  Presence,
  Scheduler,
  SessionChanges,
  SessionStore,
  SessionWriters,
  SiteStore,
} from './ports.js';
import { WriterGone } from './ports.js';
import { SessionCache } from './session-cache.js';
import { canClose, canSend, canTransfer, canView, isMember, recipients } from './session-rules.js';
import { TtlCache } from './ttl-cache.js';
import { type UnreadSummary, readPosition, summarize } from './unread.js';

export interface ChatDeps {
  sites: SiteStore;
  accounts: AccountStore;
  sessions: SessionStore;
  messages: MessageStore;
  cursors: CursorStore;
  fanout: Fanout;
  presence: Presence;
  scheduler: Scheduler;
  limiter: MessageLimiter;
  /** heard by every instance: lets the send path keep sessions in memory (session-cache.ts) */
  changes: SessionChanges;
  /** one writer per session across instances; without it this instance writes every session it is asked to */
  writers?: SessionWriters;
  clock: Clock;
  limits: { maxTextLength: number; inactivityMs: number };
}

/** Who closed a session: an actor, or the inactivity timer. */
export type Closer = Actor | { kind: 'system' };

export type ChatService = ReturnType<typeof createChatService>;

/** A message as `append` takes it (and hands it to another instance): the store adds the rest. */
type Draft = ForwardedAppend['draft'];

/** Where a session's drafts from this instance go while any is on its way (`append`). */
interface Route {
  /** the writer's instance id (this one's: stored here) */
  writer: Promise<string>;
  /** how many times the route moved to another writer (a gone one's drafts go again) */
  move: number;
  /** the drafts on their way, in the order they came */
  open: Set<RouteEntry>;
}

interface RouteEntry {
  target: { id: string; siteId: string; lastSeq: number };
  draft: Draft;
  to: string[];
  resolve(result: { message: Message; created: boolean }): void;
  reject(err: unknown): void;
}
/** a writer found gone is passed over this long: its sessions' keys may name it until their leases run out */
const GONE_FOR_MS = 30_000;

const MAX_LIST = 100;
const MAX_HISTORY_PAGE = 200;
/** how many of the oldest queued sessions auto assignment looks at in one step */
const DISPATCH_WINDOW = 20;
/** a capacity claim and its session update finish well within this */
const SLOT_SETTLE_MS = 60_000;
/** a site's slow mode set on another instance applies here within this */
const SITE_SETTINGS_TTL_MS = 1000;
/**
 * The send path keeps a session this long at most, whatever it heard: the
 * bound on a transition whose instance died before telling, or whose word
 * was missed.
 */
const SESSION_CACHE_TTL_MS = 5000;

const REFUSED: Record<LimitRefusal['reason'], string> = {
  message_rate: 'too many messages, slow down',
  slow_mode: 'slow mode is on: wait before sending another message',
};

export function createChatService(deps: ChatDeps) {
  const { sites, accounts, sessions, messages, cursors, fanout, presence, scheduler, limiter, changes, writers, clock, limits } = deps;
  const pushQueue = new KeyedQueue();
  /** per session with drafts of this instance on their way: to which writer (see `append`) */
  const routes = new Map<string, Route>();
  /** per session, its drafts being stored here outside a route (`append`'s fast path), how many */
  const storingHere = new Map<string, number>();
  /** writers found gone, until when their sessions' keys may still name them (their leases) */
  const goneWriters = new Map<string, number>();
  const dispatchQueue = new KeyedQueue();
  /** per site, the dispatch queued behind a running one, not started yet */
  const pendingDispatches = new Map<string, Promise<void>>();
  // Highest seq this process saw stored per session: a better starting guess
  // than the session document, which lags.
  const seqHints = new Map<string, number>();
  /** A seq of the session known stored, the furthest this process knows of (a start for the store's lookups). */
  const knownStored = (s: Pick<Session, 'id' | 'lastSeq'>) => Math.max(s.lastSeq, seqHints.get(s.id) ?? 0);
  // Slow mode is read for every visitor message: a site read per message would cost more than the message.
  const slowModes = new TtlCache<number>({ ttlMs: SITE_SETTINGS_TTL_MS, now: () => clock.now().getTime() });
  // The session of every message, read mark and typing frame: a database read each would cost as much as storing a message.
  const liveSessions = new SessionCache({ load: (id) => sessions.get(id), now: () => clock.now().getTime(), ttlMs: SESSION_CACHE_TTL_MS });
  changes.onSessionChange((id) => (id === undefined ? liveSessions.forgetAll() : liveSessions.forget(id)));

  /** The sender's turn for a new message, or why not. */
  async function limit(actor: Actor): Promise<AppError | null> {
    const refusal = await limiter.take(actor.id, actor.siteId, await slowModeMs(actor));
    return refusal && rateLimited(REFUSED[refusal.reason], refusal.retryAfterMs);
  }

  /** The slow-mode window `actor` is held to: the site's, for visitors only. */
  async function slowModeMs(actor: Actor): Promise<number> {
    // read for every sender alike, so that concurrent sends of a session reach the store in the order they came
    const ms = await slowModes.get(actor.siteId, async () => ((await sites.get(actor.siteId))?.slowModeSeconds ?? 0) * 1000);
    return actor.kind === 'visitor' ? ms : 0;
  }

  /**
   * Seq `seq` of the session is stored (this process stored it, or the
   * broker brought it from another instance): the next append here tries the
   * seq after it, instead of colliding with it and looking further.
   */
  function noteStored(sessionId: string, seq: number) {
    messages.noteStored(sessionId, seq);
    if (seqHints.size > 50_000) seqHints.clear();
    if ((seqHints.get(sessionId) ?? 0) < seq) seqHints.set(sessionId, seq);
  }

  async function visibleSession(actor: Actor, id: string): Promise<Session> {
    const s = await sessions.get(id);
    if (!s || !canView(actor, s)) throw notFound('session');
    return s;
  }

  /**
   * The session as the per-frame paths (send, read, typing) see it: kept in
   * memory until word of a transition comes (see SessionCache for the window).
   * Its lastSeq lags: those that need the last seq take the larger of it and
   * seqHints' (knownStored).
   */
  async function liveSession(actor: Actor, id: string): Promise<Session> {
    const s = await liveSessions.get(id);
    if (!s || !canView(actor, s)) throw notFound('session');
    return s;
  }

  /**
   * A compare-and-set on the session (SessionStore.transition), then word of
   * it to every instance, so that their send paths read the session again. A
   * refused one is told too: it may have rolled the stored session forward to
   * a logged version it lacked.
   */
  async function transition(...args: Parameters<SessionStore['transition']>): Promise<Session | null> {
    const updated = await sessions.transition(...args);
    liveSessions.forget(args[0]);
    await changes.sessionChanged(args[0]);
    return updated;
  }

  /**
   * Stores a message through its session's writer (SessionWriters): here,
   * or handed to the instance that writes the session. A session's drafts
   * from this instance follow one route while any of them is on its way, in
   * the order they came, whichever instance stores them; the writer is asked
   * again once none is. When the writer is found gone (it died or drained),
   * every draft still on the route goes again, in its order, to the
   * session's next writer: one the gone writer stored is found there by its
   * cid (`created: false`), and none overtakes another.
   */
  function append(session: Session, draft: Draft, also: string[] = []): Promise<{ message: Message; created: boolean }> {
    const to = unique([...recipients(session), ...also]);
    const target = { id: session.id, siteId: session.siteId, lastSeq: session.lastSeq };
    if (!writers) return appendHere(target, draft, to);
    let route = routes.get(session.id);
    if (!route && (storingHere.has(session.id) || writers.knownWriter(session.id) === writers.self)) {
      // The usual case with one instance, and for the sessions this one writes: nothing of the
      // session is on its way elsewhere, so it is queued here at once, behind what already is. While
      // any is, the next stays here too, whoever the writer has become meanwhile: none overtakes another.
      writers.renew(session.id);
      storingHere.set(session.id, (storingHere.get(session.id) ?? 0) + 1);
      const stored = appendHere(target, draft, to);
      const done = () => {
        const left = storingHere.get(session.id)! - 1;
        if (left > 0) storingHere.set(session.id, left);
        else storingHere.delete(session.id);
      };
      stored.then(done, done);
      return stored;
    }
    if (!route) routes.set(session.id, (route = { writer: writerOf(writers, session.id), move: 0, open: new Set() }));
    const r = route;
    return new Promise((resolve, reject) => {
      const entry: RouteEntry = { target, draft, to, resolve, reject };
      r.open.add(entry);
      sendOnRoute(writers, r, entry);
    });
  }

  /** Sends a draft of the route to the route's writer, and settles it with the answer, or moves the route when the writer is gone. */
  function sendOnRoute(w: SessionWriters, r: Route, e: RouteEntry): void {
    const move = r.move;
    let writer = '';
    r.writer
      .then((chosen) => {
        writer = chosen;
        if (writer === w.self) {
          w.renew(e.target.id);
          return appendHere(e.target, e.draft, e.to);
        }
        return w.forward(writer, { session: e.target, draft: e.draft, to: e.to });
      })
      .then(
        (result) => {
          if (writer !== w.self) noteStored(e.target.id, result.message.seq);
          answered(r, e);
          e.resolve(result);
        },
        (err: unknown) => {
          // moved already, this draft with the rest: the attempt on the new writer answers it
          if (r.move !== move) return;
          if (!(err instanceof WriterGone)) {
            answered(r, e);
            e.reject(err);
            return;
          }
          const now = clock.now().getTime();
          // those gone long ago are named by no key any more (instance ids are never reused)
          for (const [id, until] of goneWriters) if (until < now) goneWriters.delete(id);
          goneWriters.set(writer, now + GONE_FOR_MS);
          r.move += 1;
          r.writer = writerOf(w, e.target.id);
          for (const x of r.open) sendOnRoute(w, r, x);
        },
      );
  }

  /** A draft of the route is answered (once: a move may have sent it twice). */
  function answered(r: Route, e: RouteEntry): void {
    if (!r.open.delete(e)) return;
    if (r.open.size === 0 && routes.get(e.target.id) === r) routes.delete(e.target.id);
  }

  /** The session's writer, passing over one found gone lately; this instance when Redis cannot say (the insert is still the claim). */
  async function writerOf(w: SessionWriters, sessionId: string): Promise<string> {
    try {
      const writer = await w.writerOf(sessionId);
      const goneUntil = goneWriters.get(writer);
      if (goneUntil === undefined) return writer;
      if (goneUntil < clock.now().getTime()) {
        goneWriters.delete(writer); // its sessions' leases are over: the key names it no more (instance ids are never reused)
        return writer;
      }
      return await w.writerOf(sessionId, writer);
    } catch {
      return w.self;
    }
  }

  /** Drafts another instance handed here as their session's writer: stored and pushed as this instance's own, in the order they came. */
  writers?.serve((request) => {
    writers.renew(request.session.id);
    return appendHere(request.session, request.draft, request.to);
  });

  /**
   * Stores a message here, as its session's writer (or finds its earlier
   * copy), and pushes it to the session's recipients. The store is asked at once (it keeps the session's
   * messages in the order asked, several on their way); the pushes leave one
   * after another per session, so recipients hear them in seq order. A push
   * leaves without waiting for the one before it to be acknowledged (the
   * broker keeps the order it was handed them in): a batch's messages of one
   * session then cost the broker one round trip, not one each. Each caller
   * still waits for its own push, so that a push that fails fails its send,
   * whose resend pushes it again (below).
   */
  function appendHere(session: { id: string; siteId: string; lastSeq: number }, draft: Draft, to: string[]) {
    const stored = messages.append({ ...draft, sessionId: session.id, siteId: session.siteId, createdAt: clock.now() }, knownStored(session));
    stored.catch(() => undefined); // awaited in its turn below; a failure before then is not unhandled
    const handed = pushQueue.run(session.id, async () => {
      const { message, created } = await stored;
      noteStored(session.id, message.seq);
      // A resend can find its message stored by a process that died before it recorded or pushed
      // it (the session's lastSeq is still behind it): finish that work now, or nobody ever hears
      // of it. Repeating it is harmless: lastSeq and cursors only move up, connections drop old seqs.
      if (!created && message.seq <= session.lastSeq) return { message, created, pushed: undefined };
      await sessions.noteAppended(session.id, message.seq, message.createdAt, message.from.kind === 'system' ? undefined : message.from.id);
      return { message, created, pushed: fanout.toAccounts(to, { kind: 'message', message }) };
    });
    return handed.then(async ({ message, created, pushed }) => {
      await pushed;
      return { message, created };
    });
  }

  function appendSystem(session: Session, body: MessageBody, also: string[] = []) {
    return append(session, { cid: `sys-${globalThis.crypto.randomUUID()}`, from: SYSTEM_SENDER, type: 'system', body, status: 'ok' }, also);
  }

  /**
   * A state change: every agent of the site hears it (queue views, and the
   * assignees old and new), and so do the visitor and the session's bot.
   */
  async function announce(session: Session) {
    const push = { kind: 'event' as const, sid: session.id, name: 'session' as const, data: { state: session.state, assigneeId: session.assigneeId ?? null, session } };
    await fanout.toSiteAgents(session.siteId, push);
    await fanout.toAccounts([session.visitorId, ...(session.botId ? [session.botId] : [])], push);
  }


  /** The visitor of a session the actor may see, and how far they have read (the workbench shows both). */
  async function sessionVisitor(actor: Actor, id: string): Promise<{ session: Session; visitor: Account | null; visitorReadSeq: number }> {
    const session = await visibleSession(actor, id);
    const [visitor, cursor] = await Promise.all([accounts.get(session.visitorId), cursors.readSeqs(session.visitorId, [id])]);
    return { session, visitor, visitorReadSeq: readPosition(session, session.visitorId, cursor.get(id) ?? 0) };
  }

  async function requireAgent(siteId: string, agentId: string): Promise<Account> {
    const agent = await accounts.get(agentId);
    if (!agent || agent.kind !== 'agent' || agent.siteId !== siteId) throw notFound('agent');
    return agent;
  }

  /** Opens the visitor's session, or returns the one already open (`created: false`). */
  async function startSession(actor: Actor, input: { topic?: string; page?: { url: string; title?: string } }): Promise<{ session: Session; created: boolean }> {
    if (actor.kind !== 'visitor') throw forbidden('only visitors start sessions');
    const site = await sites.get(actor.siteId);
    if (!site) throw notFound('site');
    const botFirst = site.routing.mode === 'bot-first' && site.routing.botId;
    const now = clock.now();
    const { session, created } = await sessions.openForVisitor({
      siteId: actor.siteId,
      state: botFirst ? 'bot' : 'queued',
      visitorId: actor.id,
      ...(botFirst ? { botId: site.routing.botId } : {}),
      ...(input.topic ? { topic: input.topic } : {}),
      ...(input.page ? { page: input.page } : {}),
      lastSeq: 0,
      createdAt: now,
      lastActivityAt: now,
    });
    if (!created) return { session, created };
    await appendSystem(session, { event: 'started' });
    await scheduler.inactivityCheck(session.id, new Date(now.getTime() + limits.inactivityMs));
    await announce(session);
    if (session.state === 'queued') {
      await dispatch(session.siteId);
      return { session: (await sessions.get(session.id)) ?? session, created };
    }
    return { session, created };
  }

  async function acceptSession(actor: Actor, id: string): Promise<Session> {
    if (actor.kind !== 'agent') throw forbidden('only agents accept sessions');
    const s = await visibleSession(actor, id);
    if (s.state !== 'queued') throw conflict(s.state === 'active' ? 'session was already accepted' : `session is ${s.state}`);
    if (!(await accounts.claimSlot(actor.id, id))) throw conflict('you are at capacity: close or transfer a session first');
    const updated = await transition(id, { from: ['queued'] }, { state: 'active', assigneeId: actor.id, acceptedAt: clock.now() });
    if (!updated) {
      await accounts.releaseSlot(actor.id, id);
      throw conflict('session was already accepted');
    }
    await appendSystem(updated, { event: 'accepted', agentId: actor.id, agentName: actor.name });
    await announce(updated);
    return updated;
  }

  async function transferSession(actor: Actor, id: string, input: { toAgentId?: string }): Promise<Session> {
    const s = await visibleSession(actor, id);
    if (!canTransfer(actor, s)) throw s.state === 'closed' ? conflict('session is closed') : forbidden('only the assigned agent or bot may transfer');
    const expect = { from: [s.state], ...(actor.kind === 'agent' ? { assigneeId: actor.id } : { botId: actor.id }) };
    let updated: Session | null;
    let target: Account | undefined;
    if (input.toAgentId) {
      if (input.toAgentId === actor.id) throw badRequest('cannot transfer a session to yourself');
      target = await requireAgent(s.siteId, input.toAgentId);
      if (!(await accounts.claimSlot(target.id, id))) throw conflict(`${target.name} is at capacity`);
      updated = await transition(id, expect, { state: 'active', assigneeId: target.id, acceptedAt: clock.now() });
      if (!updated) await accounts.releaseSlot(target.id, id);
    } else {
      updated = await transition(id, expect, { state: 'queued', ...(actor.kind === 'agent' ? { returnedBy: actor.id } : {}) }, ['assigneeId']);
    }
    if (!updated) throw conflict('session changed meanwhile, reload it');
    if (actor.kind === 'agent') await accounts.releaseSlot(actor.id, id);
    const body: MessageBody = target
      ? { event: 'transferred', fromId: actor.id, fromName: actor.name, toId: target.id, toName: target.name }
      : { event: actor.kind === 'bot' ? 'handoff' : 'transferred', fromId: actor.id, fromName: actor.name };
    await appendSystem(updated, body, [actor.id]);
    await announce(updated);
    if (updated.state === 'queued' || actor.kind === 'agent') await dispatch(updated.siteId);
    return (await sessions.get(id)) ?? updated;
  }

  async function closeSession(closer: Closer, id: string, input: { reason?: string } = {}): Promise<Session> {
    const s = closer.kind === 'system' ? await sessions.get(id) : await visibleSession(closer, id);
    if (!s) throw notFound('session');
    if (s.state === 'closed') throw conflict('session is already closed');
    if (closer.kind !== 'system' && !canClose(closer, s)) throw forbidden('only the visitor, the assigned agent or the bot may close');
    const expect = { from: [s.state], ...(s.assigneeId ? { assigneeId: s.assigneeId } : {}) };
    const updated = await transition(id, expect, { state: 'closed', closedAt: clock.now() });
    if (!updated) throw conflict('session changed meanwhile, reload it');
    const freed = s.state === 'active' && s.assigneeId ? s.assigneeId : undefined;
    if (freed) await accounts.releaseSlot(freed, id);
    const by = closer.kind === 'system' ? { by: 'system' } : { by: closer.kind, byId: closer.id, byName: closer.name };
    const former = [s.assigneeId, s.botId].filter((x): x is string => Boolean(x));
    await appendSystem(updated, { event: 'closed', ...by, ...(input.reason ? { reason: input.reason } : {}) }, former);
    await announce(updated);
    seqHints.delete(id);
    if (freed) await dispatch(updated.siteId);
    return updated;
  }

  /**
   * Checks a chat message and takes its sender's turn; resolves once the
   * message is queued for storing, so that the caller may take the sender's
   * next message meanwhile (the store keeps their order). `stored` resolves
   * once it is stored and pushed; a resend is answered with the stored
   * original. A new message is refused (`rate_limited`) when the limiter says
   * so, or with `refuseNew` when the caller has a reason of its own (the
   * gateway holding a connection's sends behind a refused one).
   */
  async function admitMessage(actor: Actor, id: string, input: { cid: string; text: string }, refuseNew?: AppError): Promise<{ stored: Promise<Message> }> {
    if (input.text.trim() === '') throw badRequest('text must not be empty');
    if (input.text.length > limits.maxTextLength) throw tooLarge(`text exceeds ${limits.maxTextLength} characters`);
    const s = await liveSession(actor, id);
    if (!canSend(actor, s)) {
      // A resend of a message stored just before the session changed still gets its original answer.
      const earlier = await messages.findByCid(id, actor.id, input.cid);
      if (earlier) return { stored: Promise.resolve(earlier) };
      throw s.state === 'closed' ? conflict('session is closed') : forbidden('you are not a participant of this session');
    }
    const refusal = refuseNew ?? (await limit(actor));
    // Only new messages are refused: a resend of a stored one is owed its original answer (append finds it).
    if (refusal && !(await messages.findByCid(id, actor.id, input.cid))) throw refusal;
    const appended = append(s, {
      cid: input.cid,
      from: { id: actor.id, kind: actor.kind, name: actor.name },
      type: 'chat',
      body: { text: input.text },
      status: 'ok',
    });
    return { stored: appended.then((r) => r.message) };
  }

  /** Stores a message and pushes it (admitMessage, waited for to the end). */
  async function sendMessage(actor: Actor, id: string, input: { cid: string; text: string }, refuseNew?: AppError): Promise<Message> {
    return (await admitMessage(actor, id, input, refuseNew)).stored;
  }

  async function markRead(actor: Actor, id: string, seq: number): Promise<number> {
    const s = await liveSession(actor, id);
    if (!isMember(actor, s)) throw forbidden('only participants have a read cursor');
    const known = knownStored(s);
    // the session record may lag the store (another instance stored more): ask the store before clamping
    const last = seq > known ? await messages.lastSeq(id, known) : known;
    const readSeq = readPosition(s, actor.id, await cursors.advance(id, actor.id, Math.min(seq, last)));
    await fanout.toAccounts(unique([...recipients(s), actor.id]), {
      kind: 'event',
      sid: id,
      name: 'read',
      data: { accountId: actor.id, kind: actor.kind, seq: readSeq },
    });
    return readSeq;
  }

  async function typing(actor: Actor, id: string): Promise<void> {
    const s = await liveSession(actor, id);
    if (!isMember(actor, s) || s.state === 'closed') throw forbidden('only participants of an open session type');
    const others = recipients(s).filter((x) => x !== actor.id);
    await fanout.toAccounts(others, { kind: 'event', sid: id, name: 'typing', data: { from: { id: actor.id, kind: actor.kind, name: actor.name } } });
  }

  /** Up to `limit` (at most MAX_HISTORY_PAGE) messages after `after`, and whether more are stored beyond them. */
  async function history(actor: Actor, id: string, after: number, limit: number) {
    const s = await visibleSession(actor, id);
    const page = Math.min(limit, MAX_HISTORY_PAGE);
    // Where the session ends first (a read or two: seqHints is mostly current), then just the seqs
    // that exist: the store reads each seq it is asked for, and a client catching up on a few
    // messages used to cost a whole page of reads, most of them for seqs not stored yet. An
    // `after` past the end (a confused client) asks for none.
    const end = await messages.lastSeq(id, Math.max(knownStored(s), after));
    // One more than the page tells whether more follow; asking the caller for it would be capped away at the largest page.
    const found = end > after ? await messages.after(id, after, Math.min(page + 1, end - after)) : [];
    return { session: s, messages: found.slice(0, page), more: found.length > page };
  }

  /** Messages after `after`, for the gateway's gap filling (no permission check: the caller holds a subscription). */
  function range(sessionId: string, after: number, limit: number) {
    return messages.after(sessionId, after, limit);
  }

  /**
   * The sessions behind the capacity slots an agent holds, each read by
   * `_id` (a session list would scan every session ever stored on FerretDB).
   * Every assignment claims a slot before it happens, and a slot goes only
   * once its session is no longer the agent's, so the agent's active
   * sessions are among these; `holds` tells them from slots a crash left.
   */
  async function slotSessions(agent: Actor) {
    const slots = await accounts.heldSlots(agent.id);
    return Promise.all(slots.map(async (slot) => ({ slot, session: await sessions.get(slot.sessionId) })));
  }

  const holds = (agent: Actor, s: Session | null): s is Session => s !== null && s.state === 'active' && s.assigneeId === agent.id && s.siteId === agent.siteId;

  /** An agent's active sessions, newest first: what every connect of every agent reads. */
  async function activeSessionsOf(agent: Actor): Promise<Session[]> {
    const mine = new Map<string, Session>();
    for (const { session } of await slotSessions(agent)) if (holds(agent, session)) mine.set(session.id, session);
    return [...mine.values()].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime()).slice(0, MAX_LIST);
  }

  function openSessionsOf(actor: Actor): Promise<Session[]> {
    const base = { siteId: actor.siteId, limit: MAX_LIST };
    if (actor.kind === 'visitor') return sessions.openOf(actor.siteId, actor.id).then((s) => (s ? [s] : []));
    if (actor.kind === 'agent') return activeSessionsOf(actor);
    return sessions.list({ ...base, botId: actor.id, states: ['bot'] });
  }

  async function listSessions(actor: Actor, state?: SessionState): Promise<Session[]> {
    const base = { siteId: actor.siteId, limit: MAX_LIST };
    if (actor.kind === 'visitor') return sessions.list({ ...base, visitorId: actor.id, ...(state ? { states: [state] } : {}) });
    if (actor.kind === 'bot') return sessions.list({ ...base, botId: actor.id, ...(state ? { states: [state] } : {}) });
    if (state === 'queued') return sessions.list({ ...base, states: ['queued'] });
    if (state === 'active') return activeSessionsOf(actor);
    if (state) return sessions.list({ ...base, assigneeId: actor.id, states: [state] });
    const [queued, mine] = await Promise.all([sessions.list({ ...base, states: ['queued'] }), activeSessionsOf(actor)]);
    return [...queued, ...mine];
  }

  /**
   * The actor's open sessions with their read position (the WebSocket `ready`
   * frame). `lastSeq` is read from the store, not the session record, so a
   * message stored just before a crash is announced all the same.
   */
  async function overview(actor: Actor) {
    const open = await openSessionsOf(actor);
    const [reads, lasts] = await Promise.all([
      cursors.readSeqs(actor.id, open.map((s) => s.id)),
      // from the furthest this process knows stored: the session record lags (sessions.ts), seqHints less
      Promise.all(open.map((s) => messages.lastSeq(s.id, knownStored(s)))),
    ]);
    return open.map((s, i) => {
      const session = { ...s, lastSeq: lasts[i] ?? s.lastSeq };
      return { session, readSeq: readPosition(session, actor.id, reads.get(s.id) ?? 0) };
    });
  }


  async function unread(actor: Actor): Promise<UnreadSummary> {
    const rows = await overview(actor);
    return summarize(rows.map((r) => ({ id: r.session.id, lastSeq: r.session.lastSeq, readSeq: r.readSeq })));
  }

  /**
   * Auto assignment: gives the oldest queued sessions to the least-loaded
   * online agents with room. Each step is one atomic capacity claim plus one
   * compare-and-set on the session, so concurrent dispatchers (other
   * instances) can never over-assign an agent or assign a session twice.
   */
  function dispatch(siteId: string): Promise<void> {
    // A dispatch that has not started yet will see whatever changed before it starts: callers
    // join it instead of queueing one more (a storm of agents coming online makes one, not N).
    const waiting = pendingDispatches.get(siteId);
    if (waiting) return waiting;
    const run = dispatchQueue.run(siteId, async () => {
      pendingDispatches.delete(siteId);
      const site = await sites.get(siteId);
      if (!site || site.routing.assign !== 'auto') return;
      for (let round = 0; round < MAX_LIST; round++) {
        if (!(await assignOne(siteId))) return;
      }
    });
    pendingDispatches.set(siteId, run);
    return run;
  }

  /** Assigns the oldest queued session that some online agent can take; false when none can be. */
  async function assignOne(siteId: string): Promise<boolean> {
    const waiting = await sessions.list({ siteId, states: ['queued'], limit: DISPATCH_WINDOW });
    if (waiting.length === 0) return false;
    const online = await presence.onlineAgents(siteId);
    if (online.length === 0) return false;
    const candidates = await accounts.agentsWithRoom(siteId, online);
    for (const next of waiting) {
      // an agent who handed a session back to the queue does not get it again automatically
      for (const agent of candidates.filter((c) => c.id !== next.returnedBy)) {
        if (!(await accounts.claimSlot(agent.id, next.id))) continue;
        const updated = await transition(next.id, { from: ['queued'] }, { state: 'active', assigneeId: agent.id, acceptedAt: clock.now() });
        if (!updated) {
          await accounts.releaseSlot(agent.id, next.id);
          return true; // taken meanwhile: look at the queue again
        }
        await appendSystem(updated, { event: 'accepted', agentId: agent.id, agentName: agent.name, auto: true });
        await announce(updated);
        return true;
      }
    }
    return false;
  }


  /**
   * An agent came online: give back slots a crash left taken (claimed for a
   * session they do not hold), then hand out waiting sessions. Only slots
   * older than a claim can take to complete are looked at, so a claim in
   * progress elsewhere is never undone.
   */
  async function agentOnline(agent: Actor): Promise<void> {
    const settled = clock.now().getTime() - SLOT_SETTLE_MS;
    for (const { slot, session } of await slotSessions(agent)) {
      if (slot.since.getTime() <= settled && !holds(agent, session)) await accounts.releaseSlot(agent.id, slot.sessionId);
    }
    await dispatch(agent.siteId);
  }


  /** The inactivity timer fired: close the session if it has been quiet long enough, else check again later. */
  async function checkInactivity(id: string): Promise<'closed' | 'rescheduled' | 'gone'> {
    const s = await sessions.get(id);
    if (!s || s.state === 'closed') return 'gone';
    const due = s.lastActivityAt.getTime() + limits.inactivityMs;
    const now = clock.now().getTime();
    if (due > now) {
      // at least a second out, so a timer firing a little early never reuses its own job id
      await scheduler.inactivityCheck(id, new Date(Math.max(due, now + 1000)));
      return 'rescheduled';
    }
    try {
      await closeSession({ kind: 'system' }, id, { reason: 'inactivity' });
      return 'closed';
    } catch (err) {
      if ((err as { code?: string }).code === 'conflict') return 'gone';
      throw err;
    }
  }

  async function setRouting(siteId: string, routing: Routing) {
    if (routing.mode === 'bot-first') {
      if (!routing.botId) throw badRequest('bot-first routing needs a botId');
      const bot = await accounts.get(routing.botId);
      if (!bot || bot.kind !== 'bot' || bot.siteId !== siteId) throw notFound('bot');
    }
    const site = await sites.setRouting(siteId, routing);
    if (!site) throw notFound('site');
    await dispatch(siteId);
    return site;
  }

  async function setSlowMode(siteId: string, seconds: number): Promise<Site> {
    const site = await sites.setSlowMode(siteId, seconds);
    if (!site) throw notFound('site');
    slowModes.delete(siteId);
    return site;
  }

  return {
    startSession,
    acceptSession,
    transferSession,
    closeSession,
    admitMessage,
    sendMessage,
    markRead,
    typing,
    history,
    range,
    listSessions,
    overview,
    unread,
    dispatch,
    agentOnline,
    checkInactivity,
    setRouting,
    setSlowMode,
    getSession: visibleSession,
    sessionVisitor,
    noteStored,
  };
}

function unique(ids: string[]): string[] {
  return [...new Set(ids)];
}
