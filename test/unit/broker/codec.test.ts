import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Delivery } from '../../../src/broker/broker.js';
import { decodePush, deliveryOf, encodePush, PushDecodeError } from '../../../src/broker/codec.js';
import type { Message, Session } from '../../../src/domain/model.js';
import type { Push } from '../../../src/domain/ports.js';
import { toMsgFrameOf } from '../../../src/protocol/serialize.js';

const message: Message = {
  id: '65a000000000000000000001',
  sessionId: '65a000000000000000000002',
  siteId: '65a000000000000000000003',
  seq: 7,
  cid: 'c-7',
  from: { id: '65a000000000000000000004', kind: 'visitor', name: 'Zoë 🙂' },
  type: 'chat',
  body: { text: 'hello "world"\n<script>' },
  status: 'ok',
  createdAt: new Date('2024-05-06T07:08:09.123Z'),
};

const session: Session = {
  id: '65a000000000000000000002',
  siteId: '65a000000000000000000003',
  state: 'active',
  visitorId: '65a000000000000000000004',
  assigneeId: '65a000000000000000000005',
  lastSeq: 7,
  sentSeq: { '65a000000000000000000004': 6 },
  createdAt: new Date('2024-05-06T07:00:00.000Z'),
  acceptedAt: new Date('2024-05-06T07:01:00.500Z'),
  lastActivityAt: new Date('2024-05-06T07:08:09.123Z'),
};

function roundTrip(push: Push): Delivery {
  return decodePush(encodePush(push));
}

describe('broker codec: a push decodes to what the in-process broker would hand over', () => {
  it('a message, as its seq, its session and its `msg` frame exactly as a client gets it', () => {
    const decoded = roundTrip({ kind: 'message', message });
    assert.ok(decoded.kind === 'message');
    assert.deepStrictEqual({ sessionId: decoded.sessionId, seq: decoded.seq }, { sessionId: message.sessionId, seq: 7 });
    assert.deepStrictEqual(JSON.parse(decoded.frame), JSON.parse(JSON.stringify(toMsgFrameOf(message))));
    assert.deepStrictEqual(decoded, deliveryOf({ kind: 'message', message }), 'what the in-process broker hands over');
  });

  it('a message in the older JSON form (an instance of the previous version) decodes to the same', () => {
    const older = JSON.stringify({ kind: 'message', message });
    assert.deepStrictEqual(decodePush(older), deliveryOf({ kind: 'message', message }));
  });

  it('a session event, with the session times it has as Dates and the ones it lacks still absent', () => {
    const push: Push = { kind: 'event', sid: session.id, name: 'session', data: { state: 'active', assigneeId: session.assigneeId, session } };
    const decoded = roundTrip(push);
    assert.deepStrictEqual(decoded, push);
    const s = (decoded as Extract<Push, { kind: 'event' }>).data.session as Session;
    assert.ok(s.createdAt instanceof Date && s.acceptedAt instanceof Date && s.lastActivityAt instanceof Date);
    assert.equal('closedAt' in s, false);

    const closed: Session = { ...session, state: 'closed', closedAt: new Date('2024-05-06T08:00:00.000Z') };
    const back = roundTrip({ kind: 'event', sid: session.id, name: 'session', data: { state: 'closed', assigneeId: null, session: closed } });
    assert.deepStrictEqual((back as Extract<Push, { kind: 'event' }>).data, { state: 'closed', assigneeId: null, session: closed });
  });

  it('typing and read events unchanged', () => {
    const typing: Push = { kind: 'event', sid: 's1', name: 'typing', data: { from: { id: 'a1', kind: 'agent', name: 'Ann' } } };
    const read: Push = { kind: 'event', sid: 's1', name: 'read', data: { accountId: 'v1', kind: 'visitor', seq: 12 } };
    assert.deepStrictEqual(roundTrip(typing), typing);
    assert.deepStrictEqual(roundTrip(read), read);
  });

  it('anything else is refused with a PushDecodeError, not half-decoded', () => {
    const bad = [
      'not json',
      '[]',
      'null',
      '{"kind":"nope"}',
      '{"kind":"message"}',
      '{"kind":"message","message":{"createdAt":"yesterday"}}',
      '{"kind":"message","message":{"createdAt":12}}',
      '{"kind":"message","message":{"sessionId":"s","seq":0,"createdAt":"2024-05-06T07:08:09.123Z"}}',
      'M',
      'M7 s1',
      'M7 s1{"t":"msg"}',
      'M0 s1\n{"t":"msg","seq":0}',
      'M-1 s1\n{"t":"msg","seq":-1}',
      'M9999999999999999 s1\n{"t":"msg"}',
      'M7 s 1\n{"t":"msg","seq":7}',
      'M7 \n{"t":"msg","seq":7}',
      'M7 s1\n{"t":"sent","seq":7}',
      'M7 s1\nnot a frame',
      'M7 s1\n',
      '{"kind":"event","sid":"s","name":"shout","data":{}}',
      '{"kind":"event","sid":"s","name":"read"}',
      '{"kind":"event","sid":"s","name":"session","data":{}}',
      '{"kind":"event","sid":"s","name":"session","data":{"session":{"createdAt":"2024-13-45"}}}',
    ];
    for (const text of bad) assert.throws(() => decodePush(text), PushDecodeError, text);
  });
});
