/** Right column: who the visitor is and where they came from. */
import type { Conversation } from './conversation-state.js';
import { initials, visitorName } from './conversation-state.js';

/** only web links become links: a page URL is visitor-supplied */
function safeUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : undefined;
  } catch {
    return undefined;
  }
}

const time = (iso: string | undefined) => (iso ? new Date(iso).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' }) : undefined);

export function Details({ conv }: { conv: Conversation }) {
  const v = conv.visitor;
  const name = visitorName(conv);
  const s = conv.session;
  const page = safeUrl(s.page?.url);
  const identified = Boolean(v?.userId);
  return (
    <div class="details-inner" data-testid="wb-details">
      <div class="details-head">
        <span class="avatar avatar-lg" aria-hidden="true">
          {initials(name)}
        </span>
        <h2 class="ellipsis" data-testid="wb-visitor-name">
          {name}
        </h2>
        <span class={`tag ${identified ? 'tag-ok' : ''}`}>{identified ? 'Identified user' : 'Anonymous visitor'}</span>
      </div>
      <dl class="facts">
        {v?.email && (
          <>
            <dt>Email</dt>
            <dd>
              <a href={`mailto:${v.email}`} data-testid="wb-visitor-email">
                {v.email}
              </a>
            </dd>
          </>
        )}
        {v?.userId && (
          <>
            <dt>User ID</dt>
            <dd class="mono" data-testid="wb-visitor-user-id">
              {v.userId}
            </dd>
          </>
        )}
        <dt>Came from</dt>
        <dd>
          {page ? (
            <a href={page} target="_blank" rel="noopener noreferrer" data-testid="wb-visitor-page" title={page} class="break">
              {s.page?.title || page}
            </a>
          ) : (
            <span class="muted">Unknown page</span>
          )}
        </dd>
        {s.topic && (
          <>
            <dt>Topic</dt>
            <dd>{s.topic}</dd>
          </>
        )}
        <dt>Started</dt>
        <dd>{time(s.createdAt)}</dd>
        {s.acceptedAt && (
          <>
            <dt>Accepted</dt>
            <dd>{time(s.acceptedAt)}</dd>
          </>
        )}
        <dt>Messages</dt>
        <dd>{conv.messages.filter((m) => m.type !== 'system').length}</dd>
        <dt>Session</dt>
        <dd class="mono small break">{s.id}</dd>
      </dl>
    </div>
  );
}
