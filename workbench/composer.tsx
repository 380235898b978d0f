/**
 * The message input: Enter sends, Shift+Enter is a new line; "/" at the start
 * (or the lightning button) opens the canned replies; typing tells the
 * visitor, at most every few seconds.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useController } from './app.js';
import { DEFAULT_CANNED, loadOwnCanned, matchCanned, saveOwnCanned, shortcutFor, type Canned } from './canned.js';
import type { Conversation } from './conversation-state.js';

const TYPING_EVERY_MS = 2500;
/** drafts per conversation, so switching conversations keeps what was typed */
const drafts = new Map<string, string>();

export function Composer({ conv }: { conv: Conversation }) {
  const ctl = useController();
  const me = ctl.me;
  const [text, setText] = useState(drafts.get(conv.id) ?? '');
  const [own, setOwn] = useState<Canned[]>(() => loadOwnCanned(me));
  const [picker, setPicker] = useState<{ query: string; fromSlash: boolean } | null>(null);
  const [active, setActive] = useState(0);
  const input = useRef<HTMLTextAreaElement>(null);
  const lastTyping = useRef(0);

  useEffect(() => {
    input.current?.focus();
  }, [conv.id]);
  useEffect(() => {
    drafts.set(conv.id, text);
  }, [conv.id, text]);

  const all = useMemo(() => [...own, ...DEFAULT_CANNED], [own]);
  const matches = picker ? matchCanned(all, picker.query) : [];

  const update = (value: string) => {
    setText(value);
    const slash = /^\/(\S*)$/.exec(value);
    if (slash) {
      setPicker({ query: slash[1] ?? '', fromSlash: true });
      setActive(0);
    } else if (picker?.fromSlash) setPicker(null);
    if (value.trim() !== '' && !slash && Date.now() - lastTyping.current > TYPING_EVERY_MS) {
      lastTyping.current = Date.now();
      ctl.typing(conv.id);
    }
  };

  const send = () => {
    if (text.trim() === '') return;
    ctl.send(conv.id, text);
    setText('');
    setPicker(null);
    lastTyping.current = 0;
    input.current?.focus();
  };

  const insert = (c: Canned) => {
    const next = picker?.fromSlash || text.trim() === '' ? c.text : `${text.replace(/\s*$/, '')} ${c.text}`;
    setText(next);
    setPicker(null);
    requestAnimationFrame(() => {
      const el = input.current;
      if (el) {
        el.focus();
        el.setSelectionRange(next.length, next.length);
      }
    });
  };

  const saveCurrent = () => {
    const t = text.trim();
    if (!t || all.some((c) => c.text === t)) return;
    const next = [{ id: `own-${Date.now().toString(36)}`, shortcut: shortcutFor(t, all), text: t, own: true }, ...own];
    setOwn(next);
    saveOwnCanned(me, next);
  };

  const remove = (id: string) => {
    const next = own.filter((c) => c.id !== id);
    setOwn(next);
    saveOwnCanned(me, next);
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (picker && matches.length > 0) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        setActive((a) => (a + (e.key === 'ArrowDown' ? 1 : matches.length - 1)) % matches.length);
        return;
      }
      if ((e.key === 'Enter' && !e.shiftKey) || e.key === 'Tab') {
        e.preventDefault();
        insert(matches[Math.min(active, matches.length - 1)]!);
        return;
      }
    }
    if (picker && e.key === 'Escape') {
      e.preventDefault();
      setPicker(null);
      return;
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  };

  return (
    <div class="composer">
      {picker && (
        <div class="canned" data-testid="wb-canned" role="listbox" aria-label="Canned replies" id="canned-list">
          <div class="canned-head">
            <strong>Canned replies</strong>
            <span class="muted small">{picker.fromSlash ? 'Type to filter · ↑↓ · Enter' : 'Click to insert'}</span>
          </div>
          {matches.length === 0 ? (
            <p class="muted small canned-empty">No reply matches “{picker.query}”.</p>
          ) : (
            <ul>
              {matches.map((c, i) => (
                <li key={c.id} class={i === active ? 'active' : ''} role="option" aria-selected={i === active}>
                  <button type="button" class="canned-item" data-testid="wb-canned-item" onMouseDown={(e) => e.preventDefault()} onClick={() => insert(c)}>
                    <span class="shortcut">/{c.shortcut}</span>
                    <span class="ellipsis">{c.text}</span>
                  </button>
                  {c.own && (
                    <button type="button" class="icon-btn" aria-label={`Delete canned reply /${c.shortcut}`} onClick={() => remove(c.id)}>
                      ×
                    </button>
                  )}
                </li>
              ))}
            </ul>
          )}
          {!picker.fromSlash && (
            <button type="button" class="link-btn canned-save" data-testid="wb-canned-save" disabled={text.trim() === ''} onClick={saveCurrent}>
              + Save the current text as a canned reply
            </button>
          )}
        </div>
      )}
      <div class="composer-row">
        <button
          type="button"
          class={`icon-btn composer-canned${picker && !picker.fromSlash ? ' on' : ''}`}
          data-testid="wb-canned-toggle"
          aria-label="Canned replies"
          aria-expanded={picker !== null}
          aria-controls="canned-list"
          title="Canned replies (type / in the input)"
          onClick={() => {
            setPicker(picker ? null : { query: '', fromSlash: false });
            setActive(0);
          }}
        >
          <BoltIcon />
        </button>
        <textarea
          ref={input}
          class="composer-input"
          data-testid="wb-input"
          aria-label="Message"
          placeholder="Type a reply…  Enter to send, Shift+Enter for a new line, / for canned replies"
          rows={1}
          value={text}
          onInput={(e) => update(e.currentTarget.value)}
          onKeyDown={onKeyDown}
          maxLength={4000}
        />
        <button type="button" class="btn btn-primary" data-testid="wb-send" onClick={send} disabled={text.trim() === ''}>
          Send
        </button>
      </div>
    </div>
  );
}

function BoltIcon() {
  return (
    <svg width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">
      <path d="M13 2L3 14h9l-1 8 10-12h-9l1-8z" />
    </svg>
  );
}
