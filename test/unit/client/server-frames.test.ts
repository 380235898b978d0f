import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseServerFrame } from '../../../src/client/index.js';
import { batch, message, msgFrame } from './fake-socket.js';

test('well-formed frames parse', () => {
  for (const f of [msgFrame('s1', 1), batch('s1', [1, 2], true), { t: 'pong' }, { t: 'error', code: 'forbidden', message: 'no' }, { t: 'event', sid: 's1', name: 'typing' }]) {
    const p = parseServerFrame(JSON.stringify(f));
    assert.equal(p.kind, 'frame', JSON.stringify(f));
  }
});

test('unreadable frames are reported, unknown types skipped', () => {
  assert.equal(parseServerFrame('{nope').kind, 'bad');
  assert.equal(parseServerFrame(new Uint8Array([1])).kind, 'bad');
  assert.equal(parseServerFrame('[1]').kind, 'bad');
  assert.equal(parseServerFrame(JSON.stringify(msgFrame('s1', 0))).kind, 'bad');
  assert.equal(parseServerFrame(JSON.stringify(msgFrame('s1', 1, { ts: 'yesterday' }))).kind, 'bad');
  const wrongSession = { t: 'batch', sid: 's1', messages: [message('s2', 1)], more: false };
  assert.deepEqual(parseServerFrame(JSON.stringify(wrongSession)), { kind: 'bad', reason: 'invalid batch.messages', t: 'batch', sid: 's1' });
  assert.deepEqual(parseServerFrame('{"t":"hello"}'), { kind: 'unknown', t: 'hello' });
});
