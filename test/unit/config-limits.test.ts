/** The limit settings of src/config.ts (the rest is in config.test.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.js';

test('limits have generous defaults: a person never meets them, a flood does', () => {
  const c = loadConfig({});
  assert.equal(c.msgRatePerSec, 5);
  assert.equal(c.msgBurst, 20);
  assert.equal(c.wsConnectPerMin, 300);
  assert.equal(c.maxConnections, 20_000);
  assert.equal(c.restRatePerMin, 600);
  assert.equal(c.maxEventLoopDelayMs, 1000);
  assert.equal(c.maxHeapUsedBytes, 0);
  assert.equal(c.maxStoreLagMs, 1000);
});

test('every limit can be set, and 0 turns the off-able ones off', () => {
  const c = loadConfig({
    MSG_RATE_PER_SEC: '0',
    MSG_BURST: '3',
    WS_CONNECT_PER_MIN: '0',
    MAX_CONNECTIONS: '0',
    REST_RATE_PER_MIN: '0',
    MAX_EVENT_LOOP_DELAY_MS: '0',
    MAX_HEAP_USED_MB: '512',
    MAX_STORE_LAG_MS: '0',
  });
  assert.equal(c.msgRatePerSec, 0);
  assert.equal(c.msgBurst, 3);
  assert.equal(c.wsConnectPerMin, 0);
  assert.equal(c.maxConnections, 0);
  assert.equal(c.restRatePerMin, 0);
  assert.equal(c.maxEventLoopDelayMs, 0);
  assert.equal(c.maxHeapUsedBytes, 512 * 1024 * 1024);
  assert.equal(c.maxStoreLagMs, 0);
});

test('bad limit values are reported with their names', () => {
  for (const [env, problem] of [
    [{ MSG_BURST: '0' }, /^MSG_BURST="0": expected a whole number from 1 to/],
    [{ MSG_RATE_PER_SEC: '-1' }, /^MSG_RATE_PER_SEC="-1"/],
    [{ MAX_CONNECTIONS: 'lots' }, /^MAX_CONNECTIONS="lots"/],
    [{ REST_RATE_PER_MIN: '1.5' }, /^REST_RATE_PER_MIN="1.5"/],
    [{ MAX_STORE_LAG_MS: '-5' }, /^MAX_STORE_LAG_MS="-5"/],
  ] as const) {
    assert.throws(() => loadConfig(env), (err: Error & { problems?: string[] }) => problem.test(err.problems?.[0] ?? ''), JSON.stringify(env));
  }
});

test('TRUST_PROXY: a proxy on loopback by default; none, hops or named proxies when set; trusting everyone is refused', () => {
  assert.equal(loadConfig({}).trustProxy, 'loopback');
  assert.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false);
  assert.equal(loadConfig({ TRUST_PROXY: '0' }).trustProxy, false);
  assert.equal(loadConfig({ TRUST_PROXY: '1' }).trustProxy, 1);
  assert.equal(loadConfig({ TRUST_PROXY: 'uniquelocal' }).trustProxy, 'uniquelocal');
  assert.equal(loadConfig({ TRUST_PROXY: '10.0.0.0/8, ::1' }).trustProxy, '10.0.0.0/8,::1');
  for (const bad of ['true', '11', 'nginx', '10.0.0.1/', '10.0.0.0/8,everyone']) {
    assert.throws(() => loadConfig({ TRUST_PROXY: bad }), (err: Error) => err.message.includes(`TRUST_PROXY=${JSON.stringify(bad)}`), bad);
  }
});
