import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Decoded, decodeClientFrame } from '../../../src/protocol/codec.js';
import type { ClientFrame } from '../../../src/protocol/frames.js';

const MAX = 16_384;
const decode = (value: unknown, max = MAX) => decodeClientFrame(typeof value === 'string' ? value : JSON.stringify(value), max);

function rejected(d: Decoded) {
  assert.equal(d.ok, false, 'expected the frame to be rejected');
  if (d.ok) throw new Error('unreachable');
  return d;
}

test('a frame over the size limit is too_large, however valid it is', () => {
  const frame = { t: 'send', sid: 's1', cid: 'c1', body: { text: 'x'.repeat(300) } };
  const d = rejected(decode(frame, 256));
  assert.equal(d.code, 'too_large');
  assert.match(d.message, /256 bytes/);
});

test('the size limit counts bytes, not characters', () => {
  // 100 three-byte characters: 300 bytes in 100 characters
  const text = '€'.repeat(100);
  const raw = JSON.stringify({ t: 'send', sid: 's1', cid: 'c1', body: { text } });
  assert.equal(decodeClientFrame(raw, raw.length + 10).ok, false);
  assert.equal(decodeClientFrame(raw, Buffer.byteLength(raw)).ok, true);
});

test('text that is not JSON is a bad_request, not an exception', () => {
  for (const raw of ['', 'hello', '{"t":"ping"', '{t:"ping"}', '\u0000']) {
    const d = rejected(decodeClientFrame(raw, MAX));
    assert.equal(d.code, 'bad_request');
    assert.match(d.message, /not valid JSON/);
  }
});

test('JSON that is not an object is a bad_request', () => {
  for (const raw of ['null', '42', '"ping"', 'true', '[{"t":"ping"}]']) {
    const d = rejected(decodeClientFrame(raw, MAX));
    assert.equal(d.code, 'bad_request');
    assert.match(d.message, /JSON object/);
  }
});

test('an unknown or missing frame type is named in the error', () => {
  assert.match(rejected(decode({ t: 'shout' })).message, /unknown frame type "shout"/);
  assert.match(rejected(decode({ sid: 's1' })).message, /unknown frame type/);
  assert.match(rejected(decode({ t: 42 })).message, /unknown frame type 42/);
  // inherited properties are not frame types
  assert.match(rejected(decode({ t: 'toString' })).message, /unknown frame type/);
  assert.match(rejected(decode({ t: '__proto__' })).message, /unknown frame type/);
});

test('an unknown frame type with a cid keeps the cid so the sender can match the error', () => {
  const d = rejected(decode({ t: 'sendd', cid: 'c-1' }));
  assert.equal(d.cid, 'c-1');
});

test('a schema error names the frame and the field', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ t: 'send', sid: 's1', cid: 'c1', body: { text: '' } }, /invalid send frame: body\.text/],
    [{ t: 'send', sid: 's1', cid: 'c1' }, /invalid send frame: .*body/],
    [{ t: 'ack', sid: 's1', seq: -1 }, /invalid ack frame: seq/],
    [{ t: 'ack', sid: 's1', seq: 1.5 }, /invalid ack frame: seq/],
    [{ t: 'read', sid: 'a b', seq: 1 }, /invalid read frame: sid/],
    [{ t: 'sync', sid: 's1', after: 0, limit: 500 }, /invalid sync frame: limit/],
    [{ t: 'sync', sid: 's1' }, /invalid sync frame: .*after/],
    [{ t: 'auth', token: '' }, /invalid auth frame: token/],
    [{ t: 'ping', extra: 1 }, /invalid ping frame: extra/],
    [{ t: 'send', sid: 'x'.repeat(65), cid: 'c1', body: { text: 'hi' } }, /invalid send frame: sid/],
  ];
  for (const [frame, pattern] of cases) {
    const d = rejected(decode(frame));
    assert.equal(d.code, 'bad_request');
    assert.match(d.message, pattern, JSON.stringify(frame));
  }
});

test('a schema error of a send keeps its cid and the frame type', () => {
  const d = rejected(decode({ t: 'send', sid: 's1', cid: 'c-9', body: { text: '' } }));
  assert.equal(d.cid, 'c-9');
  assert.equal(d.ref, 'send');
});

test('an over-long cid is not echoed back', () => {
  const d = rejected(decode({ t: 'send', sid: 's1', cid: 'c'.repeat(65), body: { text: 'hi' } }));
  assert.equal(d.cid, undefined);
});

test('operator-shaped values never pass as ids, seqs or text', () => {
  const cases: unknown[] = [
    { t: 'send', sid: { $gt: '' }, cid: 'c1', body: { text: 'hi' } },
    { t: 'send', sid: 's1', cid: { $ne: null }, body: { text: 'hi' } },
    { t: 'send', sid: 's1', cid: 'c1', body: { text: { $regex: '.*' } } },
    { t: 'send', sid: 's1', cid: 'c1', body: { text: 'hi', $where: 'sleep(1000)' } },
    { t: 'sync', sid: { $gt: '' }, after: 0 },
    { t: 'sync', sid: 's1', after: { $gt: 0 } },
    { t: 'ack', sid: 's1', seq: { $gt: 0 } },
    { t: 'read', sid: '$where', seq: 1 },
    { t: 'auth', token: { $exists: true } },
  ];
  for (const frame of cases) {
    const d = rejected(decode(frame));
    assert.equal(d.code, 'bad_request', JSON.stringify(frame));
  }
});

test('a valid frame of each type is accepted as it was sent', () => {
  const frames: ClientFrame[] = [
    { t: 'auth', token: 'eyJhbGciOi.x.y' },
    { t: 'send', sid: 'sess_1', cid: 'c:1.a-b', body: { text: 'hello 世界' } },
    { t: 'ack', sid: 'sess_1', seq: 0 },
    { t: 'read', sid: 'sess_1', seq: 12 },
    { t: 'sync', sid: 'sess_1', after: 3 },
    { t: 'sync', sid: 'sess_1', after: 3, limit: 200 },
    { t: 'typing', sid: 'sess_1' },
    { t: 'ping' },
  ];
  for (const frame of frames) {
    const d = decode(frame);
    assert.equal(d.ok, true, JSON.stringify(d));
    if (d.ok) assert.deepEqual(d.frame, frame);
  }
});
