/**
 * Baseline R1: the same relay, plus what storage and fan-out cost at their
 * simplest. Sends are collected for FLUSH_MS (or FLUSH_AT of them) and stored
 * with one `insertMany` into the same MongoDB-compatible server as the
 * service; only once it resolves is each sender answered `sent` and each
 * message PUBLISHed on its recipient's Redis channel. Every process SUBSCRIBEs
 * to the channels of the accounts connected to it and pushes what arrives. No
 * business logic, no seq claims.
 *
 * One flush at a time: each flush's publishes go out before the next one's,
 * so a sender's messages reach the peer in seq order, across processes too.
 *
 * R1d (R1_DOCUMENTS=service) stores what the service stores for a message:
 * its document's fields (siteId, the sender's name, status) under its unique
 * (cid, session, sender) index, the one that turns a resend into the
 * original (src/store/messages.ts). Nothing else changes, so R1d ÷ R1 is
 * what storing the service's documents under that guarantee costs the
 * store, and ours ÷ R1d what the rest of the service costs.
 *
 * Env: PORT, HEARTBEAT_SECONDS, MONGODB_URL, MONGODB_DB, REDIS_URL, REDIS_PREFIX, R1_DOCUMENTS.
 */
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { messageIndexes } from '../../src/store/messages.js';
import { closeOnSignal, relayEnv, startRelay, type InboundSend, type Relay } from './relay.js';

const FLUSH_MS = 5;
const FLUSH_AT = 500;

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set`);
  return value;
}

interface StoredMessage {
  _id: string;
  sessionId: string;
  /** R1d only, as the service's documents */
  siteId?: string;
  seq: number;
  cid: string;
  from: { id: string; kind: string; name?: string };
  type: 'chat';
  body: { text: string };
  status?: 'ok';
  createdAt: Date;
}

const asService = process.env.R1_DOCUMENTS === 'service';
/** R1d: the fields of the service's message document that R1's lacks */
const serviceFields = (s: InboundSend) => (asService ? { siteId: 'bench', from: { id: s.from.id, kind: s.from.kind, name: s.from.id }, status: 'ok' as const } : {});

const mongo = new MongoClient(env('MONGODB_URL'));
const messages = mongo.db(env('MONGODB_DB')).collection<StoredMessage>('messages');
const redis = new Redis(env('REDIS_URL'));
const sub = redis.duplicate();
const prefix = `${env('REDIS_PREFIX')}:r1:account:`;

let batch: InboundSend[] = [];
let timer: NodeJS.Timeout | undefined;
let flushing = false;

function add(s: InboundSend): void {
  batch.push(s);
  if (batch.length >= FLUSH_AT) void flush();
  else timer ??= setTimeout(() => void flush(), FLUSH_MS);
}

async function flush(): Promise<void> {
  clearTimeout(timer);
  timer = undefined;
  if (flushing || batch.length === 0) return;
  flushing = true;
  const items = batch;
  batch = [];
  try {
    await messages.insertMany(
      items.map((s) => ({
        _id: `${s.from.id}.${s.seq}`,
        sessionId: s.sid,
        seq: s.seq,
        cid: s.cid,
        from: { id: s.from.id, kind: s.from.kind },
        type: 'chat',
        body: { text: s.text },
        createdAt: new Date(s.ts),
        ...serviceFields(s),
      })),
    );
    const publish = redis.pipeline();
    for (const s of items) {
      s.reply(s.sent);
      publish.publish(prefix + s.from.peerId, s.msg);
    }
    await publish.exec();
  } catch (err) {
    console.error(`flush of ${items.length} failed: ${err instanceof Error ? err.message : String(err)}`);
    for (const s of items) s.reply(JSON.stringify({ t: 'error', code: 'unavailable', message: 'store failed, try again', ref: 'send', sid: s.sid, cid: s.cid }));
  } finally {
    flushing = false;
    // whatever came in meanwhile has waited long enough
    if (batch.length > 0) void flush();
  }
}

const ready = Promise.all([mongo.connect().then(() => (asService ? messages.createIndexes(messageIndexes) : undefined)), redis.ping(), sub.ping()]).then(() => undefined);

const relay: Relay = startRelay({
  ...relayEnv(),
  ready,
  onSend: add,
  async onAccount(accountId, present) {
    if (present) await sub.subscribe(prefix + accountId);
    else await sub.unsubscribe(prefix + accountId);
  },
});
sub.on('message', (channel: string, frame: string) => relay.deliver(channel.slice(prefix.length), frame));

closeOnSignal(async () => {
  await relay.close();
  await flush();
  sub.disconnect();
  redis.disconnect();
  await mongo.close();
});
