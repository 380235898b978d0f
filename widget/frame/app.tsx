/** The chat panel: header, connection state, the conversation, and the composer or "start a new conversation". */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { Chat, ChatView, ViewMessage } from './chat.js';
import { Composer } from './composer.js';
import type { Dictionary } from './i18n.js';
import { MessageItem, initials } from './message-item.js';

interface Props {
  chat: Chat;
  t: Dictionary;
  /** set when the frame is inside the loader's iframe: the panel can be minimized */
  onMinimize?: () => void;
  /** called with a function that focuses the main control, for when the chat opens */
  registerFocus: (focus: () => void) => void;
}

function useChatView(chat: Chat): ChatView {
  const [view, setView] = useState(chat.snapshot);
  useEffect(() => {
    setView(chat.snapshot);
    return chat.subscribe(() => setView(chat.snapshot));
  }, [chat]);
  return view;
}

const sameRun = (a: ViewMessage | undefined, b: ViewMessage | undefined) =>
  !!a && !!b && a.type === 'chat' && b.type === 'chat' && a.from.kind === b.from.kind && (a.from.kind === 'visitor' || a.from.id === b.from.id);

export function App({ chat, t, onMinimize, registerFocus }: Props) {
  const view = useChatView(chat);
  const input = useRef<HTMLTextAreaElement | null>(null);
  const restart = useRef<HTMLButtonElement | null>(null);
  const log = useRef<HTMLDivElement | null>(null);
  const stuck = useRef(true);
  const [focusComposer, setFocusComposer] = useState(false);

  useEffect(() => registerFocus(() => (input.current ?? restart.current)?.focus()), []);

  // keep the newest message in sight, unless the visitor scrolled up to read
  const lastKey = view.messages.at(-1)?.key;
  useLayoutEffect(() => {
    const el = log.current;
    const lastMine = view.messages.at(-1)?.from.kind === 'visitor';
    if (el && (stuck.current || lastMine)) el.scrollTop = el.scrollHeight;
  }, [lastKey, view.messages.length, view.typing]);

  const closed = view.sessionState === 'closed';
  const waiting = view.sessionState === 'queued';
  const nobody = !!view.site && view.site.agentsOnline === 0 && !view.agent && !closed && view.sessionState !== 'bot';
  const title = view.agent?.name || view.site?.name || '';
  const subtitle = view.agent ? view.site?.name : waiting ? t.waiting : view.site && view.site.agentsOnline > 0 ? t.online : t.offline;
  const showStatus = view.conn === 'connecting' || view.conn === 'reconnecting';

  return (
    <main class="chat" aria-label={view.site?.name ?? t.conversation}>
      <header class="head">
        <span class={`avatar big${view.agent ? '' : ' brand'}`} aria-hidden="true">
          {view.agent ? initials(view.agent.name) : (
            <svg viewBox="0 0 24 24">
              <path d="M21 12a8 8 0 0 1-11.6 7.1L4 20.5l1.4-4.6A8 8 0 1 1 21 12z" />
            </svg>
          )}
        </span>
        <div class="who">
          <h1 data-testid="im-title">{title}</h1>
          <p>
            {(view.agent || (view.site && view.site.agentsOnline > 0)) && !waiting && <span class="dot" aria-hidden="true" />}
            {subtitle}
          </p>
        </div>
        {onMinimize && (
          <button type="button" class="icon-btn minimize" aria-label={t.minimize} title={t.minimize} onClick={onMinimize}>
            <svg viewBox="0 0 24 24" aria-hidden="true">
              <path d="M6 9l6 6 6-6" />
            </svg>
          </button>
        )}
      </header>

      {showStatus && (
        <div class="status" data-testid="im-status" data-state={view.conn} role="status">
          <span class="spinner" aria-hidden="true" />
          {view.conn === 'connecting' ? t.connecting : t.reconnecting}
        </div>
      )}

      <div
        class="log"
        ref={log}
        role="log"
        aria-live="polite"
        aria-label={t.conversation}
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          stuck.current = el.scrollHeight - el.scrollTop - el.clientHeight < 60;
        }}
      >
        <ol class="items">
        <li class="greet" data-testid="im-greeting">
          <strong>{t.hello}</strong>
          <span>{view.site ? t.greeting(view.site.name) : ''}</span>
        </li>
        {nobody && (
          <li class="notice" data-testid="im-offline">
            {t.noAgent}
          </li>
        )}
        {view.messages.map((m, i) => (
          <MessageItem
            key={m.key}
            m={m}
            t={t}
            first={!sameRun(view.messages[i - 1], m)}
            last={!sameRun(m, view.messages[i + 1])}
            peerReadSeq={view.peerReadSeq}
            onRetry={(cid) => chat.retry(cid)}
          />
        ))}
        </ol>
      </div>

      <div class="typing" data-testid="im-typing" aria-live="polite">
        {view.typing && (
          <>
            <span class="dots" aria-hidden="true">
              <i />
              <i />
              <i />
            </span>
            {t.typing(view.typing)}
          </>
        )}
      </div>

      {view.failed && (
        <p class="error" role="alert">
          {t.error}
        </p>
      )}

      <footer class="foot">
        {closed ? (
          <div class="ended">
            <p>{t.ended}</p>
            <button
              type="button"
              class="primary"
              data-testid="im-new"
              ref={restart}
              onClick={() => {
                setFocusComposer(true);
                chat.newConversation();
              }}
            >
              {t.newConversation}
            </button>
          </div>
        ) : (
          <Composer t={t} inputRef={input} focusOnMount={focusComposer} onSend={(text) => chat.send(text)} onTyping={() => chat.typing()} />
        )}
      </footer>
    </main>
  );
}
