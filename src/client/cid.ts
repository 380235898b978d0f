/** Client ids (cid) for sends: what the server's dedup index keys on. */

/** the shape the gateway accepts (frames.ts `Id`): a cid it cannot read would be resent forever */
const CID_PATTERN = /^[A-Za-z0-9_:.-]{1,64}$/;

export function isValidCid(cid: string): boolean {
  return CID_PATTERN.test(cid);
}

export function newCid(): string {
  const c = globalThis.crypto;
  if (typeof c.randomUUID === 'function') return c.randomUUID();
  // Browsers offer randomUUID only in secure contexts (https, localhost);
  // getRandomValues is everywhere, so build the same v4 UUID from it.
  const b = c.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
