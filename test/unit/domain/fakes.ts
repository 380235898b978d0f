/**
 * In-memory implementations of the domain's own ports (src/domain/ports.ts),
 * just enough to run src/domain/chat.ts in a unit test. They keep the
 * contracts that chat.ts relies on — compare-and-set transitions, atomic
 * capacity claims, cid dedup, contiguous seqs — and record what was pushed
 * and scheduled so a test can look. Not a stand-in for MongoDB or Redis:
 * test/integration runs the real stores.
 */
import { type ChatService, createChatService } from '../../../src/domain/chat.js';
import type { Account, Actor, Message, Session, Site } from '../../../src/domain/model.js';
import type {
  AccountStore,
  CursorStore,
  Fanout,
  LimitRefusal,
  MessageLimiter,
  MessageStore,
  Presence,
  Push,
  Scheduler,
  SessionFilter,
  SessionChanges,
  SessionStore,
  SessionWriters,
  SiteStore,
} from '../../../src/domain/ports.js';

/** A clock that moves only when the test says so. */
export class TestClock {
  constructor(private ms = Date.parse('2024-01-01T00:00:00Z')) {}
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

export interface World {
  chat: ChatService;
  clock: TestClock;
  sites: Map<string, Site>;
  accounts: Map<string, Account>;
  sessions: Map<string, Session>;
  messages: Message[];
  /** agent ids with a live connection */
  online: Set<string>;
  pushed: Array<{ to: string[] | { siteAgents: string }; push: Push }>;
  scheduled: Array<{ sessionId: string; at: Date }>;
  /** agent ids, once per successful capacity claim */
  claims: string[];
  /** what the limiter was asked, in order */
  limiterCalls: Array<{ senderId: string; siteId: string; slowModeMs: number }>;
  /** what the limiter answers (default: admit everything) */
  refusal: LimitRefusal | null;
  /** when the broker acknowledges a push to accounts, already recorded in `pushed` (default: at once) */
  pushAck: ((push: Push) => Promise<void>) | undefined;
  /** site reads, to see what is cached */
  siteReads: number;
  /** the seq hint of each append, in order: the append tries the seq after it first */
  appendHints: number[];
  /** the limit of each range read (MessageStore.after), in order: a real store reads each seq it is asked for */
  rangeLimits: number[];
  /** slots an agent holds */
  load(agentId: string): number;
  addSite(routing?: Site['routing']): Site;
  addAgent(siteId: string, opts?: { maxSessions?: number; load?: number; online?: boolean }): Actor;
  addVisitor(siteId: string): Actor;
  /** Another instance of the service over the same stores, its sessions written through `writers`. */
  instance(writers: SessionWriters): ChatService;
}

const matches = (s: Session, f: SessionFilter) =>
  s.siteId === f.siteId &&
  (!f.states || f.states.includes(s.state)) &&
  (!f.visitorId || s.visitorId === f.visitorId) &&
  (!f.assigneeId || s.assigneeId === f.assigneeId) &&
  (!f.botId || s.botId === f.botId);

export function createWorld(limits = { maxTextLength: 1000, inactivityMs: 60_000 }): World {
  const clock = new TestClock();
  let nextId = 0;
  const id = (prefix: string) => `${prefix}${++nextId}`;
  const sites = new Map<string, Site>();
  const accounts = new Map<string, Account>();
  const sessions = new Map<string, Session>();
  const messages: Message[] = [];
  const appendHints: number[] = [];
  const rangeLimits: number[] = [];
  const cursors = new Map<string, number>();
  const online = new Set<string>();
  const pushed: World['pushed'] = [];
  const scheduled: World['scheduled'] = [];
  const claims: string[] = [];
  /** capacity slots per agent: for which session, since when */
  const slots = new Map<string, Array<{ sessionId: string; since: Date }>>();
  const slotsOf = (agentId: string) => {
    let held = slots.get(agentId);
    if (!held) slots.set(agentId, (held = []));
    return held;
  };

  let siteReads = 0;
  const siteStore: SiteStore = {
    async get(siteId) {
      siteReads += 1;
      return sites.get(siteId) ?? null;
    },
    async setSlowMode(siteId, seconds) {
      const site = sites.get(siteId);
      if (!site) return null;
      site.slowModeSeconds = seconds;
      return { ...site };
    },
    async setRouting(siteId, routing) {
      const site = sites.get(siteId);
      if (!site) return null;
      site.routing = routing;
      return { ...site };
    },
  };

  const accountStore: AccountStore = {
    async get(accountId) {
      const a = accounts.get(accountId);
      return a ? { ...a } : null;
    },
    async claimSlot(agentId, sessionId) {
      const a = accounts.get(agentId);
      const held = slotsOf(agentId);
      if (held.some((h) => h.sessionId === sessionId)) return true;
      if (!a || held.length >= (a.maxSessions ?? 0)) return false;
      held.push({ sessionId, since: clock.now() });
      claims.push(agentId);
      return true;
    },
    async releaseSlot(agentId, sessionId) {
      slots.set(agentId, slotsOf(agentId).filter((h) => h.sessionId !== sessionId));
    },
    async heldSlots(agentId) {
      return slotsOf(agentId).map((h) => ({ ...h }));
    },
    async agentsWithRoom(siteId, ids) {
      return [...accounts.values()]
        .filter((a) => a.siteId === siteId && a.kind === 'agent' && ids.includes(a.id) && slotsOf(a.id).length < (a.maxSessions ?? 0))
        .sort((x, y) => slotsOf(x.id).length - slotsOf(y.id).length)
        .map((a) => ({ ...a }));
    },
  };

  const sessionStore: SessionStore = {
    async openForVisitor(draft) {
      const open = [...sessions.values()].find((s) => s.siteId === draft.siteId && s.visitorId === draft.visitorId && s.state !== 'closed');
      if (open) return { session: { ...open }, created: false };
      const session = { ...draft, id: id('s') };
      sessions.set(session.id, session);
      return { session: { ...session }, created: true };
    },
    async get(sessionId) {
      const s = sessions.get(sessionId);
      return s ? { ...s } : null;
    },
    async openOf(siteId, visitorId) {
      const s = [...sessions.values()].find((x) => x.siteId === siteId && x.visitorId === visitorId && x.state !== 'closed');
      return s ? { ...s } : null;
    },
    async transition(sessionId, expect, set, unset = []) {
      const s = sessions.get(sessionId);
      if (!s || !expect.from.includes(s.state)) return null;
      if (expect.assigneeId !== undefined && s.assigneeId !== expect.assigneeId) return null;
      if (expect.botId !== undefined && s.botId !== expect.botId) return null;
      Object.assign(s, set);
      for (const key of unset) delete s[key];
      return { ...s };
    },
    async list(filter) {
      return [...sessions.values()]
        .filter((s) => matches(s, filter))
        .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())
        .slice(0, filter.limit ?? Infinity)
        .map((s) => ({ ...s }));
    },
    async count(filter) {
      return [...sessions.values()].filter((s) => matches(s, filter)).length;
    },
    async noteAppended(sessionId, seq, at, senderId) {
      const s = sessions.get(sessionId);
      if (!s) return;
      s.lastSeq = Math.max(s.lastSeq, seq);
      if (at > s.lastActivityAt) s.lastActivityAt = at;
      if (senderId) s.sentSeq = { ...s.sentSeq, [senderId]: Math.max(s.sentSeq?.[senderId] ?? 0, seq) };
    },
  };

