/**
 * Reads a server frame defensively. The server is trusted but not assumed
 * bug-free: a frame missing a field the client relies on must become a
 * reported `bad_frame`, never an exception inside a socket callback.
 * Unknown `t` values are skipped silently, so a newer server may add frames.
 */
import type { MessageObject, ServerFrame } from '../protocol/frames.js';

export type ParsedFrame =
  | { kind: 'frame'; frame: ServerFrame }
  | { kind: 'bad'; reason: string; t?: string; sid?: string }
  | { kind: 'unknown'; t: string };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isSeq = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isPosSeq = (v: unknown): v is number => isSeq(v) && v >= 1;

/** the fields the client reads or hands on as MessageObject */
function isMessage(v: unknown): v is MessageObject {
  return (
    isObj(v) && isStr(v.id) && isStr(v.sessionId) && isPosSeq(v.seq) && isStr(v.cid) && isObj(v.from) && isStr(v.type) && isObj(v.body) && isStr(v.status) && isStr(v.createdAt)
  );
}

/** null when fine, else what is wrong */
function check(f: Obj): string | null {
  switch (f.t) {
    case 'ready': {
      if (!isObj(f.account) || !isStr(f.account.id)) return 'ready.account';
      if (!Array.isArray(f.sessions) || !f.sessions.every((s) => isObj(s) && isStr(s.id) && isSeq(s.lastSeq))) return 'ready.sessions';
      return null;
    }
    case 'sent':
      return isStr(f.sid) && isStr(f.cid) && isStr(f.id) && isPosSeq(f.seq) ? null : 'sent fields';
    case 'msg':
      // fromMsgFrame turns ts into a Date; a non-finite ts would throw there.
      return isStr(f.sid) && isPosSeq(f.seq) && isStr(f.id) && isStr(f.cid) && isObj(f.from) && isStr(f.type) && isObj(f.body) && isStr(f.status) && Number.isFinite(f.ts)
        ? null
        : 'msg fields';
    case 'batch':
      if (!isStr(f.sid) || typeof f.more !== 'boolean' || !Array.isArray(f.messages)) return 'batch fields';
      return f.messages.every((m) => isMessage(m) && m.sessionId === f.sid) ? null : 'batch.messages';
    case 'event':
      return isStr(f.sid) && isStr(f.name) ? null : 'event fields';
    case 'error':
      return isStr(f.code) && (f.cid === undefined || isStr(f.cid)) ? null : 'error fields';
    case 'pong':
      return null;
    default:
      return 'unknown';
  }
}

export function parseServerFrame(data: unknown): ParsedFrame {
  if (!isStr(data)) return { kind: 'bad', reason: 'not a text frame' };
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { kind: 'bad', reason: 'not JSON' };
  }
  if (!isObj(value) || !isStr(value.t)) return { kind: 'bad', reason: 'not a frame object' };
  const problem = check(value);
  if (problem === 'unknown') return { kind: 'unknown', t: value.t };
  if (problem !== null) return { kind: 'bad', reason: `invalid ${problem}`, t: value.t, ...(isStr(value.sid) ? { sid: value.sid } : {}) };
  if (value.t === 'error' && !isStr(value.message)) value.message = '';
  return { kind: 'frame', frame: value as unknown as ServerFrame };
}
