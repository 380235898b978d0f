import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isValidCid, newCid } from '../../../src/client/index.js';
import { tailOf } from '../../../src/client/cid.js';

test('a new cid is a version 7 UUID the gateway accepts, carrying the time it was made', () => {
  const at = Date.UTC(2026, 11, 3, 16, 0, 0, 123);
  const cid = newCid(at);
  assert.match(cid, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(isValidCid(cid));
  assert.equal(parseInt(cid.slice(0, 8) + cid.slice(9, 13), 16), at, 'the first 48 bits are the milliseconds');
});

test('cids grow with time, as text, and are unique within a millisecond', () => {
  const at = Date.now();
  const earlier = newCid(at - 1);
  const same = Array.from({ length: 1000 }, () => newCid(at));
  const later = newCid(at + 1);
  assert.equal(new Set(same).size, 1000);
  for (const cid of same) assert.ok(earlier < cid && cid < later, `${earlier} < ${cid} < ${later}`);
  assert.ok(newCid(2 ** 47) > newCid(2 ** 47 - 1), 'across a carry into the top bytes too');
});

test('without randomUUID (an insecure context), the tail from pooled random bytes has the same shape', () => {
  const bytes = Uint8Array.from({ length: 10 }, (_, i) => 0x11 * i + 7);
  const tail = tailOf(bytes);
  assert.match(tail, /^[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(tail, '071-8293-a4b5c6d7e8fa', 'the bytes in order, the variant from the fourth digit');
  assert.notEqual(tailOf(new Uint8Array(10).fill(0xff)), tailOf(new Uint8Array(10)));
});
