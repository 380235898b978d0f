/**
 * Decoding of client frames: size, JSON, `t`, then the frame's own schema.
 * Never throws; a bad frame becomes a `DecodeError` the gateway answers with
 * an `error` frame while the connection stays usable.
 */
import { Compile } from 'typebox/compile';
import type { ErrorCode } from '../errors.js';
import { CLIENT_FRAMES, type ClientFrame } from './frames.js';

type FrameType = keyof typeof CLIENT_FRAMES;

const validators = Object.fromEntries(Object.entries(CLIENT_FRAMES).map(([t, schema]) => [t, Compile(schema)])) as {
  [K in FrameType]: ReturnType<typeof Compile>;
};

export interface DecodeError {
  ok: false;
  code: ErrorCode;
  message: string;
  /** the frame's `t` and `cid`, when they could be read, so the error can name them */
  ref?: string;
  cid?: string;
}

export type Decoded = { ok: true; frame: ClientFrame } | DecodeError;

export function decodeClientFrame(raw: string, maxBytes: number): Decoded {
  if (Buffer.byteLength(raw, 'utf8') > maxBytes) {
    return { ok: false, code: 'too_large', message: `frame exceeds ${maxBytes} bytes` };
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, code: 'bad_request', message: 'frame is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'bad_request', message: 'frame must be a JSON object' };
  }
  const record = value as Record<string, unknown>;
  const t = record.t;
  const cid = typeof record.cid === 'string' && record.cid.length <= 64 ? record.cid : undefined;
  if (typeof t !== 'string' || !Object.hasOwn(CLIENT_FRAMES, t)) {
    return { ok: false, code: 'bad_request', message: `unknown frame type ${JSON.stringify(typeof t === 'string' ? t.slice(0, 32) : t)}`, ...(cid ? { cid } : {}) };
  }
  const validator = validators[t as FrameType];
  if (!validator.Check(value)) {
    const first = validator.Errors(value)[0];
    const where = first?.instancePath ? `${first.instancePath.slice(1).replaceAll('/', '.')} ` : '';
    return { ok: false, code: 'bad_request', message: `invalid ${t} frame: ${where}${first?.message ?? 'does not match the schema'}`, ref: t, ...(cid ? { cid } : {}) };
  }
  return { ok: true, frame: value as ClientFrame };
}
