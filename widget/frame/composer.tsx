/** The message box: Enter sends, Shift+Enter makes a new line, an IME composition is never cut short. */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { Dictionary } from './i18n.js';

interface Props {
  t: Dictionary;
  onSend: (text: string) => void;
  onTyping: () => void;
  /** the textarea, so the app can focus it when the chat opens */
  inputRef: { current: HTMLTextAreaElement | null };
  focusOnMount: boolean;
}

const MAX_LENGTH = 4000;
const MAX_HEIGHT = 120;

export function Composer({ t, onSend, onTyping, inputRef, focusOnMount }: Props) {
  const [text, setText] = useState('');
  const local = useRef<HTMLTextAreaElement | null>(null);

  useEffect(() => {
    if (focusOnMount) local.current?.focus();
  }, []);

  // grow with the text up to a few lines, then scroll
  useLayoutEffect(() => {
    const el = local.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, MAX_HEIGHT)}px`;
  }, [text]);

  const submit = () => {
    if (!text.trim()) return;
    onSend(text);
    setText('');
  };

  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
        local.current?.focus();
      }}
    >
      <button type="button" class="icon-btn attach" disabled aria-label={t.attach} title={t.attach}>
        <svg viewBox="0 0 24 24" aria-hidden="true">
          <path d="M21 11.5l-8.6 8.6a5 5 0 0 1-7.1-7.1l8.6-8.6a3.3 3.3 0 0 1 4.7 4.7l-8.6 8.6a1.7 1.7 0 0 1-2.4-2.4l8-8" />
        </svg>
      </button>
      <label class="sr" for="im-input">
        {t.inputLabel}
      </label>
      <textarea
        id="im-input"
        data-testid="im-input"
        ref={(el) => {
          local.current = el;
          inputRef.current = el;
        }}
        rows={1}
        maxLength={MAX_LENGTH}
        placeholder={t.placeholder}
        value={text}
        onInput={(e) => {
          setText(e.currentTarget.value);
          if (e.currentTarget.value.trim()) onTyping();
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
            e.preventDefault();
            submit();
          }
        }}
      />
      <button type="submit" class="icon-btn send" data-testid="im-send" aria-label={t.send} title={t.send} disabled={!text.trim()}>
        <svg viewBox="0 0 24 24" aria-hidden="true">
          <path d="M4 12l16-8-6 16-2.5-6.5z" />
        </svg>
      </button>
    </form>
  );
}
