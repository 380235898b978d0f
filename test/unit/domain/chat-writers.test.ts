/**
 * How chat.ts routes a session's messages to the session's one writer
 * (SessionWriters): two instances of the service over the same in-memory
 * stores, and a stand-in for the Redis side that the test can hold up and
 * cut off. The Redis transport itself, and two real instances, are
 * test/integration/session-writers.test.ts's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message } from '../../../src/domain/model.js';
import { type ForwardedAppend, type SessionWriters, WriterGone } from '../../../src/domain/ports.js';
import { unavailable } from '../../../src/errors.js';
import { createWorld } from './fakes.js';

type Answer = { message: Message; created: boolean };
type Handler = (request: ForwardedAppend) => Promise<Answer>;

interface Held {
  to: string;
  request: ForwardedAppend;
  /** hands the draft to its writer, which stores it; the answer is still held */
  deliver(): Promise<void>;
  /** passes the writer's answer (or refusal) on to the sender */
  answer(): void;
  /** the sender gets this instead */
  fail(err: unknown): void;
}

/** Who writes which session, and the drafts on their way between instances. */
class WriterNet {
  readonly writers = new Map<string, string>();
  readonly handlers = new Map<string, Handler>();
  readonly alive = new Set<string>();
  /** drafts forwarded while `holding`, in the order forwarded */
  readonly held: Held[] = [];
  holding = false;
  /** writerOf calls, per instance */
  readonly asks = new Map<string, number>();

  member(self: string): SessionWriters {
    this.alive.add(self);
    const known = new Map<string, string>();
    return {
      self,
      writerOf: async (sessionId, gone) => {
        this.asks.set(self, (this.asks.get(self) ?? 0) + 1);
        const holder = this.writers.get(sessionId);
        const writer = !holder || holder === self || holder === gone ? self : holder;
        this.writers.set(sessionId, writer);
        known.set(sessionId, writer);
        return writer;
      },
      knownWriter: (sessionId) => known.get(sessionId),
      renew: () => undefined,
      forward: (instanceId, request) => {
        if (!this.alive.has(instanceId)) return Promise.reject(new WriterGone(instanceId));
        const handler = this.handlers.get(instanceId)!;
        if (!this.holding) return handler(request);
        return new Promise<Answer>((resolve, reject) => {
          let outcome: Promise<Answer> | undefined;
          this.held.push({
            to: instanceId,
            request,
            deliver: async () => {
              outcome = handler(request);
              await outcome.catch(() => undefined);
            },
            answer: () => void outcome!.then(resolve, reject),
            fail: reject,
          });
        });
      },
      serve: (handler) => void this.handlers.set(self, handler),
      leave: async () => void this.alive.delete(self),
    };
  }

  /** The instance dies: drafts handed to it that it has not answered find it gone, as later ones do. */
  kill(instanceId: string): void {
    this.alive.delete(instanceId);
    for (const h of this.held.splice(0)) {
      if (h.to === instanceId) h.fail(new WriterGone(instanceId));
      else this.held.push(h);
    }
  }
}

/** An active session on a world with two instances: the visitor's (a) writes it, the agent's (b) forwards. */
async function twoInstances() {
  const w = createWorld();
  const site = w.addSite();
  const agent = w.addAgent(site.id);
  const visitor = w.addVisitor(site.id);
  const net = new WriterNet();
  const a = w.instance(net.member('a'));
  const b = w.instance(net.member('b'));
  const { session } = await a.startSession(visitor, {});
  await b.acceptSession(agent, session.id);
  assert.equal(net.writers.get(session.id), 'a', 'the instance that stored its first message writes the session');
  const texts = () => w.messages.filter((m) => m.sessionId === session.id && m.type === 'chat').map((m) => `${m.seq}:${m.body.text}`);
  const send = (chat: typeof a, who: typeof agent, text: string) => chat.sendMessage(who, session.id, { cid: `c-${text}`, text });
  return { w, net, a, b, agent, visitor, sid: session.id, texts, send };
}

test("another instance's messages are stored by the session's writer, each sender's in order, and pushed to the members it named", async () => {
  const { w, net, a, b, agent, visitor, sid, texts, send } = await twoInstances();
  const sent = await Promise.all([send(b, agent, 'one'), send(a, visitor, 'two'), send(b, agent, 'three')]);
  assert.deepEqual(
    sent.map((m) => m.body.text),
    ['one', 'two', 'three'],
  );
  // each as its sender was answered, once; b's two in the order b sent them (a's may come between)
  assert.deepEqual(texts().sort(), sent.map((m) => `${m.seq}:${m.body.text}`).sort());
  assert.ok(sent[0]!.seq < sent[2]!.seq);
  assert.equal(net.writers.get(sid), 'a', 'b never became a writer');
  const pushedOne = w.pushed.find((p) => p.push.kind === 'message' && p.push.message.cid === 'c-one');
  assert.deepEqual(pushedOne?.to, [visitor.id, agent.id]);
});

test('a session this instance writes is stored here without asking who writes it for every message', async () => {
  const { net, a, visitor, texts, send } = await twoInstances();
  const before = net.asks.get('a') ?? 0;
  for (const text of ['one', 'two', 'three', 'four']) await send(a, visitor, text);
  assert.ok((net.asks.get('a') ?? 0) - before <= 1, `asked ${(net.asks.get('a') ?? 0) - before} times`);
  assert.equal(texts().length, 4);
});

test('when the writer dies with drafts on their way, the next writer stores each once, in the order they were sent', async () => {
  const { w, net, b, agent, sid, texts, send } = await twoInstances();
  net.holding = true;
  const sends = ['one', 'two', 'three'].map((text) => send(b, agent, text));
  await waitFor(() => net.held.length === 3);
  // the writer stored the first and died before answering; the other two never reached it
  await net.held[0]!.deliver();
  assert.deepEqual(texts().map((t) => t.split(':')[1]), ['one']);
  net.holding = false;
  net.kill('a');
  const sent = await Promise.all(sends);
  assert.deepEqual(
    sent.map((m) => m.body.text),
    ['one', 'two', 'three'],
  );
  assert.deepEqual(texts(), sent.map((m) => `${m.seq}:${m.body.text}`), 'stored once each, in the order sent');
  assert.equal(net.writers.get(sid), 'b', 'the sending instance took the session over');
  const later = await send(b, agent, 'four');
  assert.equal(later.seq, sent[2]!.seq + 1);
  assert.equal(w.messages.filter((m) => m.cid === 'c-one').length, 1);
});

test("a writer's refusal fails only that message: the ones around it are stored, and the session keeps its writer", async () => {
  const { net, b, agent, sid, texts, send } = await twoInstances();
  net.holding = true;
  const sends = ['one', 'two', 'three'].map((text) => send(b, agent, text));
  await waitFor(() => net.held.length === 3);
  const [one, two, three] = net.held.splice(0);
  await one!.deliver();
  one!.answer();
  two!.fail(unavailable('the writer did not answer in time', 1000));
  await three!.deliver();
  three!.answer();
  const results = await Promise.allSettled(sends);
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  assert.equal((results[1] as PromiseRejectedResult).reason.code, 'unavailable');
  assert.deepEqual(texts().map((t) => t.split(':')[1]), ['one', 'three']);
  assert.equal(net.writers.get(sid), 'a');
  // the resend of the refused one is stored after them, once
  net.holding = false;
  const again = await send(b, agent, 'two');
  assert.deepEqual(texts().map((t) => t.split(':')[1]), ['one', 'three', 'two']);
  assert.equal(again.body.text, 'two');
});

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(check(), 'the condition never held');
}
