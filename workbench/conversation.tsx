/** Middle column: the selected conversation, its actions and the composer. */
import { Component } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { MessageObject } from '../src/protocol/frames.js';
import { useController } from './app.js';
import { Composer } from './composer.js';
import type { State } from './controller.js';
import { initials, senderOf, systemText, visitorName, type Conversation as Conv, type Pending } from './conversation-state.js';
import { Modal } from './modal.js';
import type { AgentInfo } from './api.js';

const clock = (iso: string) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

export function Conversation({ conv, state }: { conv: Conv; state: State }) {
  const ctl = useController();
  const [dialog, setDialog] = useState<'transfer' | 'close' | null>(null);
  const name = visitorName(conv);
  const offline = state.conn !== 'connected';
  return (
    <section class="conversation" aria-label={`Conversation with ${name}`} data-testid="wb-conversation" data-session-id={conv.id}>
      <header class="conv-head">
        <span class="avatar" aria-hidden="true">
          {initials(name)}
        </span>
        <div class="conv-title">
          <h1 class="ellipsis">{name}</h1>
          <span class="muted small ellipsis">{conv.ended ? 'Conversation ended' : conv.visitorTypingAt > 0 ? 'typing…' : (conv.session.page?.title ?? 'Active conversation')}</span>
        </div>
        <div class="conv-actions">
          {conv.ended ? (
            <button class="btn btn-sm" type="button" data-testid="wb-dismiss" onClick={() => ctl.dismiss(conv.id)}>
              Remove from list
            </button>
          ) : (
            <>
              <button class="btn btn-sm" type="button" data-testid="wb-transfer" onClick={() => setDialog('transfer')}>
                <TransferIcon /> Transfer
              </button>
              <button class="btn btn-sm btn-danger-ghost" type="button" data-testid="wb-close" onClick={() => setDialog('close')}>
                <CloseIcon /> Close
              </button>
            </>
          )}
        </div>
      </header>
      {offline && !state.booting && (
        <div class="banner" role="status">
          {state.wasConnected ? 'Connection lost. Reconnecting… Messages you send go out as soon as it is back.' : 'Connecting…'}
        </div>
      )}
      <MessageList conv={conv} me={ctl.me} />
      {conv.ended ? (
        <div class="ended-bar">This conversation has ended. Its history stays here until you remove it.</div>
      ) : (
        <Composer conv={conv} />
      )}
      {dialog === 'transfer' && <TransferDialog conv={conv} onDone={() => setDialog(null)} />}
      {dialog === 'close' && <CloseDialog conv={conv} onDone={() => setDialog(null)} />}
    </section>
  );
}

function MessageList({ conv, me }: { conv: Conv; me: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const count = conv.messages.length + conv.pending.length;
  // Follow new messages while the agent is at the bottom; leave them be when they scrolled up to read.
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [count, conv.visitorTypingAt > 0]);
  const onScroll = () => {
    const el = ref.current;
    if (el) stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  };
  // the last of my messages the visitor has read gets the "Read" mark
  let readMark = -1;
  for (const m of conv.messages) if (m.from.id === me && m.seq <= conv.visitorReadSeq) readMark = m.seq;
  return (
    <div class="messages" ref={ref} onScroll={onScroll} role="log" aria-live="polite" aria-label="Messages" tabIndex={0} data-testid="wb-messages">
      {conv.loading && conv.messages.length === 0 && <p class="muted center small">Loading history…</p>}
      {conv.messages.map((m) => (
        <MessageRow key={m.seq} m={m} me={me} read={m.seq === readMark} />
      ))}
      {conv.pending.map((p) => (
        <PendingRow key={p.cid} p={p} sid={conv.id} />
      ))}
      {conv.visitorTypingAt > 0 && (
        <div class="typing" data-testid="wb-typing">
          <span class="dots" aria-hidden="true">
            <i />
            <i />
            <i />
          </span>
          {visitorName(conv)} is typing…
        </div>
      )}
    </div>
  );
}

interface RowProps {
  m: MessageObject;
  me: string;
  read: boolean;
}

/** A stored message never changes but for moderation status, so rows re-render only then. */
class MessageRow extends Component<RowProps> {
  override shouldComponentUpdate(next: RowProps): boolean {
    return next.m !== this.props.m || next.read !== this.props.read || next.me !== this.props.me;
  }

  override render({ m, me, read }: RowProps) {
    const from = senderOf(m);
    if (from === 'system') {
      return (
        <div class="system-line" data-testid="wb-message" data-seq={m.seq} data-from="system">
          <span>{systemText(m, me)}</span>
          <time dateTime={m.createdAt}>{clock(m.createdAt)}</time>
        </div>
      );
    }
    const own = m.from.id === me;
    const text = typeof m.body.text === 'string' ? m.body.text : undefined;
    return (
      <div class={`msg ${own ? 'msg-own' : 'msg-other'} msg-${from}`} data-testid="wb-message" data-seq={m.seq} data-from={from} data-status={m.status}>
        {!own && <span class="msg-author">{m.from.name}</span>}
        <div class="bubble">
          {m.status === 'rejected' ? (
            <em class="muted">This message was blocked by moderation.</em>
          ) : text !== undefined ? (
            <span class="msg-text">{text}</span>
          ) : (
            <em class="muted">{m.status === 'pending' ? 'Image awaiting review' : 'Image'}</em>
          )}
        </div>
        <span class="msg-meta">
          <time dateTime={m.createdAt}>{clock(m.createdAt)}</time>
          {own && (read ? <span data-testid="wb-read"> · Read</span> : <span> · Sent</span>)}
        </span>
      </div>
    );
  }
}

