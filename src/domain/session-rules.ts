/**
 * The session state machine and who may do what in a session. Pure functions:
 * the service asks them before it touches a store, and the store's
 * compare-and-set makes the answer stick under concurrency.
 *
 *   start ──> bot ──handoff──> queued ──accept──> active ──close──> closed
 *     └──────────────────────────^   ^──transfer(to queue)──┘
 *                                     active ──transfer(to agent)──> active
 */
import type { Actor, Session, SessionState } from './model.js';

export const OPEN_STATES: readonly SessionState[] = ['bot', 'queued', 'active'];

export function isOpen(state: SessionState): boolean {
  return state !== 'closed';
}

export type Transition = 'accept' | 'transfer' | 'close' | 'handoff';

/** States each transition may start from. */
export const TRANSITION_FROM: Record<Transition, readonly SessionState[]> = {
  accept: ['queued'],
  transfer: ['active', 'bot'],
  handoff: ['bot'],
  close: OPEN_STATES,
};

export function canTransition(t: Transition, from: SessionState): boolean {
  return TRANSITION_FROM[t].includes(from);
}

/** Accounts that receive the session's messages right now. */
export function recipients(s: Session): string[] {
  const ids = [s.visitorId];
  if (s.state === 'active' && s.assigneeId) ids.push(s.assigneeId);
  if (s.state === 'bot' && s.botId) ids.push(s.botId);
  return ids;
}

/** May the actor read the session and its history? */
export function canView(actor: Actor, s: Session): boolean {
  if (actor.siteId !== s.siteId) return false;
  switch (actor.kind) {
    case 'visitor':
      return s.visitorId === actor.id;
    case 'agent':
      return true;
    case 'bot':
      return s.botId === actor.id;
  }
}

/** May the actor write into the session now? */
export function canSend(actor: Actor, s: Session): boolean {
  if (actor.siteId !== s.siteId || !isOpen(s.state)) return false;
  switch (actor.kind) {
    case 'visitor':
      return s.visitorId === actor.id;
    case 'agent':
      return s.state === 'active' && s.assigneeId === actor.id;
    case 'bot':
      return s.state === 'bot' && s.botId === actor.id;
  }
}

/** May the actor close the session? */
export function canClose(actor: Actor, s: Session): boolean {
  return canSend(actor, s);
}

/** May the actor hand the session on (to an agent or the queue)? */
export function canTransfer(actor: Actor, s: Session): boolean {
  if (actor.siteId !== s.siteId) return false;
  if (actor.kind === 'agent') return s.state === 'active' && s.assigneeId === actor.id;
  if (actor.kind === 'bot') return s.state === 'bot' && s.botId === actor.id;
  return false;
}

/** Is the actor a member, whose read cursor and typing mean something? */
export function isMember(actor: Actor, s: Session): boolean {
  if (actor.siteId !== s.siteId) return false;
  if (actor.kind === 'visitor') return s.visitorId === actor.id;
  if (actor.kind === 'agent') return s.assigneeId === actor.id;
  return s.botId === actor.id;
}
