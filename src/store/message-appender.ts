/**
 * Stores message drafts with the next seqs of their sessions: many drafts
 * of one session on their way at once, each session's stored in the order
 * `append()` was called. messages.ts owns the documents and the lookups;
 * this file owns only the order in which drafts are tried.
 *
 * Drafts wait in a lane per session. A batch (up to IN_FLIGHT on their way
 * at once, as domain/gatherer.ts forms them) takes what the lanes hold,
 * numbers each lane's drafts on from the lane's next seq and stores them all
 * with one ordered `insertMany`. A lane is in one batch at a time, so two
 * batches on their way never hold drafts of the same session. Ordered is
 * what keeps the promises: the server stops at the first failing document,
 * so seq N is only written right after N-1 was (the store stays
 * prefix-closed, messages.ts), and a session's later draft never gets a seq
 * before an earlier one's. A session another instance writes as well sends
 * one draft per batch instead, in an unordered insert beside the ordered one
 * (CONTENDED_MS).
 *
 * A failing document is a duplicate key; its lane waits while it is settled:
 * - the first time, mostly another instance took that seq a moment ago: the
 *   next seq, straight away. Safe whichever key clashed: a cid clashes at any
 *   seq, so the next try fails too (and stops its lane's drafts behind it)
 *   and the lookups below settle it;
 * - again: the seq, if it is taken (by this very draft: a resend this
 *   process had not seen; or by another: look for the next free one), else
 *   the cid (the original is the answer, `created: false`).
 * The documents after it in an ordered insert were not tried: they go again
 * in the next batch, unchanged. Anything else that fails (the command, a lookup,
 * too many tries) fails the lane: its draft and every draft behind it are
 * refused with `unavailable` and a retry time, and so is every new draft of
 * the same senders until their refused ones come back, in their order (or a
 * few seconds pass): a draft its sender had on its way before hearing of the
 * refusal is never stored before the refused one. Other members are not held:
 * a message of theirs owes nothing to one that was never stored.
 *
 * Two instances rarely write one session: each session has one writer
 * (broker/session-writers.ts), and the others hand it their drafts. When two
 * do anyway (a writer's lease lapsed while it was stuck, Redis away), the
 * insert is still the claim: they clash now and then, and the session sends
 * one draft per batch until CONTENDED_MS passes without a clash. Until
 * 2026-12-07 such sessions took turns through Redis (seq-turns.ts), which
 * the one writer made idle.
 */
import type { Collection, MongoBulkWriteError } from 'mongodb';
import { createGatherer } from '../domain/gatherer.js';
import type { Message, MessageDraft } from '../domain/model.js';
import { unavailable } from '../errors.js';
import { isDuplicateKey } from './ids.js';
import type { WriteLane } from './write-lane.js';

export type MessageDoc = Omit<Message, 'id'> & { _id: string };
export type AppendResult = { message: Message; created: boolean };

/**
 * Documents (and sessions) per insertMany. The embedded FerretDB commits
 * every 100 as one transaction, and stops an ordered insert at its first
 * failure only with the patch src/embedded/ferretdb.ts applies.
 */
const MAX_BATCH = 500;
/**
 * Once batches carry more than one session, a batch's oldest message waits
 * up to this long for more: each insert costs the embedded FerretDB about
 * 1 ms of CPU for its commit besides 0.12 ms per document (measured here),
 * so at 1,000 msg/s batches of two spent half its CPU on commits. A lone
 * message never waits, nor do messages that gathered while the previous
 * insert was on its way for longer than this (domain/gatherer.ts).
 * 3 ms rather than 10 (2026-12-07, ours alone, alternating runs): at 1,000
 * msg/s p50 3.2-3.7 ms and p99 7.6-9.1 ms against 8.5-9.3 and 16.5-17.1 ms,
 * for 8% more of a core in this process and 10% in FerretDB; up to 6,500
 * msg/s sustained either way, p99 lower at most rates (with a busy loop
 * taking one core: p99 at 1,000 msg/s 15.5-15.7 against 21.4-21.9 ms, about
 * equal at 3,500-4,000). Under load batches grow anyway, gathered while the
 * last two were on their way. 10 ms had been chosen over 4 earlier
 * (bench/RESULTS.md) for a lower p99 at 3,500 msg/s; that did not repeat.
 */
const GATHER_MS = 3;
/**
 * Batches on their way at once. With one, the embedded FerretDB idled from
 * each insert's answer until this process had read it and sent the next;
 * with two, the next waits in the server (FerretDB patch 4 queues it without
 * sleeping, src/embedded/ferretdb.ts). Ours alone, two A/B pairs at 3,000
 * msg/s offered: p50 43.7 and 85.4 ms against 155.4 and 316.0 ms.
 */
