/**
 * The broker across instances, on Redis (see broker.ts for the contract).
 *
 * Fan-out is pub/sub: one channel per account and one per site's agents;
 * each instance holds one subscriber connection and subscribes a channel
 * while at least one local handler wants it. Publishing goes over the
 * command connection, so one instance's pushes reach every subscriber in the
 * order it published them.
 *
 * Presence is one set per account (and one per site for its agents) whose
 * members are connections, each naming the instance that holds it (keys.ts).
 * A member is written when its connection opens and removed when it closes,
 * nothing in between. Whether an instance is alive is one key of its own,
 * set with PX = the presence TTL and refreshed every TTL/3 by one command, so
 * the periodic cost of an instance does not grow with its connections.
 * Readers count only members whose instance key exists, and remove the
 * others as they meet them, in one script (one round trip). So an instance
 * that dies without a goodbye drops out of presence within one TTL.
 *
 * An instance whose refresh finds its key gone (it was cut off from Redis or
 * blocked for longer than the TTL, or Redis lost its data) has maybe been
 * pruned: it writes all its members again, a few hundred per pipeline. The
 * sets expire a day after their last addition (so that the members of dead
 * instances that nobody reads do not stay forever), and every instance
 * writes all its members again every quarter of that, so connections that
 * stay open for days stay in. Opens and closes that arrive while a presence
 * write is on its way are gathered into the next one, so a storm of
 * connections costs a few pipelines, not one each.
 *
 * Word of a session's change is its id, published on one channel that every
 * instance subscribes to from the start. Who writes a session is
 * session-writers.ts's.
 */
import type { Redis, Result } from 'ioredis';
import type { Push } from '../domain/ports.js';
import type { Broker, Delivery, PresenceAccount, PushHandler, Unsubscribe } from './broker.js';
import { createGatherer } from '../domain/gatherer.js';
import { decodePush, encodePush } from './codec.js';
import { defineScript } from './define-script.js';
import { brokerKeys, MEMBER_SEPARATOR as SEP } from './keys.js';
import { createRedisSessionWriters } from './session-writers.js';

/** a presence set outlives its last addition by this, unless told otherwise */
const PRESENCE_KEY_TTL_MS = 24 * 3600_000;
/** connections per pipeline when an instance writes all its members again (and when it says goodbye) */
const CHUNK = 250;
/** presence writes (opens and closes) per pipeline at most */
const MAX_WRITE_BATCH = 500;
/** channels per SUBSCRIBE at most */
const MAX_SUBSCRIBE_BATCH = 1000;
/** setInterval's longest delay */
const MAX_TIMER_MS = 2 ** 31 - 1;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /**
     * PRESENCE_LIVE_LUA: the live members of a presence set (those whose
     * instance key exists); the others are removed. `count`: how many;
     * `agents`: the distinct agent ids of a site's agents set.
     */
    presenceLive(setKey: string, instanceKeyPrefix: string, mode: 'count' | 'agents'): Result<number | string[], Context>;
    /** PUBLISH_EACH_LUA: publishes the payload on each channel, in order */
    publishEach(payload: string, ...channels: string[]): Result<number, Context>;
  }
}

/**
 * ARGV[1] a payload, ARGV[2..] channels: PUBLISH on each, in order. One
 * command for a message's recipients instead of one each: every command
 * costs this process a fair share of what a message costs it.
 */
const PUBLISH_EACH_LUA = `
for i = 2, #ARGV do redis.call('PUBLISH', ARGV[i], ARGV[1]) end
return #ARGV - 1
`;

/**
 * KEYS[1] a presence set; ARGV[1] the instance keys' prefix (the key of
 * instance `i` is ARGV[1]..i); ARGV[2] `count` (members `<instance>|<conn>`)
 * or `agents` (members `<agent>|<instance>|<conn>`). Each instance is looked
 * up once. Members of instances whose key is gone, and members that do not
 * parse, are removed.
 */
