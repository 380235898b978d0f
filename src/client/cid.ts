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
  // getRandomValues is everywhere; randomUUID only in secure contexts (https, localhost)
  const b = globalThis.crypto.getRandomValues(new Uint8Array(16));
  for (let i = 5, t = now; i >= 0; i--, t = Math.floor(t / 256)) b[i] = t % 256;
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