export const IN_FLIGHT = 2;
/** tries per draft before it is refused */
const MAX_ATTEMPTS = 100;
/** what a refused draft's sender is told to wait before sending again */
export const STORE_RETRY_MS = 1000;
/**
 * How long a session counts as written by another instance too, after a
 * clash or the broker's word of a message this process did not store. Such
 * a session's drafts go one per batch, in an unordered insert of their own:
 * a clash there holds up neither the session's next drafts (they wait for
 * the first anyway) nor other sessions' drafts, as it would in the ordered
 * insert, where everything after a clash is left untried.
 */
const CONTENDED_MS = 10_000;
/**
 * After a failure, how long a lane takes from each sender with refused
 * drafts only those back (in their order) and refuses the sender's others:
 * long enough for them to be sent again after STORE_RETRY_MS, short enough
 * that a sender who gave up is not held back for long.
 */
const REFUSED_HOLD_MS = 3 * STORE_RETRY_MS;
/** idle lanes are forgotten past this many (their next seq comes from the caller's hint again) */
const MAX_LANES = 50_000;

export interface AppenderLookups {
  messageId(sessionId: string, seq: number): string;
  toMessage(doc: MessageDoc): Message;
  /** the message stored at that seq, if any */
  bySeq(sessionId: string, seq: number): Promise<Message | null>;
  /** the first free seq at or after `from` */
  nextFree(sessionId: string, from: number): Promise<number>;
  findByCid(sessionId: string, senderId: string, cid: string): Promise<Message | null>;
  /** a message is stored or found: worth remembering by its cid */
  remember(message: Message): void;
}

interface Draft {
  draft: MessageDraft;
  /** when it was appended (ms since the epoch) */
  since: number;
  /** a stored seq of the session, at least (may lag, never lead) */
  hint: number;
  attempts: number;
  /** the seq its first try clashed at */
  firstClash: number;
  resolve(result: AppendResult): void;
  reject(err: unknown): void;
}

interface Lane {
  sessionId: string;
  /** the seq its next draft tries (0: not known, from the drafts' hints) */
  next: number;
  waiting: Draft[];
  /** in a batch on its way, or settling a failed draft */
  busy: boolean;
  /** handed to the gatherer, not taken yet */
  offered: boolean;
  /** until then (ms since the epoch) another writer is likely to take this session's next seqs too */
  contendedUntil: number;
  /** by sender: the cids this lane refused after a failure, in order, which must come back before the sender's others */
  refused: Map<string, { cids: string[]; until: number }> | undefined;
}

interface Entry {
  lane: Lane;
  item: Draft;
  doc: MessageDoc;
}

/** per document not stored, by index: a clash is a duplicate key; an ordered insert leaves those after its clash untried; or what failed the whole command */
type Outcome = Map<number, 'clash' | 'untried'> | Error;

export interface MessageAppender {
  append(draft: MessageDraft, lastSeqHint: number): Promise<AppendResult>;
  /**
   * How far behind storing is, in ms: how long the oldest draft of the last
   * batch stored had waited since it was appended, or how long the oldest
   * draft of a batch still on its way has, if that is longer (a store that
   * stops answering shows too). Drafts waiting in their lanes wait for a
   * batch on its way, so they show once it is stored. 0 while no batch is on
   * its way: then nothing waits for the store.
   */
  lagMs(): number;
  /** Seq `seq` of the session is stored, by this process or another (the broker said so). */
  noteStored(sessionId: string, seq: number): void;
}

