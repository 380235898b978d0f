/**
 * The frame's side of the bridge to the loader (../bridge.ts). It trusts only
 * messages from `window.parent` whose origin is the `host` the loader put in
 * the frame URL, and posts only to that exact origin. In Chromium and Safari
 * `location.ancestorOrigins` also tells who really framed us, so a page that
 * passes somebody else's origin as `host` gets no answer at all.
 */
import { NS, isBridgeMessage, type ToFrame, type ToHost } from '../bridge.js';

type Outgoing = ToHost extends infer M ? (M extends { ns: string } ? Omit<M, 'ns'> : never) : never;

export interface HostBridge {
  /** false when the frame is opened on its own (not in an iframe) */
  embedded: boolean;
  post(message: Outgoing): void;
  listen(handler: (message: ToFrame) => void): void;
}

export function hostBridge(hostOrigin: string | null): HostBridge {
  const embedded = window.parent !== window;
  const ancestors = location.ancestorOrigins as DOMStringList | undefined;
  const trusted = embedded && !!hostOrigin && (!ancestors || ancestors.length === 0 || ancestors[0] === hostOrigin);
  if (embedded && !trusted) console.warn('[IMWidget] the host origin given to the chat frame is not the page that embeds it; not talking to it');
  return {
    embedded,
    post(message) {
      if (trusted && hostOrigin) window.parent.postMessage({ ...message, ns: NS }, hostOrigin);
    },
    listen(handler) {
      window.addEventListener('message', (e) => {
        if (!trusted || e.source !== window.parent || e.origin !== hostOrigin || !isBridgeMessage(e.data)) return;
        handler(e.data as ToFrame);
      });
    },
  };
}
