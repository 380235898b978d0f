/**
 * The loader a host page embeds with one line:
 *
 *   <script src="https://HOST/widget.js" data-site-key="sk_..." async></script>
 *
 * Plain DOM, no framework (budget: 5 KB gzipped). It puts one element on the
 * page whose open shadow root holds the launcher button and an iframe with the
 * chat (served by us from the service origin), and talks to that iframe
 * through the namespaced, origin-checked bridge in ./bridge.ts. Everything the
 * widget looks like is set in fixed px, with `!important` on the host element
 * and `all: initial` inside, so host page CSS neither leaks in nor out.
 *
 * Public API (calls made before this script ran are queued by the usual stub
 * and replayed):
 *   IMWidget('open') / IMWidget('close') / IMWidget('toggle')
 *   IMWidget('identify', {userId, name?, email?, hash})
 *   IMWidget('on', 'unread' | 'open' | 'close', callback)
 */
import { NS, isBridgeMessage, type Identity, type ToFrame } from './bridge.js';

type Listener = (value: number | boolean) => void;
interface WidgetApi {
  (command: string, ...args: unknown[]): void;
  q?: ArrayLike<unknown>[];
  loaded?: boolean;
}

const win = window as unknown as { IMWidget?: WidgetApi };

const PHONE = '(max-width: 480px)';
const LAUNCHER = 60;
const MARGIN = 20;
const GAP = 16;

const ICON_CHAT =
  '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M21 12a8 8 0 0 1-11.6 7.1L4 20.5l1.4-4.6A8 8 0 1 1 21 12z"/><path d="M8.5 11h7M8.5 14h4.5"/></svg>';
const ICON_CLOSE = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M6 9l6 6 6-6"/></svg>';

const STYLE = `
.w{all:initial;position:absolute;inset:0;display:block;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color-scheme:light}
iframe{all:initial;display:block;position:absolute;left:0;top:0;width:100%;height:calc(100% - ${LAUNCHER + GAP}px);border:0;border-radius:16px;background:#fff;box-shadow:0 12px 48px rgba(15,23,42,.22),0 2px 8px rgba(15,23,42,.12);visibility:hidden;opacity:0;transform:translateY(12px);transition:opacity .18s ease,transform .18s ease}
.open iframe{visibility:visible;opacity:1;transform:none}
.phone.open iframe{height:100%;border-radius:0;box-shadow:none}
button{all:initial;box-sizing:border-box;position:absolute;right:0;bottom:0;width:${LAUNCHER}px;height:${LAUNCHER}px;border-radius:50%;background:#4f46e5;cursor:pointer;display:flex;align-items:center;justify-content:center;box-shadow:0 6px 20px rgba(79,70,229,.45);transition:transform .15s ease}
button:hover{transform:scale(1.06)}
button:focus-visible{outline:3px solid #a5b4fc;outline-offset:3px}
.phone.open button{display:none}
svg{width:28px;height:28px;fill:none;stroke:#fff;stroke-width:2;stroke-linecap:round;stroke-linejoin:round}
.badge{all:initial;box-sizing:border-box;position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;border:2px solid #fff;background:#ef4444;color:#fff;font:700 11px/18px system-ui,sans-serif;text-align:center}
.badge[hidden]{display:none}
`;

