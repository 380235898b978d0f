import type { Redis } from 'ioredis';

/**
 * Defines a Lua script as a command of the client (ioredis sends EVALSHA,
 * and EVAL when the server does not know it yet). A client shared with
 * other users keeps the first definition, which is the same script.
 * Without `numberOfKeys`, a call passes the number of keys first.
 */
export function defineScript(redis: Redis, name: string, definition: { lua: string; numberOfKeys?: number }): void {
  if (typeof (redis as unknown as Record<string, unknown>)[name] !== 'function') redis.defineCommand(name, definition);
}
