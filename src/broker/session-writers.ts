/**
 * One writer per session, on Redis (the SessionWriters port in
 * domain/ports.ts; domain/chat.ts routes each message to its session's
 * writer).
 *
 * A session's writer is one key holding the writer's instance id, set with a
 * lease that the writer renews while it writes the session (WRITER_LEASE_MS):
 * a writer that stops writing it, or dies, stops being its writer once the
 * lease runs out, and whoever writes it next becomes the writer. Asking is
 * one script call for every session asked about in one event-loop turn.
 *
 * Drafts travel on the writer's own channel (`instance(id)`), answers on the
 * asker's, as JSON:
 * - a draft: `{"q":<request id>,"i":<asker>,"s":{"id","siteId","lastSeq"},"d":<draft>,"to":[recipients]}`
 * - an answer: `{"r":<request id>,"m":<message>,"c":<created>}`, or
 *   `{"r":<request id>,"e":{"code","message","retryAfterMs"}}` for a refusal.
 * PUBLISH answers how many subscribers got a draft: none means the writer is
 * gone (it died, or drained and unsubscribed), which the asker learns at once
 * instead of after a timeout.
 */
import type { Redis, Result } from 'ioredis';
import { createGatherer } from '../domain/gatherer.js';
import type { Message } from '../domain/model.js';
import { type ForwardedAppend, type SessionWriters, WriterGone } from '../domain/ports.js';
import { AppError, type ErrorCode, ERROR_STATUS, unavailable } from '../errors.js';
import { isRecord } from './codec.js';
import { defineScript } from './define-script.js';
import type { BrokerKeys } from './keys.js';

/** a writer that stops renewing (it stopped writing the session, or died) is the writer this long at most */
export const WRITER_LEASE_MS = 5000;
/**
 * An answer to "who writes this session" is used this long without asking
 * again, and a writer renews its lease on a session it writes at most this
 * often: a session whose messages come one at a time costs a script call a
 * second, not one a message. Safe either way: this instance's own lease has
 * 4 s left when the answer expires, and a writer named by an older answer
 * that died is found gone at the next draft handed to it.
 */
const KNOWN_FOR_MS = WRITER_LEASE_MS / 5;
/**
 * A draft handed to a writer that has not answered within this is refused
 * (`unavailable`): the writer is alive (it got the draft) but stuck. It may
 * still store it; the sender's resend then finds it by its cid.
 */
export const FORWARD_TIMEOUT_MS = 10_000;
/** what a sender is told to wait after a refusal of this kind */
const RETRY_MS = 1000;
const MAX_ASK_BATCH = 1000;
/** answers kept; past this the oldest half is forgotten (asked again) */
const MAX_KNOWN = 50_000;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** WRITER_OF_LUA */
    sessionWriters(...args: Array<string | number>): Result<string[], Context>;
  }
}

/**
 * KEYS: each session's writer key; ARGV[1] this instance, ARGV[2] the lease,
 * ARGV[2 + i] the instance found gone for KEYS[i] ('' if none). Per session,
 * its writer, made this instance (with a fresh lease) when there was none,
 * it was this one, or it was the gone one.
 */
const WRITER_OF_LUA = `
local out = {}
for i = 1, #KEYS do
  local holder = redis.call('GET', KEYS[i])
  if not holder or holder == ARGV[1] or holder == ARGV[2 + i] then
    redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
    out[i] = ARGV[1]
  else
    out[i] = holder
  end
end
return out
`;

interface Ask {
  sessionId: string;
  gone: string;
  resolve(writer: string): void;
  reject(err: unknown): void;
}

interface Pending {
  /** the writer it was handed to */
  writer: string;
  resolve(result: { message: Message; created: boolean }): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout;
}

type Handler = (request: ForwardedAppend) => Promise<{ message: Message; created: boolean }>;

export interface RedisSessionWriters extends SessionWriters {
  /** the channel this instance hears drafts and answers on (the broker subscribes its connection to it) */
  readonly channel: string;
  /** a text the broker's subscriber heard on `channel` */
  heard(text: string): void;
  /** Refuses every draft still waiting for an answer (the broker is closing). */
  close(): void;
}

export interface SessionWritersOptions {
  /** command connection: scripts, drafts and answers */
  redis: Redis;
  keys: BrokerKeys;
  instanceId: string;
  /** unsubscribes the broker's subscriber from `channel` */
  unsubscribe(channel: string): Promise<unknown>;
  log: { warn(obj: object, msg: string): void };
}

