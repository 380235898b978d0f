/** One line of the conversation: a chat bubble, or a system line (joined, transferred, closed). */
import type { Dictionary } from './i18n.js';
import type { ViewMessage } from './chat.js';

export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return '?';
  // CJK names carry no spaces: their first character is the usual avatar
  if (words.length === 1 || /[\u3400-\u9fff]/.test(name)) return Array.from(words[0]!)[0]!.toUpperCase();
  return (Array.from(words[0]!)[0]! + Array.from(words[words.length - 1]!)[0]!).toUpperCase();
}

export function systemText(m: ViewMessage, t: Dictionary): string {
  const b = m.body;
  const str = (v: unknown) => (typeof v === 'string' && v ? v : t.agent);
  switch (b.event) {
    case 'started':
      return t.started;
    case 'accepted':
      return t.joined(str(b.agentName));
    case 'transferred':
      return typeof b.toId === 'string' ? t.transferredTo(str(b.toName)) : t.transferredQueue;
    case 'handoff':
      return t.handoff;
    case 'closed':
      return t.closed;
    default:
      return typeof b.event === 'string' ? b.event : '';
  }
}

type OwnStatus = 'sending' | 'failed' | 'sent' | 'read';

interface Props {
  m: ViewMessage;
  t: Dictionary;
  /** first of a run of messages from the same sender: shows avatar and name */
  first: boolean;
  /** last of a run: shows the time and, for own messages, the delivery state */
  last: boolean;
  peerReadSeq: number;
  onRetry: (key: string) => void;
}

export function MessageItem({ m, t, first, last, peerReadSeq, onRetry }: Props) {
  const time = new Date(m.at).toLocaleTimeString(t.lang, { hour: '2-digit', minute: '2-digit' });
  if (m.type === 'system') {
    return (
      <li class="sys" data-testid="im-message" data-seq={m.seq} data-from="system" data-event={m.body.event}>
        <span>{systemText(m, t)}</span>
        <time>{time}</time>
      </li>
    );
  }
  const mine = m.from.kind === 'visitor';
  const own: OwnStatus | undefined = !mine ? undefined : m.local ? m.local : m.seq !== undefined && m.seq <= peerReadSeq ? 'read' : 'sent';
  const ownLabel = own && { sending: t.sending, failed: t.failed, sent: t.sent, read: t.read }[own];
  const image = typeof m.body.imageId === 'string';
  const moderation = m.status === 'pending' ? (image ? t.imagePending : t.pending) : m.status === 'rejected' ? (image ? t.imageRejected : t.rejected) : undefined;
  return (
    <li
      class={`msg ${mine ? 'mine' : 'theirs'}${first ? ' first' : ''}${last ? ' last' : ''}${m.status !== 'ok' ? ` ${m.status}` : ''}`}
      data-testid="im-message"
      data-seq={m.seq}
      data-from={m.from.kind}
      data-status={own}
    >
      {!mine && (
        <span class="avatar" aria-hidden="true">
          {first ? initials(m.from.name) : ''}
        </span>
      )}
      <div class="body">
        {!mine && first && (
          <div class="name" aria-hidden="true">
            {m.from.name}
          </div>
        )}
        <div class="bubble">
          <span class="sr">{mine ? t.you : m.from.name}: </span>
          {image ? (
            <span class="image" role="img" aria-label={t.image}>
              <svg viewBox="0 0 24 24" aria-hidden="true">
                <rect x="3" y="4" width="18" height="16" rx="2" />
                <circle cx="9" cy="10" r="2" />
                <path d="M21 17l-5-5-9 8" />
              </svg>
              {t.image}
            </span>
          ) : (
            <span class="text">{m.body.text ?? ''}</span>
          )}
          {moderation && <span class="moderation">{moderation}</span>}
        </div>
        {(last || own === 'failed' || own === 'sending') && (
          <div class="meta">
            <time>{time}</time>
            {ownLabel && (
              <span class={`state ${own}`}>
                {own === 'read' || own === 'sent' ? (
                  <svg viewBox="0 0 24 24" aria-hidden="true">
                    <path d={own === 'read' ? 'M2 13l4 4 8-9M10 16l1 1 9-10' : 'M5 13l4 4 10-11'} />
                  </svg>
                ) : null}
                {ownLabel}
              </span>
            )}
            {own === 'failed' && (
              <button type="button" class="link" onClick={() => onRetry(m.key)}>
                {t.retry}
              </button>
            )}
          </div>
        )}
      </div>
    </li>
  );
}
