/**
 * The broker across instances, on Redis (see broker.ts for the contract).
 *
 * Fan-out is pub/sub: one channel per account and one per site's agents;
 * each instance holds one subscriber connection and subscribes a channel
 * while at least one local handler wants it. Publishing goes over the
 * command connection, so one instance's pushes reach every subscriber in the
 * order it published them.
 *
 * Presence is one sorted set per account (and one per site for its agents)
 * whose members are connections and whose scores are expiry times (ms since
 * the epoch, by the writing instance's clock: instances' clocks must agree
 * to well within the TTL). An instance re-scores everything it holds every
 * TTL/3 in one pipeline; readers count only members that have not expired,
 * and prune expired ones now and then. So an instance that dies without a
 * goodbye drops out of presence within one TTL, and one that was only cut
 * off for a while puts its connections back on its next refresh.
 *
 * A session stamp is a counter (INCR) under its own key, whose expiry each
 * bump pushes a day out.
 */
import type { Redis } from 'ioredis';
import type { Push } from '../domain/ports.js';
import type { Broker, PresenceAccount, PushHandler, Unsubscribe } from './broker.js';
import { decodePush, encodePush } from './codec.js';
import { brokerKeys, MEMBER_SEPARATOR as SEP } from './keys.js';

/** a session's stamp outlives its last transition by this (a quiet session is closed long before) */
const STAMP_TTL_MS = 24 * 3600_000;

export interface BrokerLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface RedisBrokerOptions {
  /** Command connection (publishes, presence); the broker duplicates it to subscribe and never closes it. */
  redis: Redis;
  /** Prefix of every channel and key. */
  prefix: string;
  /** Unique per running instance (host, pid and a random part). */
  instanceId: string;
  /** How long a connection stays online after its instance last refreshed it. */
  presenceTtlMs: number;
  log: BrokerLog;
  /** Clock for presence expiry (ms); tests may inject one. */
  now?: () => number;
}

interface Channel {
  handlers: Set<PushHandler>;
  /** settles when Redis confirmed the SUBSCRIBE */
  ready: Promise<void>;
}

interface Members {
  accountKey: string;
  accountMember: string;
  siteKey?: string;
  siteMember?: string;
}

