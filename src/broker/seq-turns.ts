/**
 * Turns at writing a session's messages, on Redis (the SeqTurns port in
 * domain/ports.ts; the message store takes them for sessions that another
 * instance writes too, store/message-appender.ts).
 *
 * A session's turn is one key holding the id of the instance whose turn it
 * is, set with a lease: an instance that dies holding it keeps the others
 * waiting for at most that long. Whoever asks while another holds the turn
 * is owed the next one (a second key, kept while it keeps asking), so that
 * an instance that gives the turn back and asks again at once does not keep
 * it while the other waits. Giving a turn back records the last seq stored
 * during it (a third key), which the next holder starts from. One script
 * call asks for (or gives back) the turns of a whole batch of sessions.
 */
import type { Redis, Result } from 'ioredis';
import type { SeqTurns } from '../domain/ports.js';
import { defineScript } from './define-script.js';
import type { BrokerKeys } from './keys.js';

/** an instance that dies holding a turn keeps the other writers of its sessions waiting this long at most */
export const TURN_LEASE_MS = 1000;
/** an instance owed a turn that stops asking (it died, or its drafts were answered) stops being owed after this */
export const TURN_OWED_MS = 100;
/** the last seq of a session's turns outlives the last turn by this (a quiet session is closed long before) */
const TURN_LAST_TTL_MS = 24 * 3600_000;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** TAKE_TURNS_LUA */
    takeTurns(...args: Array<string | number>): Result<number[], Context>;
    /** GIVE_TURNS_LUA */
    giveTurns(...args: Array<string | number>): Result<number, Context>;
  }
}

/**
 * KEYS: per session, its turn, owed and last keys; ARGV[1] this instance,
 * ARGV[2] the lease, ARGV[3] how long a refused asker stays owed. Per
 * session: the last seq (0 if none) when the turn is this instance's now,
 * else -1.
 */
const TAKE_TURNS_LUA = `
local out = {}
for i = 1, #KEYS, 3 do
  local holder = redis.call('GET', KEYS[i])
  local owed = redis.call('GET', KEYS[i + 1])
  if (not holder or holder == ARGV[1]) and (not owed or owed == ARGV[1]) then
    redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
    if owed then redis.call('DEL', KEYS[i + 1]) end
    out[#out + 1] = tonumber(redis.call('GET', KEYS[i + 2]) or '0')
  else
    if not owed or owed == ARGV[1] then redis.call('SET', KEYS[i + 1], ARGV[1], 'PX', ARGV[3]) end
    out[#out + 1] = -1
  end
end
return out
`;

/**
 * KEYS as TAKE_TURNS_LUA's; ARGV[1] this instance, ARGV[2] the last keys'
 * time to live, ARGV[3..] the last seq stored per session (0: none). Moves
 * each last seq up (never down) and ends this instance's turns.
 */
const GIVE_TURNS_LUA = `
for i = 1, #KEYS, 3 do
  local last = tonumber(ARGV[2 + (i + 2) / 3])
  if last > 0 and last > tonumber(redis.call('GET', KEYS[i + 2]) or '0') then
    redis.call('SET', KEYS[i + 2], last, 'PX', ARGV[2])
  end
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 0
`;

export function createRedisSeqTurns(opts: { redis: Redis; keys: BrokerKeys; instanceId: string }): SeqTurns {
  const { redis, keys, instanceId } = opts;
  defineScript(redis, 'takeTurns', { lua: TAKE_TURNS_LUA });
  defineScript(redis, 'giveTurns', { lua: GIVE_TURNS_LUA });
  const keysOf = (sessionIds: string[]) => sessionIds.flatMap((id) => [keys.seqTurn(id), keys.seqTurnOwed(id), keys.seqTurnLast(id)]);

  return {
    async takeTurns(sessionIds) {
      if (sessionIds.length === 0) return [];
      const lasts = await redis.takeTurns(sessionIds.length * 3, ...keysOf(sessionIds), instanceId, TURN_LEASE_MS, TURN_OWED_MS);
      return lasts.map((last) => (last < 0 ? null : last));
    },

    async giveTurns(turns) {
      if (turns.length === 0) return;
      await redis.giveTurns(turns.length * 3, ...keysOf(turns.map((t) => t.sessionId)), instanceId, TURN_LAST_TTL_MS, ...turns.map((t) => t.lastSeq));
    },
  };
}
