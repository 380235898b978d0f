import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { hashPassword, identityHash, randomToken, safeEqual, sha256, verifyPassword } from '../../../src/domain/secrets.js';

test('a password verifies against its own hash', async () => {
  const stored = await hashPassword('correct horse battery staple');
  assert.equal(await verifyPassword('correct horse battery staple', stored), true);
});

test('a wrong password does not verify', async () => {
  const stored = await hashPassword('correct horse battery staple');
  assert.equal(await verifyPassword('correct horse battery stapl', stored), false);
  assert.equal(await verifyPassword('', stored), false);
  assert.equal(await verifyPassword('Correct horse battery staple', stored), false);
});

test('the stored hash names its parameters, is salted and does not contain the password', async () => {
  const a = await hashPassword('same password');
  const b = await hashPassword('same password');
  assert.match(a, /^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
  assert.notEqual(a, b, 'a fresh salt each time');
  assert.ok(!a.includes('same password'));
  assert.equal(await verifyPassword('same password', b), true);
});

test('unicode passwords round-trip', async () => {
  const stored = await hashPassword('пароль 密码 🔑');
  assert.equal(await verifyPassword('пароль 密码 🔑', stored), true);
  assert.equal(await verifyPassword('пароль 密码', stored), false);
});

test('a malformed or foreign stored hash never verifies', async () => {
  const good = await hashPassword('pw');
  const [, n, r, p, salt] = good.split('$');
  for (const stored of ['', 'plain-text-pw', `bcrypt$${n}$${r}$${p}$${salt}$abc`, `scrypt$${n}$${r}$${p}$${salt}$`, `scrypt$${n}$${r}$${p}$${salt}$A`]) {
    assert.equal(await verifyPassword('pw', stored), false, JSON.stringify(stored));
  }
});

test('the identity hash is the hex HMAC-SHA256 of the user id with the identity secret', () => {
  const secret = 'is_site-secret';
  const expected = createHmac('sha256', secret).update('user-42').digest('hex');
  assert.equal(identityHash('user-42', secret), expected);
  assert.match(expected, /^[0-9a-f]{64}$/);
  assert.notEqual(identityHash('user-43', secret), expected);
  assert.notEqual(identityHash('user-42', 'is_other-secret'), expected);
});

test('tokens carry their prefix and are unique', () => {
  const a = randomToken('sa');
  const b = randomToken('sa');
  assert.match(a, /^sa_[A-Za-z0-9_-]{32}$/);
  assert.notEqual(a, b);
});

test('sha256 is the hex digest and safeEqual compares exactly', () => {
  assert.equal(sha256('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(safeEqual('abc', 'abc'), true);
  assert.equal(safeEqual('abc', 'abd'), false);
  assert.equal(safeEqual('abc', 'abcd'), false);
});
