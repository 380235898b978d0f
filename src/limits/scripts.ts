/**
 * The limits' Lua scripts (src/limits/lua, one per file, `verbNoun-<numKeys>.lua`),
 * defined as ioredis commands: ioredis sends EVALSHA and falls back to EVAL
 * when the server does not know the script yet (after a restart, say).
 */
import { readFileSync, readdirSync } from 'node:fs';
import type { Redis, Result } from 'ioredis';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** lua/takeMessage-2.lua: {0, 0} taken, {1, waitMs} bucket empty, {2, waitMs} slow mode */
    takeMessage(bucketKey: string, slowModeKey: string, ratePerSec: number, burst: number, slowModeMs: number): Result<[number, number], Context>;
    /** lua/countHit-1.lua: {hits in the window, ms the window still runs} */
    countHit(counterKey: string, windowMs: number): Result<[number, number], Context>;
  }
}

const LUA_DIR = new URL('./lua/', import.meta.url);
const FILE_NAME = /^([a-z][A-Za-z]*)-(\d+)\.lua$/;

/** Defines every script of lua/ on the client (once; a client shared by several plugins keeps the first definition). */
export function defineLimitScripts(redis: Redis): void {
  for (const file of readdirSync(LUA_DIR)) {
    const parts = FILE_NAME.exec(file);
    if (!parts) continue;
    const [, name, keys] = parts as unknown as [string, string, string];
    if (name in redis) continue;
    redis.defineCommand(name, { numberOfKeys: Number(keys), lua: readFileSync(new URL(file, LUA_DIR), 'utf8') });
  }
}