const PRESENCE_LIVE_LUA = `
local members = redis.call('SMEMBERS', KEYS[1])
local agentsMode = ARGV[2] == 'agents'
local alive = {}
local dead = {}
local agents = {}
local seen = {}
local count = 0
for _, m in ipairs(members) do
  local instance, agent
  local first = string.find(m, '${SEP}', 1, true)
  if first then
    if agentsMode then
      local second = string.find(m, '${SEP}', first + 1, true)
      if second then
        agent = string.sub(m, 1, first - 1)
        instance = string.sub(m, first + 1, second - 1)
      end
    else
      instance = string.sub(m, 1, first - 1)
    end
  end
  local live = false
  if instance then
    live = alive[instance]
    if live == nil then
      live = redis.call('EXISTS', ARGV[1] .. instance) == 1
      alive[instance] = live
    end
  end
  if live then
    count = count + 1
    if agent and not seen[agent] then
      seen[agent] = true
      agents[#agents + 1] = agent
    end
  else
    dead[#dead + 1] = m
  end
end
for i = 1, #dead, 1000 do
  redis.call('SREM', KEYS[1], unpack(dead, i, math.min(i + 999, #dead)))
end
if agentsMode then
  return agents
end
return count
`;

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
  /** How long this instance's connections stay online after it last refreshed its liveness key. */
  presenceTtlMs: number;
  /** How long a presence set outlives its last addition (a day); every instance writes its members again every quarter of it. */
  presenceKeyTtlMs?: number;
  log: BrokerLog;
}

interface Channel {
  handlers: Set<PushHandler>;
  /** settles when Redis confirmed the SUBSCRIBE */
  ready: Promise<void>;
}

interface PendingSubscribe {
  channel: string;
  resolve(): void;
  reject(err: unknown): void;
}

/** A connection's open (+1) or close (-1) waiting for its pipeline. */
interface PresenceWrite {
  account: PresenceAccount;
  connectionId: string;
  delta: 1 | -1;
  resolve(): void;
  reject(err: unknown): void;
}

type Pipeline = ReturnType<Redis['pipeline']>;

