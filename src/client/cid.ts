/** Client ids (cid) for sends: what the server's dedup index keys on. */

/** the shape the gateway accepts (frames.ts `Id`): a cid it cannot read would be resent forever */
const CID_PATTERN = /^[A-Za-z0-9_:.-]{1,64}$/;

export function isValidCid(cid: string): boolean {
  return CID_PATTERN.test(cid);
}

/**
 * A version 7 UUID (RFC 9562): the time in milliseconds, then 74 random
 * bits. The server's dedup index starts with the cid (store/messages.ts), so
 * cids that grow with time land at its end, on the few pages the last
 * inserts touched, instead of one page per message anywhere in it. Any other
 * unique cid works as well, only without that saving.
 */
export function newCid(now: number = Date.now()): string {
  const time = (now % 2 ** 48).toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${randomTail()}`;
}

/**
 * The random part of a version 7 UUID after its version digit:
 * `xxx-Vxxx-xxxxxxxxxxxx` with V the variant (8 to b). A v4 UUID ends the
 * same way, and `randomUUID` draws its bytes from a pool, which the load
 * generator's profile showed to cost an eighth of what one getRandomValues
 * call per cid did. It exists only in secure contexts (https, localhost).
 */
const randomTail: () => string =
  typeof globalThis.crypto?.randomUUID === 'function' ? () => globalThis.crypto.randomUUID().slice(15) : () => tailOf(randomBytes(10));

/** `xxx-Vxxx-xxxxxxxxxxxx` from 10 random bytes: 74 random bits, and the variant's two */
export function tailOf(bytes: Uint8Array): string {
  let h = '';
  for (let i = 0; i < 10; i++) h += HEX[bytes[i]!];
  const variant = ((parseInt(h[3]!, 16) & 3) | 8).toString(16);
  return `${h.slice(0, 3)}-${variant}${h.slice(4, 7)}-${h.slice(7, 19)}`;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** random bytes from a pool refilled 510 at a time: one getRandomValues call per 51 cids */
let pool = new Uint8Array(0);
let used = 0;
function randomBytes(n: number): Uint8Array {
  if (used + n > pool.length) {
    pool = globalThis.crypto.getRandomValues(new Uint8Array(510));
    used = 0;
  }
  used += n;
  return pool.subarray(used - n, used);
}