export async function createRedisBroker(opts: RedisBrokerOptions): Promise<Broker> {
  const { redis, instanceId, presenceTtlMs: ttl, log } = opts;
  const now = opts.now ?? Date.now;
  const keys = brokerKeys(opts.prefix);
  // A key outlives its members' scores, so clock differences between instances never drop a live member's key.
  const keyTtlMs = 2 * ttl;

  const channels = new Map<string, Channel>();
  /** this instance's connections in presence, by connection id (keys and members are built when written: they would cost memory on every idle connection) */
  const held = new Map<string, PresenceAccount>();
  /** presence keys this instance pruned lately, and when */
  const pruned = new Map<string, number>();
  let closed = false;
  let refreshing = false;

  // named, so that an operator can tell it in CLIENT LIST
  const sub = redis.duplicate({ connectionName: `${opts.prefix}:broker-sub:${instanceId}` });
  let lost = false;
  sub.on('error', (err) => log.warn({ err }, 'broker subscriber: redis error'));
  sub.on('close', () => {
    if (closed || lost) return;
    lost = true;
    log.warn({}, 'broker subscriber lost its redis connection; reconnecting');
  });
  sub.on('ready', () => {
    if (!lost) return;
    lost = false;
    // ioredis subscribes again by itself; what was published meanwhile is gone (clients close the gaps by seq)
    log.warn({ channels: channels.size }, 'broker subscriber reconnected; pushes published while it was away were lost');
  });
  sub.on('message', (channel: string, text: string) => {
    const entry = channels.get(channel);
    if (!entry) return;
    let push: Push;
    try {
      push = decodePush(text);
    } catch (err) {
      log.error({ err, channel }, 'broker: dropped a push that does not decode');
      return;
    }
    for (const handler of entry.handlers) {
      try {
        handler(push);
      } catch (err) {
        log.error({ err, channel }, 'broker: push handler failed');
      }
    }
  });
  if (sub.status === 'wait') {
    try {
      await sub.connect();
    } catch (err) {
      sub.disconnect(); // else it keeps retrying for a broker nobody holds
      throw err;
    }
  }

  const timer = setInterval(() => void refresh(), Math.max(1, Math.floor(ttl / 3)));
  timer.unref();

  async function subscribe(channel: string, handler: PushHandler): Promise<Unsubscribe> {
    if (closed) throw new Error('the broker is closed');
    let entry = channels.get(channel);
    if (!entry) {
      const created: Channel = { handlers: new Set(), ready: sub.subscribe(channel).then(() => undefined) };
      created.ready.catch(() => {
        if (channels.get(channel) === created) channels.delete(channel);
      });
      channels.set(channel, created);
      entry = created;
    }
    const current = entry;
    current.handlers.add(handler);
    try {
      await current.ready;
    } catch (err) {
      current.handlers.delete(handler);
      throw err;
    }
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      current.handlers.delete(handler);
      if (current.handlers.size > 0 || channels.get(channel) !== current) return;
      channels.delete(channel);
      // a SUBSCRIBE for the same channel sent after this goes after it on the connection, so it wins
      if (!closed) await sub.unsubscribe(channel);
    };
  }

  function membersOf(account: PresenceAccount, connectionId: string): Members {
    const entry: Members = {
      accountKey: keys.presenceAccount(account.id),
      accountMember: `${instanceId}${SEP}${connectionId}`,
    };
    if (account.kind === 'agent') {
      entry.siteKey = keys.presenceSiteAgents(account.siteId);
      entry.siteMember = `${account.id}${SEP}${instanceId}${SEP}${connectionId}`;
    }
    return entry;
  }

  /** Re-scores every connection this instance holds, one pipeline for all. */
  async function refresh(): Promise<void> {
    const at = now();
    for (const [key, when] of pruned) if (at - when >= ttl) pruned.delete(key);
    // a refresh that has not come back (Redis away) is not stacked up behind
    if (closed || refreshing || held.size === 0) return;
    refreshing = true;
    try {
      const byKey = new Map<string, string[]>();
      const add = (key: string, member: string) => {
        const list = byKey.get(key);
        if (list) list.push(member);
        else byKey.set(key, [member]);
      };
      for (const [connectionId, account] of held) {
        const h = membersOf(account, connectionId);
        add(h.accountKey, h.accountMember);
        if (h.siteKey && h.siteMember) add(h.siteKey, h.siteMember);
      }
      const expiry = at + ttl;
      const pipeline = redis.pipeline();
      for (const [key, members] of byKey) {
        pipeline.zadd(key, ...members.flatMap((m) => [expiry, m]));
        pipeline.pexpire(key, keyTtlMs);
      }
      replies(await pipeline.exec());
    } catch (err) {
      log.warn({ err }, 'broker: presence refresh failed; retrying on the next tick');
    } finally {
      refreshing = false;
    }
  }

  /** Adds a prune of `key` to `pipeline` if this instance has not pruned it within a TTL. */
  function maybePrune(pipeline: ReturnType<Redis['pipeline']>, key: string, at: number): void {
    const last = pruned.get(key);
    if (last !== undefined && at - last < ttl) return;
    pruned.set(key, at);
    pipeline.zremrangebyscore(key, '-inf', at);
  }

  async function publish(channelNames: string[], push: Push): Promise<void> {
    if (channelNames.length === 0) return;
    const payload = encodePush(push);
    if (channelNames.length === 1) {
      await redis.publish(channelNames[0]!, payload);
      return;
    }
    const pipeline = redis.pipeline();
    for (const channel of channelNames) pipeline.publish(channel, payload);
    replies(await pipeline.exec());
  }

  return {
    toAccounts: (ids, push) => publish(ids.map(keys.account), push),
    toSiteAgents: (siteId, push) => publish([keys.siteAgents(siteId)], push),
    subscribeAccount: (id, handler) => subscribe(keys.account(id), handler),
    subscribeSiteAgents: (siteId, handler) => subscribe(keys.siteAgents(siteId), handler),

    async connected(account, connectionId, delta) {
      if (closed) return;
      const h = membersOf(account, connectionId);
      const pipeline = redis.pipeline();
      if (delta > 0) {
        held.set(connectionId, account);
        const expiry = now() + ttl;
        pipeline.zadd(h.accountKey, expiry, h.accountMember).pexpire(h.accountKey, keyTtlMs);
        if (h.siteKey && h.siteMember) pipeline.zadd(h.siteKey, expiry, h.siteMember).pexpire(h.siteKey, keyTtlMs);
      } else {
        held.delete(connectionId);
        pipeline.zrem(h.accountKey, h.accountMember);
        if (h.siteKey && h.siteMember) pipeline.zrem(h.siteKey, h.siteMember);
      }
      replies(await pipeline.exec());
    },

    async devices(accountId) {
      const key = keys.presenceAccount(accountId);
      const at = now();
      const pipeline = redis.pipeline();
      maybePrune(pipeline, key, at);
      pipeline.zcount(key, `(${at}`, '+inf');
      const results = replies(await pipeline.exec());
      return Number(results.at(-1));
    },

    async onlineAgents(siteId) {
      const key = keys.presenceSiteAgents(siteId);
      const at = now();
      const pipeline = redis.pipeline();
      maybePrune(pipeline, key, at);
      pipeline.zrangebyscore(key, `(${at}`, '+inf');
      const members = replies(await pipeline.exec()).at(-1) as string[];
      return [...new Set(members.map((m) => m.slice(0, m.indexOf(SEP))))];
    },

    async sessionStamp(sessionId) {
      return Number((await redis.get(keys.sessionStamp(sessionId))) ?? 0);
    },

    async bumpSessionStamp(sessionId) {
      const key = keys.sessionStamp(sessionId);
      replies(await redis.pipeline().incr(key).pexpire(key, STAMP_TTL_MS).exec());
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      const goodbye = redis.pipeline();
      for (const [connectionId, account] of held) {
        const h = membersOf(account, connectionId);
        goodbye.zrem(h.accountKey, h.accountMember);
        if (h.siteKey && h.siteMember) goodbye.zrem(h.siteKey, h.siteMember);
      }
      held.clear();
      channels.clear();
      pruned.clear();
      try {
        if (goodbye.length > 0) replies(await goodbye.exec());
      } catch (err) {
        log.warn({ err }, 'broker: presence goodbye failed; the connections expire within the presence TTL');
      }
      await sub.quit().catch(() => sub.disconnect());
    },
  };
}

/** The replies of a pipeline, or the first error in it. */
function replies(results: Array<[Error | null, unknown]> | null): unknown[] {
  if (!results) throw new Error('redis pipeline was aborted');
  for (const [err] of results) if (err) throw err;
  return results.map(([, value]) => value);
}
