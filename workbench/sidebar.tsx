/** Left column: who I am, the connection, the queue and my conversations. */
import { useEffect, useState } from 'preact/hooks';
import { useController } from './app.js';
import type { QueueItem, State } from './controller.js';
import { initials, senderOf, systemText, unreadOf, visitorName, type Conversation } from './conversation-state.js';
import { askNotificationPermission, notificationPermission, type Permission } from './notify.js';

/** re-renders every `ms`, for "waiting 3 min" labels */
function useTick(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export function since(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  return h < 24 ? `${h} h ${m % 60} min` : `${Math.floor(h / 24)} d`;
}

export function Sidebar({ state }: { state: State }) {
  const ctl = useController();
  const agent = state.auth!.agent;
  const [permission, setPermission] = useState<Permission>(notificationPermission());
  return (
    <nav class="sidebar" aria-label="Conversations">
      <header class="sidebar-head">
        <div class="brand">
          <span class="brand-mark" aria-hidden="true" />
          <span>Workbench</span>
        </div>
        <Status state={state} />
      </header>
      <div class="me">
        <span class="avatar avatar-agent" aria-hidden="true">
          {initials(agent.name)}
        </span>
        <div class="me-text">
          <strong>{agent.name}</strong>
          <span class="muted small">{agent.email}</span>
        </div>
        {permission === 'default' && (
          <button class="icon-btn" type="button" title="Enable desktop notifications" aria-label="Enable desktop notifications" onClick={() => void askNotificationPermission().then(setPermission)}>
            <BellIcon />
          </button>
        )}
        <button class="icon-btn" type="button" data-testid="wb-logout" title="Sign out" aria-label="Sign out" onClick={() => ctl.logout()}>
          <LogoutIcon />
        </button>
      </div>
      <div class="lists">
        <Queue items={state.queue} />
        <Mine state={state} />
      </div>
    </nav>
  );
}

function Status({ state }: { state: State }) {
  const s = state.conn;
  const dataState = s === 'connected' ? 'connected' : s === 'closed' ? 'offline' : state.wasConnected ? 'reconnecting' : 'connecting';
  const label = { connected: 'Online', offline: 'Offline', reconnecting: 'Reconnecting…', connecting: 'Connecting…' }[dataState];
  return (
    <span class={`status status-${dataState}`} data-testid="wb-status" data-state={dataState} role="status" aria-live="polite">
      <span class="dot" aria-hidden="true" />
      {label}
    </span>
  );
}

function waited(iso: string, now: number): string {
  const w = since(iso, now);
  return w === 'just now' ? 'Just arrived' : `Waiting ${w}`;
}

function Queue({ items }: { items: QueueItem[] }) {
  const ctl = useController();
  const now = useTick(30_000);
  const [busy, setBusy] = useState<string | null>(null);
  return (
    <section class="list-section" aria-labelledby="queue-title">
      <h2 id="queue-title" class="section-title">
        Queue <span class="count" data-testid="wb-queue-count">{items.length}</span>
      </h2>
      {items.length === 0 ? (
        <p class="muted small list-empty" data-testid="wb-queue-empty">
          Nobody is waiting.
        </p>
      ) : (
        <ul class="list" data-testid="wb-queue">
          {items.map((q) => {
            const name = q.visitor?.name ?? 'Visitor';
            const where = q.session.topic ?? q.session.page?.title ?? q.session.page?.url;
            return (
              <li key={q.session.id} class="queue-item" data-testid="wb-queue-item" data-session-id={q.session.id}>
                <span class="avatar" aria-hidden="true">
                  {initials(name)}
                </span>
                <div class="item-text">
                  <strong class="ellipsis">{name}</strong>
                  <span class="muted small ellipsis">{where ?? 'Waiting for an agent'}</span>
                  <span class="item-foot">
                    <span class="wait small" title="Waiting time">
                      {waited(q.session.createdAt, now)}
                    </span>
                    <button
                      class="btn btn-primary btn-sm"
                      type="button"
                      data-testid="wb-accept"
                      aria-label={`Accept conversation with ${name}`}
                      disabled={busy === q.session.id}
                      onClick={() => {
                        setBusy(q.session.id);
                        void ctl.accept(q.session.id).finally(() => setBusy(null));
                      }}
                    >
                      Accept
                    </button>
                  </span>
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

function preview(c: Conversation, me: string): string {
  if (c.pending.length > 0) return `You: ${c.pending.at(-1)!.text}`;
  const m = c.messages.at(-1);
  if (!m) return c.loading ? 'Loading…' : '';
  if (senderOf(m) === 'system') return systemText(m, me);
  const text = typeof m.body.text === 'string' ? m.body.text : 'Image';
  return m.from.id === me ? `You: ${text}` : text;
}

function Mine({ state }: { state: State }) {
  const ctl = useController();
  const me = ctl.me;
  return (
    <section class="list-section" aria-labelledby="mine-title">
      <h2 id="mine-title" class="section-title">
        My conversations <span class="count">{state.order.length}</span>
      </h2>
      {state.order.length === 0 ? (
        <p class="muted small list-empty">Accepted conversations show up here.</p>
      ) : (
        <ul class="list" data-testid="wb-sessions">
          {state.order.map((id) => {
            const c = state.convs[id];
            if (!c) return null;
            const unread = unreadOf(c);
            const name = visitorName(c);
            const selected = state.selected === id;
            return (
              <li key={id}>
                <button
                  type="button"
                  class={`session-item${selected ? ' selected' : ''}${c.ended ? ' ended' : ''}`}
                  data-testid="wb-session"
                  data-session-id={id}
                  data-unread={unread}
                  aria-current={selected ? 'true' : undefined}
                  aria-label={`${name}${unread > 0 ? `, ${unread} unread` : ''}${c.ended ? ', ended' : ''}`}
                  onClick={() => ctl.select(id)}
                >
                  <span class="avatar" aria-hidden="true">
                    {initials(name)}
                    {c.visitorTypingAt > 0 && <span class="avatar-typing" />}
                  </span>
                  <span class="item-text">
                    <strong class="ellipsis">{name}</strong>
                    <span class="muted small ellipsis">{c.visitorTypingAt > 0 ? 'typing…' : preview(c, me)}</span>
                  </span>
                  {unread > 0 && (
                    <span class="badge" data-testid="wb-unread" aria-hidden="true">
                      {unread > 99 ? '99+' : unread}
                    </span>
                  )}
                  {c.ended && <span class="tag">Ended</span>}
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

function LogoutIcon() {
  return (
    <svg width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">
      <path d="M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4" />
      <path d="M16 17l5-5-5-5" />
      <path d="M21 12H9" />
    </svg>
  );
}

function BellIcon() {
  return (
    <svg width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">
      <path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9" />
      <path d="M13.73 21a2 2 0 0 1-3.46 0" />
    </svg>
  );
}
