/**
 * The chat frame's entry: reads what the loader put in the URL (site key,
 * host origin, language; the host page's url and title in the hash), then
 * waits for the loader's `init` (open state, identity) before it starts.
 * Opened on its own (not framed) it starts at once, open.
 */
import { render } from 'preact';
import './frame.css';
import { App } from './app.js';
import { Chat } from './chat.js';
import { hostBridge } from './host-bridge.js';
import { dictionaryFor } from './i18n.js';

const params = new URLSearchParams(location.search);
const hash = new URLSearchParams(location.hash.slice(1));
const t = dictionaryFor(params.get('lang'));
document.documentElement.lang = t.lang;

const pageUrl = hash.get('url');
const pageTitle = hash.get('title');
const page = pageUrl && /^https?:\/\//.test(pageUrl) ? { url: pageUrl.slice(0, 2000), ...(pageTitle ? { title: pageTitle.slice(0, 300) } : {}) } : undefined;

const bridge = hostBridge(params.get('host'));
const chat = new Chat({
  siteKey: params.get('siteKey') ?? '',
  wsUrl: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
  ...(page ? { page } : {}),
  onUnread: (count) => bridge.post({ type: 'unread', count }),
});

let focusMain = () => {};
const minimize = () => bridge.post({ type: 'close' });

render(
  <App
    chat={chat}
    t={t}
    {...(bridge.embedded ? { onMinimize: minimize } : {})}
    registerFocus={(f) => {
      focusMain = f;
    }}
  />,
  document.body,
);

if (bridge.embedded) {
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') minimize();
  });
  let userId: string | undefined;
  bridge.listen((m) => {
    if (m.type === 'init') {
      userId = m.identity?.userId;
      chat.setOpen(m.open);
      void chat.boot(m.identity);
      if (m.open) focusMain();
    } else if (m.type === 'open') {
      chat.setOpen(true);
      focusMain();
    } else if (m.type === 'close') {
      chat.setOpen(false);
    } else if (m.type === 'identify' && m.identity.userId !== userId) {
      userId = m.identity.userId;
      void chat.boot(m.identity);
    }
  });
  bridge.post({ type: 'ready' });
} else {
  chat.setOpen(true);
  void chat.boot();
}