export async function createRedisBroker(opts: RedisBrokerOptions): Promise<Broker> {
  const { redis, instanceId, presenceTtlMs: ttl, log } = opts;
  const keyTtlMs = opts.presenceKeyTtlMs ?? PRESENCE_KEY_TTL_MS;
  const keys = brokerKeys(opts.prefix);
  const instanceKey = keys.presenceInstance(instanceId);
  const instanceKeyPrefix = keys.presenceInstance('');
  defineScript(redis, 'presenceLive', { numberOfKeys: 1, lua: PRESENCE_LIVE_LUA });
  defineScript(redis, 'publishEach', { numberOfKeys: 0, lua: PUBLISH_EACH_LUA });

  const channels = new Map<string, Channel>();
  /** this instance's connections in presence, by connection id (keys and members are built when written: they would cost memory on every idle connection) */
  const held = new Map<string, PresenceAccount>();
  /** opens and closes, gathered into one pipeline while the previous one is on its way (in the order they came) */
  const writes = createGatherer<PresenceWrite>({ maxBatch: MAX_WRITE_BATCH, send: (batch) => writeBatch(batch) });
  /**
   * SUBSCRIBEs asked for in one event-loop turn, or while one is on its way,
   * leave as one command: a storm of connects (an instance's clients moving
   * here after it died) costs a few writes instead of one each.
   */
  const subscribes = createGatherer<PendingSubscribe>({
    maxBatch: MAX_SUBSCRIBE_BATCH,
    send: async (batch) => {
      try {
        await sub.subscribe(...batch.map((p) => p.channel));
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    },
  });
  let closed = false;
  let refreshing = false;
  /** every held member must be written again: the liveness key was gone, a pass failed, or the sets' expiry is due */
  let reassertDue = false;
  let reasserting = false;

  // named, so that an operator can tell it in CLIENT LIST
  const sub = redis.duplicate({ connectionName: `${opts.prefix}:broker-sub:${instanceId}`, enableAutoPipelining: false });
  let lost = false;
  const changeListeners: Array<(sessionId: string | undefined) => void> = [];
  /** word of a change of the session, or (undefined) that word may be missed */
  function heardChange(sessionId: string | undefined): void {
    for (const listener of changeListeners) {
      try {
        listener(sessionId);
      } catch (err) {
        log.error({ err }, 'broker: a listener of session changes failed');
      }
    }
  }
  sub.on('error', (err) => log.warn({ err }, 'broker subscriber: redis error'));
  sub.on('close', () => {
    if (closed || lost) return;
    lost = true;
    log.warn({}, 'broker subscriber lost its redis connection; reconnecting');
    heardChange(undefined); // from now on until it is back, changes go unheard
  });
  const lossListeners: Array<() => void> = [];
  sub.on('ready', () => {
    if (!lost) return;
    lost = false;
    log.warn({ channels: channels.size }, 'broker subscriber reconnected; pushes published while it was away were lost');
    // ioredis has sent the SUBSCRIBEs again by now (before 'ready' is emitted); the PING's answer
    // comes after theirs, so every channel is live again when the listeners hear of the loss
    sub.ping().then(
      () => {
        if (closed || lost) return; // lost again: the next 'ready' tells
        heardChange(undefined); // and whatever was read while it was away
        for (const listener of lossListeners) {
          try {
            listener();
          } catch (err) {
            log.error({ err }, 'broker: a listener of lost pushes failed');
          }
        }
      },
      () => undefined, // the connection dropped again: so does this round
    );
  });
  // A message is published once per member account, so this instance mostly hears the same text
  // twice in a row: decoded once, shared by the handlers (which must not change a push).
  let lastText: string | undefined;
  let lastPush: Delivery | undefined;
  const writers = createRedisSessionWriters({ redis, keys, instanceId, log, unsubscribe: (channel) => sub.unsubscribe(channel) });
  sub.on('message', (channel: string, text: string) => {
    if (channel === writers.channel) {
      writers.heard(text);
      return;
    }
    if (channel === keys.sessionChanges) {
      heardChange(text);
      return;
    }
    const entry = channels.get(channel);
    if (!entry) return;
    let push: Delivery;
    try {
      push = text === lastText ? lastPush! : decodePush(text);
      lastText = text;
      lastPush = push;
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
  try {
    // other instances hand this one the drafts of the sessions it writes from now on, and tell it of sessions' changes
    await sub.subscribe(writers.channel, keys.sessionChanges);
    // alive before the first connection is written, so that no reader prunes it
    await redis.set(instanceKey, '1', 'PX', ttl);
  } catch (err) {
    sub.disconnect();
    throw err;
  }

  const refreshTimer = setInterval(() => void refresh(), Math.max(1, Math.floor(ttl / 3)));
  refreshTimer.unref();
  const reassertTimer = setInterval(
    () => {
      reassertDue = true;
      void reassert();
    },
    Math.min(MAX_TIMER_MS, Math.max(1, Math.floor(keyTtlMs / 4))),
  );
  reassertTimer.unref();

  async function subscribe(channel: string, handler: PushHandler): Promise<Unsubscribe> {
    if (closed) throw new Error('the broker is closed');
    let entry = channels.get(channel);
    if (!entry) {
      // An UNSUBSCRIBE of the channel went out before this (its entry was gone first), so this one wins.
      const created: Channel = { handlers: new Set(), ready: new Promise<void>((resolve, reject) => subscribes.add({ channel, resolve, reject })) };
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

  /** Calls `add(key, member)` for each presence set the connection is a member of. */
  function eachMember(account: PresenceAccount, connectionId: string, add: (key: string, member: string) => void): void {
    add(keys.presenceAccount(account.id), `${instanceId}${SEP}${connectionId}`);
    if (account.kind === 'agent') add(keys.presenceSiteAgents(account.siteId), `${account.id}${SEP}${instanceId}${SEP}${connectionId}`);
  }

  function pushTo(byKey: Map<string, string[]>) {
    return (key: string, member: string) => {
      const list = byKey.get(key);
      if (list) list.push(member);
      else byKey.set(key, [member]);
    };
  }

  /**
   * Adds the members to their sets, one SADD and one PEXPIRE per set; returns
   * the index of each set's SADD in the pipeline (its PEXPIRE follows it).
   */
  function addMembers(pipeline: Pipeline, byKey: Map<string, string[]>): Map<string, number> {
    const at = new Map<string, number>();
    for (const [key, members] of byKey) {
      at.set(key, pipeline.length);
      pipeline.sadd(key, ...members).pexpire(key, keyTtlMs);
    }
    return at;
  }

  /**
   * Refreshes this instance's liveness key: one command, however many
   * connections it holds. When the key was gone, readers may have pruned
   * its members: they are written again.
   */
  async function refresh(): Promise<void> {
    // a refresh that has not come back (Redis away) is not stacked up behind
    if (closed || refreshing) return;
    refreshing = true;
    try {
      const previous = await redis.set(instanceKey, '1', 'PX', ttl, 'GET');
      if (previous === null && !closed) {
        reassertDue = true;
        log.warn({ connections: held.size }, 'broker: this instance had dropped out of presence (its liveness key was gone); writing its connections again');
      }
    } catch (err) {
      log.warn({ err }, 'broker: presence refresh failed; retrying on the next tick');
    } finally {
      refreshing = false;
    }
    // also retries a pass that failed
    if (reassertDue) void reassert();
  }

  /**
   * Writes every member this instance holds again, CHUNK connections per
   * pipeline, one pipeline at a time; again from the start if asked to while
   * at it. A member is only ever written while its connection is held, and
   * the close of a connection goes out after any write of its member, over the
   * same connection: a closed connection is never put back.
   */
  async function reassert(): Promise<void> {
    if (reasserting) return;
    reasserting = true;
    try {
      while (reassertDue && !closed) {
        reassertDue = false;
        try {
          await writeHeld();
        } catch (err) {
          reassertDue = true; // the next refresh tries again
          log.warn({ err }, 'broker: writing this instance’s presence again failed; retrying on the next refresh');
          return;
        }
      }
    } finally {
      reasserting = false;
    }
  }

  async function writeHeld(): Promise<void> {
    let byKey = new Map<string, string[]>();
    let add = pushTo(byKey);
    let inChunk = 0;
    // the iterator sees the map as it is now: connections closed meanwhile are skipped
    for (const [connectionId, account] of held) {
      eachMember(account, connectionId, add);
      if (++inChunk < CHUNK) continue;
      const pipeline = redis.pipeline();
      addMembers(pipeline, byKey);
      replies(await pipeline.exec());
      if (closed) return;
      byKey = new Map();
      add = pushTo(byKey);
      inChunk = 0;
    }
    if (inChunk === 0 || closed) return;
    const pipeline = redis.pipeline();
    addMembers(pipeline, byKey);
    replies(await pipeline.exec());
  }

  /**
   * One pipeline for a batch of opens and closes: per set, one SADD (and
   * PEXPIRE) of what opened and one SREM of what closed. A connection's last
   * word in the batch wins (an open then a close is a close); each caller
   * learns the outcome of its connection's commands.
   */
  async function writeBatch(batch: PresenceWrite[]): Promise<void> {
    const last = new Map<string, PresenceWrite>();
    for (const w of batch) last.set(w.connectionId, w);
    const adds = new Map<string, string[]>();
    const removes = new Map<string, string[]>();
    const [toAdds, toRemoves] = [pushTo(adds), pushTo(removes)];
    for (const w of last.values()) eachMember(w.account, w.connectionId, w.delta > 0 ? toAdds : toRemoves);
    const pipeline = redis.pipeline();
    const addAt = addMembers(pipeline, adds);
    const removeAt = new Map<string, number>();
    for (const [key, members] of removes) {
      removeAt.set(key, pipeline.length);
      pipeline.srem(key, ...members);
    }
    let results: Array<[Error | null, unknown]> | null;
    try {
      results = await pipeline.exec();
      if (!results) throw new Error('redis pipeline was aborted');
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    const failed = (index: number | undefined, span: number): Error | null => {
      if (index === undefined) return null;
      for (let i = index; i < index + span; i++) if (results[i]?.[0]) return results[i]![0];
      return null;
    };
    const errorOf = (w: PresenceWrite): Error | null => {
      const [at, span] = w.delta > 0 ? [addAt, 2] : [removeAt, 1];
      let found: Error | null = null;
      eachMember(w.account, w.connectionId, (key) => {
        found ??= failed(at.get(key), span);
      });
      return found;
    };
    const outcome = new Map<PresenceWrite, Error | null>();
    for (const final of last.values()) outcome.set(final, errorOf(final));
    for (const w of batch) {
      const err = outcome.get(last.get(w.connectionId)!);
      if (err) w.reject(err);
      else w.resolve();
    }
  }

  async function publish(channelNames: string[], push: Push): Promise<void> {
    if (channelNames.length === 0) return;
    const payload = encodePush(push);
    // The connection auto-pipelines (plugins/redis.ts): every publish of this event-loop turn, this
    // push's and other messages', leaves in one write, in the order called.
    if (channelNames.length === 1) await redis.publish(channelNames[0]!, payload);
    else await redis.publishEach(payload, ...channelNames);
  }

  return {
    writers,
    toAccounts: (ids, push) => publish(ids.map(keys.account), push),
    toSiteAgents: (siteId, push) => publish([keys.siteAgents(siteId)], push),
    subscribeAccount: (id, handler) => subscribe(keys.account(id), handler),
    subscribeSiteAgents: (siteId, handler) => subscribe(keys.siteAgents(siteId), handler),

    connected(account, connectionId, delta) {
      if (closed) return Promise.resolve();
      if (delta > 0) held.set(connectionId, account);
      else held.delete(connectionId);
      return new Promise<void>((resolve, reject) => writes.add({ account, connectionId, delta, resolve, reject }));
    },

    onPushesLost(listener) {
      lossListeners.push(listener);
    },

    async devices(accountId) {
      return Number(await redis.presenceLive(keys.presenceAccount(accountId), instanceKeyPrefix, 'count'));
    },

    async onlineAgents(siteId) {
      return (await redis.presenceLive(keys.presenceSiteAgents(siteId), instanceKeyPrefix, 'agents')) as string[];
    },

    async sessionChanged(sessionId) {
      await redis.publish(keys.sessionChanges, sessionId);
    },

    onSessionChange(listener) {
      changeListeners.push(listener);
    },

    async close() {
      if (closed) return;
      closed = true;
      writers.close();
      clearInterval(refreshTimer);
      clearInterval(reassertTimer);
      // writes not sent yet are overtaken by the goodbye (pipelines already sent go before it)
      for (const w of writes.close()) w.resolve();
      for (const p of subscribes.close()) p.reject(new Error('the broker is closed'));
      const leaving = [...held];
      held.clear();
      channels.clear();
      try {
        // without its liveness key, readers count none of this instance's members from now on (and prune them)
        await redis.del(instanceKey);
        for (let i = 0; i < leaving.length; i += CHUNK) {
          const byKey = new Map<string, string[]>();
          const add = pushTo(byKey);
          for (const [connectionId, account] of leaving.slice(i, i + CHUNK)) eachMember(account, connectionId, add);
          const goodbye = redis.pipeline();
          for (const [key, members] of byKey) goodbye.srem(key, ...members);
          replies(await goodbye.exec());
        }
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