export function createMessageAppender(col: Collection<MessageDoc>, lane: WriteLane, lookups: AppenderLookups): MessageAppender {
  const lanes = new Map<string, Lane>();
  const batches = createGatherer<Lane>({ maxBatch: MAX_BATCH, send: store, waitMs: (last) => (last > 1 ? GATHER_MS : 0), maxInFlight: IN_FLIGHT });
  /** the wait of the oldest draft in the last batch stored, ms (lagMs) */
  let lastLag = 0;
  /** per batch on its way: when its oldest draft was appended */
  const flying = new Set<{ oldest: number }>();

  function offer(l: Lane): void {
    if (l.busy || l.offered || l.waiting.length === 0) return;
    l.offered = true;
    batches.add(l);
  }

  function laneOf(sessionId: string): Lane {
    let l = lanes.get(sessionId);
    if (!l) {
      if (lanes.size >= MAX_LANES) {
        for (const [id, idle] of lanes) if (!idle.busy && !idle.offered && idle.waiting.length === 0) lanes.delete(id);
      }
      lanes.set(sessionId, (l = { sessionId, next: 0, waiting: [], busy: false, offered: false, contendedUntil: 0, refused: undefined }));
    }
    return l;
  }

  /**
   * Refuses `first` and everything waiting behind it in its lane, and every
   * other draft of their senders until those come back, in their order, or
   * REFUSED_HOLD_MS is over (see the file's comment).
   */
  function fail(l: Lane, first: Draft[], cause: unknown): void {
    const err = Object.assign(unavailable('the message could not be stored, send it again', STORE_RETRY_MS), { cause });
    const refused = [...first, ...l.waiting.splice(0)];
    const until = Date.now() + REFUSED_HOLD_MS;
    for (const { draft } of refused) {
      if (draft.from.kind === 'system') continue; // never held (turnRefused), so never waited for
      const mine = (l.refused ??= new Map()).get(draft.from.id);
      if (mine) {
        mine.cids.push(draft.cid);
        mine.until = until;
      } else {
        l.refused.set(draft.from.id, { cids: [draft.cid], until });
      }
    }
    for (const d of refused) d.reject(err);
    l.next = 0;
    l.busy = false;
  }

  /**
   * Why the lane takes no new draft now (an earlier refused one must come
   * back first), or null. System messages are not held: they record a
   * transition already made, which must not be left without its line.
   */
  function turnRefused(l: Lane, draft: MessageDraft): Error | null {
    const mine = l.refused?.get(draft.from.id);
    if (!mine || draft.from.kind === 'system') return null;
    const left = mine.until - Date.now();
    if (left > 0 && mine.cids[0] !== draft.cid) {
      return unavailable('an earlier message of yours in this session could not be stored: it must be sent again first', Math.min(left, STORE_RETRY_MS));
    }
    if (left > 0) mine.cids.shift();
    if (left <= 0 || mine.cids.length === 0) {
      l.refused!.delete(draft.from.id);
      if (l.refused!.size === 0) l.refused = undefined;
    }
    return null;
  }

  async function store(offered: Lane[]): Promise<void> {
    for (const l of offered) {
      l.offered = false;
      l.busy = true;
    }
    const now = Date.now();
    const ordered: Entry[] = [];
    const contended: Entry[] = [];
    let size = 0;
    /** when the batch's oldest draft was appended: a lane's first is its oldest (drafts put back go to the front) */
    let oldest = now;
    for (const l of offered) {
      const room = MAX_BATCH - size;
      if (room <= 0 || l.waiting.length === 0) {
        l.busy = false;
        offer(l);
        continue;
      }
      const alone = l.contendedUntil > now;
      const taken = l.waiting.splice(0, alone ? 1 : room);
      size += taken.length;
      oldest = Math.min(oldest, taken[0]!.since);
      let seq = Math.max(l.next, taken[0]!.hint + 1);
      const into = alone ? contended : ordered;
      for (const item of taken) {
        into.push({ lane: l, item, doc: { ...item.draft, _id: lookups.messageId(l.sessionId, seq), seq } });
        seq += 1;
      }
    }
    const batch = { oldest };
    flying.add(batch);
    try {
      if (ordered.length + contended.length > 0) await insertAndSettle(ordered, contended);
    } finally {
      flying.delete(batch);
      if (ordered.length + contended.length > 0) lastLag = Date.now() - oldest;
    }
  }

  /** Inserts a batch's documents and settles each draft: stored, back in its lane, or clashed (settle). */
  async function insertAndSettle(ordered: Entry[], contended: Entry[]): Promise<void> {
    let outcomes: readonly [Outcome, Outcome];
    try {
      outcomes = await lane.run(async () => [await insert(ordered, true), await insert(contended, false)] as const);
    } catch (err) {
      outcomes = [asError(err), asError(err)];
    }
    const [inOrder, oneEach] = outcomes;
    const clashed: Entry[] = [];
    for (const [entries, outcome] of [
      [ordered, inOrder],
      [contended, oneEach],
    ] as const) {
      if (outcome instanceof Error) {
        // the command failed (connection, server): a prefix may be stored, nobody knows which
        for (const l of new Set(entries.map((e) => e.lane))) {
          fail(
            l,
            entries.filter((e) => e.lane === l).map((e) => e.item),
            outcome,
          );
        }
        continue;
      }
      entries.forEach((e, i) => {
        const result = outcome.get(i) ?? 'stored';
        if (result === 'stored') {
          e.lane.next = Math.max(e.lane.next, e.doc.seq + 1);
          const message = lookups.toMessage(e.doc);
          lookups.remember(message);
          e.item.resolve({ message, created: true });
        } else if (result === 'clash') clashed.push(e);
      });
      // not tried: back to the front of their lanes, in their order
      for (let i = entries.length - 1; i >= 0; i--) if (outcome.get(i) === 'untried') entries[i]!.lane.waiting.unshift(entries[i]!.item);
    }
    const settling = new Set(clashed.map((e) => e.lane));
    for (const l of new Set([...ordered, ...contended].map((e) => e.lane))) {
      if (settling.has(l) || !l.busy) continue;
      l.busy = false;
      offer(l);
    }
    for (const e of clashed) void settle(e);
  }

  /**
   * Inserts the entries' documents: what became of each that was not stored
   * (by index; a clash is a duplicate key; an ordered insert leaves those
   * after its clash untried), or the error that failed the whole command.
   */
  async function insert(entries: Entry[], inOrder: boolean): Promise<Outcome> {
    const outcome = new Map<number, 'clash' | 'untried'>();
    if (entries.length === 0) return outcome;
    try {
      await col.insertMany(
        entries.map((e) => e.doc),
        { ordered: inOrder },
      );
      return outcome;
    } catch (err) {
      const failures = [(err as MongoBulkWriteError).writeErrors ?? []].flat();
      if (failures.length === 0 || failures.some((w) => !isDuplicateKey({ code: w.code }))) return asError(err);
      for (const w of failures) outcome.set(w.index, 'clash');
      if (inOrder) for (let i = failures[0]!.index + 1; i < entries.length; i++) outcome.set(i, 'untried');
      return outcome;
    }
  }

  /** A draft whose document clashed with a stored one: answered, or back in front of its lane for another seq. */
  async function settle({ lane: l, item, doc }: Entry): Promise<void> {
    l.contendedUntil = Date.now() + CONTENDED_MS;
    try {
      const result = await collided(l, item, doc.seq);
      if (result) item.resolve(result);
      else l.waiting.unshift(item);
      l.busy = false;
      offer(l);
    } catch (err) {
      fail(l, [item], err);
    }
  }

  async function collided(l: Lane, item: Draft, seq: number): Promise<AppendResult | null> {
    item.attempts += 1;
    if (item.attempts >= MAX_ATTEMPTS) throw new Error(`no free seq after ${MAX_ATTEMPTS} tries`);
    const { sessionId, from, cid } = item.draft;
    if (item.attempts === 1) {
      // Its lane's drafts behind it wait until it is settled (ordered: none is stored past it),
      // so a free seq skipped here, if it was the cid that clashed, is found again below.
      item.firstClash = seq;
      l.next = Math.max(l.next, seq + 1);
      return null;
    }
    const holder = await lookups.bySeq(sessionId, seq);
    if (holder && holder.from.id === from.id && holder.cid === cid) {
      l.next = seq + 1;
      lookups.remember(holder);
      return { message: holder, created: false };
    }
    if (holder) {
      l.next = await lookups.nextFree(sessionId, seq + 1);
      return null;
    }
    // the seq is free: the cid clashed. Every seq before the first clash is stored (the batch was
    // ordered); the next draft goes to the first free one from there, which the first retry skipped.
    const original = await lookups.findByCid(sessionId, from.id, cid);
    l.next = await lookups.nextFree(sessionId, item.firstClash);
    if (original) {
      lookups.remember(original);
      return { message: original, created: false };
    }
    return null;
  }

  return {
    noteStored(sessionId, seq) {
      const l = lanes.get(sessionId);
      // a seq at or past the next one this process would try was stored by another writer
      if (!l || seq < l.next) return;
      l.next = seq + 1;
      l.contendedUntil = Date.now() + CONTENDED_MS;
    },

    lagMs() {
      // nothing on its way: nothing is waiting for the store
      if (flying.size === 0) return 0;
      let lag = lastLag;
      const now = Date.now();
      for (const b of flying) lag = Math.max(lag, now - b.oldest);
      return lag;
    },

    append(draft, lastSeqHint) {
      const l = laneOf(draft.sessionId);
      const refusal = turnRefused(l, draft);
      if (refusal) return Promise.reject(refusal);
      return new Promise((resolve, reject) => {
        l.waiting.push({ draft, since: Date.now(), hint: lastSeqHint, attempts: 0, firstClash: 0, resolve, reject });
        offer(l);
      });
    },
  };
}


const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