function findScript(): HTMLScriptElement | null {
  const current = document.currentScript;
  if (current instanceof HTMLScriptElement && current.dataset.siteKey) return current;
  for (const s of Array.from(document.querySelectorAll<HTMLScriptElement>('script[data-site-key]'))) {
    if (/\/widget\.js([?#]|$)/.test(s.src)) return s;
  }
  return null;
}

function isIdentity(x: unknown): x is Identity {
  const o = x as Identity | null;
  return typeof o === 'object' && o !== null && typeof o.userId === 'string' && typeof o.hash === 'string';
}

function important(el: HTMLElement, styles: Record<string, string>): void {
  for (const k of Object.keys(styles)) el.style.setProperty(k, styles[k]!, 'important');
}

function start(script: HTMLScriptElement): void {
  const origin = new URL(script.src, location.href).origin;
  const siteKey = script.dataset.siteKey ?? '';
  const zh = /^zh/i.test(document.documentElement.lang || navigator.language || '');
  const label = (open: boolean) => (zh ? (open ? '关闭聊天' : '打开聊天') : open ? 'Close chat' : 'Open chat');

  let open = false;
  let ready = false;
  let unread = 0;
  let identity: Identity | undefined;
  const listeners: Record<string, Listener[]> = {};
  const fire = (event: string, value: number | boolean) => {
    for (const cb of listeners[event] ?? []) {
      try {
        cb(value);
      } catch (err) {
        setTimeout(() => {
          throw err;
        });
      }
    }
  };

  const host = document.createElement('div');
  host.setAttribute('data-im-widget', '');
  // `all: initial` first: the longhands after it win within this one declaration block
  important(host, { all: 'initial' });
  const shadow = host.attachShadow({ mode: 'open' });
  shadow.innerHTML = `<style>${STYLE}</style><div class="w"><iframe data-testid="im-frame" title="Chat"></iframe><button type="button" data-testid="im-launcher" aria-haspopup="dialog" aria-expanded="false"><span class="icon">${ICON_CHAT}</span><span class="badge" data-testid="im-unread" hidden>0</span></button></div>`;
  const wrap = shadow.querySelector('.w') as HTMLElement;
  const frame = shadow.querySelector('iframe') as HTMLIFrameElement;
  const button = shadow.querySelector('button') as HTMLButtonElement;
  const icon = shadow.querySelector('.icon') as HTMLElement;
  const badge = shadow.querySelector('.badge') as HTMLElement;

  const params = new URLSearchParams({ siteKey, host: location.origin, lang: document.documentElement.lang || navigator.language || 'en' });
  const page = new URLSearchParams({ url: location.href.slice(0, 2000), title: document.title.slice(0, 300) });
  frame.src = `${origin}/widget/frame.html?${params}#${page}`;

  const phone = window.matchMedia(PHONE);
  const layout = () => {
    const base = { position: 'fixed', display: 'block', visibility: 'visible', opacity: '1', 'z-index': '2147483647', 'pointer-events': 'auto' };
    if (open && phone.matches) {
      important(host, { ...base, top: '0', left: '0', right: '0', bottom: '0', width: 'auto', height: 'auto' });
    } else {
      important(host, {
        ...base,
        top: 'auto',
        left: 'auto',
        right: `${MARGIN}px`,
        bottom: `${MARGIN}px`,
        width: open ? `min(380px, calc(100vw - ${2 * MARGIN}px))` : `${LAUNCHER}px`,
        height: open ? `min(${600 + GAP + LAUNCHER}px, calc(100vh - ${2 * MARGIN}px))` : `${LAUNCHER}px`,
      });
    }
    wrap.className = `w${open ? ' open' : ''}${phone.matches ? ' phone' : ''}`;
    button.setAttribute('aria-expanded', String(open));
    button.setAttribute('aria-label', label(open));
    icon.innerHTML = open ? ICON_CLOSE : ICON_CHAT;
  };
  phone.addEventListener?.('change', layout);

  const post = (message: ToFrame) => {
    if (ready) frame.contentWindow?.postMessage(message, origin);
  };

  const setUnread = (n: number) => {
    if (n === unread) return;
    unread = n;
    badge.textContent = n > 99 ? '99+' : String(n);
    badge.hidden = n === 0;
    button.setAttribute('aria-label', n > 0 ? `${label(open)} (${n})` : label(open));
    fire('unread', n);
  };

  const setOpen = (next: boolean, focusLauncher = false) => {
    if (next === open) return;
    open = next;
    layout();
    post({ ns: NS, type: next ? 'open' : 'close' });
    if (next) frame.focus();
    else if (focusLauncher) button.focus();
    fire(next ? 'open' : 'close', next);
  };

  button.addEventListener('click', () => setOpen(!open, true));

  window.addEventListener('message', (e) => {
    if (e.source !== frame.contentWindow || e.origin !== origin || !isBridgeMessage(e.data)) return;
    const data = e.data as { type: string; count?: unknown };
    if (data.type === 'ready') {
      ready = true;
      post({ ns: NS, type: 'init', open, ...(identity ? { identity } : {}) });
    } else if (data.type === 'unread' && typeof data.count === 'number' && data.count >= 0) {
      setUnread(Math.floor(data.count));
    } else if (data.type === 'close') {
      setOpen(false, true);
    }
  });

  const api: WidgetApi = (command, a, b) => {
    if (command === 'open') setOpen(true);
    else if (command === 'close') setOpen(false);
    else if (command === 'toggle') setOpen(!open);
    else if (command === 'identify' && isIdentity(a)) {
      identity = { userId: a.userId, hash: a.hash, ...(a.name ? { name: a.name } : {}), ...(a.email ? { email: a.email } : {}) };
      post({ ns: NS, type: 'identify', identity });
    } else if (command === 'on' && typeof a === 'string' && typeof b === 'function') {
      (listeners[a] ??= []).push(b as Listener);
    }
  };
  api.loaded = true;
  const queued = win.IMWidget?.q;
  win.IMWidget = api;
  for (const args of Array.from(queued ?? [])) api(...(Array.from(args) as [string, ...unknown[]]));

  layout();
  const attach = () => (document.body ?? document.documentElement).appendChild(host);
  if (document.body) attach();
  else document.addEventListener('DOMContentLoaded', attach);
}

if (!win.IMWidget?.loaded) {
  const script = findScript();
  if (script?.dataset.siteKey) start(script);
  else console.warn('[IMWidget] no <script src=".../widget.js" data-site-key="..."> found');
}
