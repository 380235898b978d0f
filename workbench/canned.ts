/**
 * Canned replies: a few defaults every agent has, plus the agent's own,
 * kept in this browser's localStorage (per agent).
 */
import { isObject, load, save } from './storage.js';

export interface Canned {
  id: string;
  /** what follows "/" in the input to find it */
  shortcut: string;
  text: string;
  own: boolean;
}

export const DEFAULT_CANNED: Canned[] = [
  { id: 'd-hello', shortcut: 'hello', text: 'Hi! Thanks for reaching out. How can I help you today?', own: false },
  { id: 'd-check', shortcut: 'check', text: 'Let me check that for you, one moment please.', own: false },
  { id: 'd-order', shortcut: 'order', text: 'Could you share your order number, please?', own: false },
  { id: 'd-else', shortcut: 'else', text: 'Is there anything else I can help you with?', own: false },
  { id: 'd-bye', shortcut: 'bye', text: 'Thanks for chatting with us. Have a great day!', own: false },
];

const key = (agentId: string) => `im.wb.canned.${agentId}`;

const isCannedList = (v: unknown): v is Canned[] =>
  Array.isArray(v) && v.every((c) => isObject(c) && typeof c.id === 'string' && typeof c.shortcut === 'string' && typeof c.text === 'string');

export function loadOwnCanned(agentId: string): Canned[] {
  return (load(key(agentId), isCannedList) ?? []).map((c) => ({ ...c, own: true }));
}

export function saveOwnCanned(agentId: string, list: Canned[]): void {
  save(key(agentId), list.filter((c) => c.own));
}

/** A shortcut made from the text's first word, unique among `existing`. */
export function shortcutFor(text: string, existing: Canned[]): string {
  const base = (text.toLowerCase().match(/[\p{L}\p{N}]+/u)?.[0] ?? 'reply').slice(0, 16);
  let name = base;
  for (let i = 2; existing.some((c) => c.shortcut === name); i++) name = `${base}${i}`;
  return name;
}

export function matchCanned(list: Canned[], query: string): Canned[] {
  const q = query.trim().toLowerCase();
  if (!q) return list;
  return list.filter((c) => c.shortcut.toLowerCase().startsWith(q) || c.text.toLowerCase().includes(q));
}