  const messageStore: MessageStore = {
    async append(draft, hint) {
      appendHints.push(hint);
      const earlier = messages.find((m) => m.sessionId === draft.sessionId && m.from.id === draft.from.id && m.cid === draft.cid);
      if (earlier) return { message: earlier, created: false };
      const seq = messages.filter((m) => m.sessionId === draft.sessionId).length + 1;
      const message: Message = { ...draft, id: id('m'), seq };
      messages.push(message);
      return { message, created: true };
    },
    async after(sessionId, after, limit) {
      rangeLimits.push(limit);
      return messages.filter((m) => m.sessionId === sessionId && m.seq > after).slice(0, limit);
    },
    async lastSeq(sessionId, hint) {
      return Math.max(hint, messages.filter((m) => m.sessionId === sessionId).length);
    },
    async findByCid(sessionId, senderId, cid) {
      return messages.find((m) => m.sessionId === sessionId && m.from.id === senderId && m.cid === cid) ?? null;
    },
    noteStored() {},
  };

  const cursorStore: CursorStore = {
    async advance(sessionId, accountId, seq) {
      const key = `${sessionId}/${accountId}`;
      const next = Math.max(cursors.get(key) ?? 0, seq);
      cursors.set(key, next);
      return next;
    },
    async readSeqs(accountId, sessionIds) {
      return new Map(sessionIds.map((sid) => [sid, cursors.get(`${sid}/${accountId}`) ?? 0]));
    },
  };