function PendingRow({ p, sid }: { p: Pending; sid: string }) {
  const ctl = useController();
  return (
    <div class={`msg msg-own msg-agent ${p.error ? 'msg-failed' : 'msg-pending'}`} data-testid="wb-message" data-status={p.error ? 'failed' : 'pending'} data-from="agent" data-cid={p.cid}>
      <div class="bubble">
        <span class="msg-text">{p.text}</span>
      </div>
      <span class="msg-meta">
        {p.error ? (
          <>
            Not sent: {p.error}{' '}
            <button class="link-btn" type="button" onClick={() => ctl.discardPending(sid, p.cid)}>
              Discard
            </button>
          </>
        ) : (
          'Sending…'
        )}
      </span>
    </div>
  );
}

/** how often the transfer dialog reads who is online while it is open */
const AGENTS_REFRESH_MS = 3000;

function TransferDialog({ conv, onDone }: { conv: Conv; onDone: () => void }) {
  const ctl = useController();
  const [agents, setAgents] = useState<AgentInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // Read again every few seconds while open: a colleague who comes online meanwhile shows up without
  // reopening. The next read starts once the last one answered, so a slow answer never overwrites a newer one.
  useEffect(() => {
    let open = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = () => {
      ctl
        .agents()
        .then(
          (list) => {
            if (!open) return;
            setAgents(list.filter((a) => a.id !== ctl.me));
            setError(null);
          },
          (err: unknown) => open && setError(err instanceof Error ? err.message : String(err)),
        )
        .finally(() => {
          if (open) timer = setTimeout(load, AGENTS_REFRESH_MS);
        });
    };
    load();
    return () => {
      open = false;
      clearTimeout(timer);
    };
  }, [ctl]);
  const go = async (to: string | null) => {
    setBusy(true);
    const ok = await ctl.transfer(conv.id, to);
    setBusy(false);
    if (ok) onDone();
  };
  const online = agents?.filter((a) => a.online) ?? [];
  const away = agents?.filter((a) => !a.online) ?? [];
  return (
    <Modal title="Transfer conversation" onClose={onDone} testId="wb-transfer-dialog">
      <p class="muted">Hand {visitorName(conv)} to a colleague who is online, or put the conversation back in the queue.</p>
      {error && (
        <p class="form-error" role="alert">
          Could not load agents: {error}
        </p>
      )}
      {agents === null && !error && <p class="muted small">Loading agents…</p>}
      <ul class="choice-list">
        {online.map((a) => (
          <li key={a.id}>
            <button class="choice" type="button" data-testid="wb-transfer-target" data-agent-id={a.id} disabled={busy} onClick={() => void go(a.id)}>
              <span class="avatar avatar-agent" aria-hidden="true">
                {initials(a.name)}
              </span>
              <span class="item-text">
                <strong>{a.name}</strong>
                <span class="muted small">{a.email}</span>
              </span>
              <span class="status status-connected">
                <span class="dot" aria-hidden="true" />
                Online
              </span>
            </button>
          </li>
        ))}
        {agents !== null && online.length === 0 && <li class="muted small">No other agent is online right now.</li>}
        <li>
          <button class="choice" type="button" data-testid="wb-transfer-target" data-agent-id="queue" disabled={busy} onClick={() => void go(null)}>
            <span class="avatar avatar-queue" aria-hidden="true">
              ↩
            </span>
            <span class="item-text">
              <strong>Back to the queue</strong>
              <span class="muted small">Any agent can pick it up</span>
            </span>
          </button>
        </li>
      </ul>
      {away.length > 0 && <p class="muted small">Offline: {away.map((a) => a.name).join(', ')}</p>}
    </Modal>
  );
}

function CloseDialog({ conv, onDone }: { conv: Conv; onDone: () => void }) {
  const ctl = useController();
  const [busy, setBusy] = useState(false);
  return (
    <Modal title="Close this conversation?" onClose={onDone} testId="wb-close-dialog">
      <p class="muted">{visitorName(conv)} will see that the conversation was closed. They can start a new one at any time.</p>
      <div class="modal-actions">
        <button class="btn" type="button" onClick={onDone}>
          Cancel
        </button>
        <button
          class="btn btn-danger"
          type="button"
          data-testid="wb-close-confirm"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            const ok = await ctl.close(conv.id);
            setBusy(false);
            if (ok) onDone();
          }}
        >
          Close conversation
        </button>
      </div>
    </Modal>
  );
}

function TransferIcon() {
  return (
    <svg width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">
      <path d="M17 1l4 4-4 4" />
      <path d="M3 11V9a4 4 0 0 1 4-4h14" />
      <path d="M7 23l-4-4 4-4" />
      <path d="M21 13v2a4 4 0 0 1-4 4H3" />
    </svg>
  );
}

function CloseIcon() {
  return (
    <svg width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">
      <circle cx="12" cy="12" r="10" />
      <path d="M15 9l-6 6M9 9l6 6" />
    </svg>
  );
}