export function createRedisSessionWriters(opts: SessionWritersOptions): RedisSessionWriters {
  const { redis, keys, instanceId: self, log } = opts;
  defineScript(redis, 'sessionWriters', { lua: WRITER_OF_LUA });
  const channel = keys.instance(self);
  const pending = new Map<number, Pending>();
  /** per session, its writer as last asked, and when */
  const known = new Map<string, { writer: string; at: number }>();
  /** sessions whose renewal is on its way */
  const renewing = new Set<string>();
  let nextRequest = 1;
  let handler: Handler | undefined;
  let closed = false;

  const asks = createGatherer<Ask>({
    maxBatch: MAX_ASK_BATCH,
    send: async (batch) => {
      try {
        const writers = await redis.sessionWriters(batch.length, ...batch.map((a) => keys.sessionWriter(a.sessionId)), self, WRITER_LEASE_MS, ...batch.map((a) => a.gone));
        const now = Date.now();
        batch.forEach((a, i) => {
          const writer = writers[i]!;
          remember(a.sessionId, writer, now);
          a.resolve(writer);
        });
      } catch (err) {
        for (const a of batch) a.reject(err);
      }
    },
  });

  function remember(sessionId: string, writer: string, at: number): void {
    if (known.size >= MAX_KNOWN && !known.has(sessionId)) {
      let drop = known.size / 2;
      for (const id of known.keys()) {
        if (drop-- <= 0) break;
        known.delete(id);
      }
    }
    known.set(sessionId, { writer, at });
  }

  function knownWriter(sessionId: string): string | undefined {
    const last = known.get(sessionId);
    return last && Date.now() - last.at < KNOWN_FOR_MS ? last.writer : undefined;
  }

  /** No more asking or handing on (a drain or the broker's close). */
  function stop(): void {
    if (closed) return;
    closed = true;
    for (const a of asks.close()) a.reject(unavailable('the instance is shutting down', RETRY_MS));
  }

  function writerOf(sessionId: string, gone = ''): Promise<string> {
    if (closed) return Promise.reject(unavailable('the instance is shutting down', RETRY_MS));
    const last = knownWriter(sessionId);
    if (last !== undefined && last !== gone) return Promise.resolve(last);
    return new Promise((resolve, reject) => asks.add({ sessionId, gone, resolve, reject }));
  }

  function answer(to: string, body: Record<string, unknown>): void {
    redis.publish(keys.instance(to), JSON.stringify(body)).catch((err) => log.warn({ err }, 'session writers: an answer could not be sent; the asker times out'));
  }

  function serveRequest(request: { q: number; i: string; s: ForwardedAppend['session']; d: ForwardedAppend['draft']; to: string[] }): void {
    if (!handler) {
      answer(request.i, { r: request.q, e: { code: 'unavailable', message: 'this instance does not store messages yet, send it again', retryAfterMs: RETRY_MS } });
      return;
    }
    handler({ session: request.s, draft: request.d, to: request.to }).then(
      ({ message, created }) => answer(request.i, { r: request.q, m: message, c: created }),
      (err: unknown) => {
        const e = err instanceof AppError ? err : unavailable('the message could not be stored, send it again', RETRY_MS);
        answer(request.i, { r: request.q, e: { code: e.code, message: e.message, ...(e.retryAfterMs === undefined ? {} : { retryAfterMs: e.retryAfterMs }) } });
      },
    );
  }

  function settle(answer: { r: number; m?: Message & { createdAt: string }; c?: boolean; e?: { code: string; message: string; retryAfterMs?: number } }): void {
    const waiting = pending.get(answer.r);
    if (!waiting) return; // timed out already
    pending.delete(answer.r);
    clearTimeout(waiting.timer);
    if (answer.m) {
      waiting.resolve({ message: { ...answer.m, createdAt: new Date(answer.m.createdAt) }, created: answer.c === true });
      return;
    }
    const code = (answer.e?.code ?? 'unavailable') as ErrorCode;
    waiting.reject(new AppError(code in ERROR_STATUS ? code : 'unavailable', answer.e?.message ?? 'the message could not be stored', answer.e?.retryAfterMs));
  }

  return {
    self,
    channel,
    writerOf,
    knownWriter,

    renew(sessionId) {
      const last = known.get(sessionId);
      if ((last?.writer === self && Date.now() - last.at < KNOWN_FOR_MS) || renewing.has(sessionId)) return;
      renewing.add(sessionId);
      // a lapsed lease is taken again by whoever writes next
      writerOf(sessionId)
        .catch(() => undefined)
        .finally(() => renewing.delete(sessionId));
    },

    async forward(instanceId, request) {
      if (closed) throw unavailable('the instance is shutting down', RETRY_MS);
      const q = nextRequest++;
      const answered = new Promise<{ message: Message; created: boolean }>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(q);
          reject(unavailable('the message was not confirmed in time, send it again', RETRY_MS));
        }, FORWARD_TIMEOUT_MS);
        pending.set(q, { writer: instanceId, resolve, reject, timer });
      });
      answered.catch(() => undefined); // awaited below, unless the publish fails first
      let heardBy: number;
      try {
        heardBy = await redis.publish(keys.instance(instanceId), JSON.stringify({ q, i: self, s: request.session, d: request.draft, to: request.to }));
      } catch (err) {
        clearTimeout(pending.get(q)?.timer);
        pending.delete(q);
        throw Object.assign(unavailable('the message could not be handed on, send it again', RETRY_MS), { cause: err });
      }
      if (heardBy === 0) {
        // and so are the answers still owed by it: whatever it stored of them, a resend finds by its cid
        for (const [k, p] of pending) {
          if (p.writer !== instanceId) continue;
          clearTimeout(p.timer);
          pending.delete(k);
          if (k !== q) p.reject(new WriterGone(instanceId));
        }
        throw new WriterGone(instanceId);
      }
      return answered;
    },

    serve(h) {
      handler = h;
    },

    async leave() {
      if (closed) return;
      stop();
      // answers to drafts this instance handed on come on the same channel: every one of them is settled now (the drain waited for them)
      await opts.unsubscribe(channel);
    },

    heard(text) {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        log.warn({}, 'session writers: dropped a text that is not JSON');
        return;
      }
      if (typeof parsed.q === 'number' && typeof parsed.i === 'string' && isRecord(parsed.s) && typeof parsed.s.id === 'string' && typeof parsed.s.siteId === 'string' && typeof parsed.s.lastSeq === 'number' && isRecord(parsed.d) && Array.isArray(parsed.to)) {
        serveRequest(parsed as never);
      } else if (typeof parsed.r === 'number') {
        settle(parsed as never);
      } else {
        log.warn({}, 'session writers: dropped a text that is neither a draft nor an answer');
      }
    },

    close() {
      stop();
      for (const [q, p] of pending) {
        clearTimeout(p.timer);
        p.reject(unavailable('the instance is shutting down, send it again', RETRY_MS));
        pending.delete(q);
      }
    },
  };
}
