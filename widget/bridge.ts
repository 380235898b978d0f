/**
 * The postMessage contract between the loader (on the host page) and the chat
 * frame (on the service origin). Both sides check the other's origin and
 * window before trusting a message, and post with an exact targetOrigin.
 *
 * What the host may learn is deliberately small: whether the chat is open and
 * how many messages are unread. Message text never crosses this bridge.
 */

/** every message carries this, so unrelated postMessage traffic on the page is ignored */
export const NS = 'im-widget/1';

export interface Identity {
  userId: string;
  name?: string;
  email?: string;
  /** hex HMAC-SHA256 of userId with the site's identity secret (computed by the host's server) */
  hash: string;
}

/** loader → frame */
export type ToFrame =
  | { ns: typeof NS; type: 'init'; open: boolean; identity?: Identity }
  | { ns: typeof NS; type: 'open' }
  | { ns: typeof NS; type: 'close' }
  | { ns: typeof NS; type: 'identify'; identity: Identity };

/** frame → loader */
export type ToHost =
  | { ns: typeof NS; type: 'ready' }
  | { ns: typeof NS; type: 'unread'; count: number }
  | { ns: typeof NS; type: 'close' };

export function isBridgeMessage(data: unknown): data is { ns: typeof NS; type: string } {
  return typeof data === 'object' && data !== null && (data as { ns?: unknown }).ns === NS && typeof (data as { type?: unknown }).type === 'string';
}