  const fanout: Fanout = {
    async toAccounts(to, push) {
      pushed.push({ to, push });
      await world.pushAck?.(push);
    },
    async toSiteAgents(siteId, push) {
      pushed.push({ to: { siteAgents: siteId }, push });
    },
  };

  const presence: Presence = {
    async onlineAgents(siteId) {
      return [...online].filter((a) => accounts.get(a)?.siteId === siteId);
    },
  };

  const scheduler: Scheduler = {
    async inactivityCheck(sessionId, at) {
      scheduled.push({ sessionId, at });
    },
  };

  const limiterCalls: World['limiterCalls'] = [];
  const limiter: MessageLimiter = {
    async take(senderId, siteId, slowModeMs) {
      limiterCalls.push({ senderId, siteId, slowModeMs });
      return world.refusal;
    },
  };

  const changeListeners: Array<(sessionId: string | undefined) => void> = [];
  const changes: SessionChanges = {
    async sessionChanged(sessionId) {
      for (const listener of changeListeners) listener(sessionId);
    },
    onSessionChange(listener) {
      changeListeners.push(listener);
    },
  };

  const deps = {
    sites: siteStore,
    accounts: accountStore,
    sessions: sessionStore,
    messages: messageStore,
    cursors: cursorStore,
    fanout,
    presence,
    scheduler,
    limiter,
    changes,
    clock,
    limits,
  };
  const chat = createChatService(deps);

  const actor = (a: Account): Actor => ({ id: a.id, siteId: a.siteId, kind: a.kind as Actor['kind'], name: a.name });

  const world: World = {
    chat,
    clock,
    sites,
    accounts,
    sessions,
    messages,
    online,
    pushed,
    scheduled,
    claims,
    limiterCalls,
    appendHints,
    rangeLimits,
    refusal: null,
    pushAck: undefined,
    get siteReads() {
      return siteReads;
    },
    addSite(routing = { mode: 'human', assign: 'manual' }) {
      const site: Site = { id: id('site'), name: 'Site', siteKey: id('sk'), identitySecret: 'secret', allowedOrigins: [], routing, createdAt: clock.now() };
      sites.set(site.id, site);
      return site;
    },
    load: (agentId) => slotsOf(agentId).length,
    addAgent(siteId, opts = {}) {
      const agent: Account = { id: id('a'), siteId, kind: 'agent', name: `Agent ${nextId}`, maxSessions: opts.maxSessions ?? 5, createdAt: clock.now() };
      accounts.set(agent.id, agent);
      // `load` slots held for sessions this world does not know (taken elsewhere, or left by a crash)
      for (let i = 0; i < (opts.load ?? 0); i++) slotsOf(agent.id).push({ sessionId: `elsewhere-${i}`, since: clock.now() });
      if (opts.online ?? true) online.add(agent.id);
      return actor(agent);
    },
    addVisitor(siteId) {
      const visitor: Account = { id: id('v'), siteId, kind: 'visitor', name: `Visitor ${nextId}`, createdAt: clock.now() };
      accounts.set(visitor.id, visitor);
      return actor(visitor);
    },
    instance: (writers) => createChatService({ ...deps, writers }),
  };
  return world;
}
