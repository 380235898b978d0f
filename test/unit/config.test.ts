import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError, loadConfig, withGeneratedSecrets } from '../../src/config.js';

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'im-config-'));
  tempDirs.push(dir);
  return dir;
}

/** The problems loadConfig reports for `env`; fails when it accepts it. */
function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail(`expected ${JSON.stringify(env)} to be rejected`);
}

test('an empty environment gives the documented defaults', () => {
  const c = loadConfig({});
  assert.equal(c.port, 3000);
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.mongodbUrl, undefined);
  assert.equal(c.redisUrl, undefined);
  assert.equal(c.adminToken, '', 'generated later by withGeneratedSecrets');
  assert.equal(c.tokenSecret, '');
  assert.equal(c.dataDir, resolve('./data'));
  assert.equal(c.logLevel, 'info');
  assert.equal(c.demo, true);
  assert.equal(c.redisPrefix, 'im');
  assert.equal(c.broker, 'redis');
  assert.equal(c.presenceTtlMs, 30_000);
  assert.equal(c.inactivityCloseMs, 1800 * 1000);
  assert.equal(c.heartbeatMs, 25_000);
  assert.equal(c.ackTimeoutMs, 3000);
  assert.equal(c.resyncGapMs, 5000);
  assert.equal(c.authTimeoutMs, 5000);
  assert.equal(c.wsSetupConcurrency, 32);
  assert.equal(c.maxTextLength, 4000);
  assert.equal(c.maxFrameBytes, 16_384);
  assert.equal(c.shutdownTimeoutMs, 10_000);
});

test('empty variables count as unset', () => {
  assert.deepEqual(loadConfig({ PORT: '', DEMO: '', MONGODB_URL: '', LOG_LEVEL: '' }), loadConfig({}));
});

test('given values are used, seconds turned into milliseconds', () => {
  const c = loadConfig({
    PORT: '8080',
    HOST: '0.0.0.0',
    MONGODB_URL: 'mongodb://db:27017/chat',
    REDIS_URL: 'rediss://cache:6380',
    ADMIN_TOKEN: 'a'.repeat(16),
    TOKEN_SECRET: 's'.repeat(32),
    DEMO: 'off',
    INACTIVITY_CLOSE_SECONDS: '60',
    HEARTBEAT_SECONDS: '10',
    LOG_LEVEL: 'warn',
    BROKER: 'memory',
    PRESENCE_TTL_SECONDS: '12',
    RESYNC_GAP_MS: '0',
  });
  assert.equal(c.port, 8080);
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.mongodbUrl, 'mongodb://db:27017/chat');
  assert.equal(c.redisUrl, 'rediss://cache:6380');
  assert.equal(c.adminToken, 'a'.repeat(16));
  assert.equal(c.demo, false);
  assert.equal(c.inactivityCloseMs, 60_000);
  assert.equal(c.heartbeatMs, 10_000);
  assert.equal(c.logLevel, 'warn');
  assert.equal(c.broker, 'memory');
  assert.equal(c.presenceTtlMs, 12_000);
  assert.equal(c.resyncGapMs, 0, 'every loss asks at once');
});

test('DEMO understands the usual spellings of true and false', () => {
  for (const v of ['1', 'true', 'YES', 'on']) assert.equal(loadConfig({ DEMO: v }).demo, true, v);
  for (const v of ['0', 'false', 'No', 'OFF']) assert.equal(loadConfig({ DEMO: v }).demo, false, v);
});

test('each bad value is reported with the variable name and what was given', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: '70000' }, /^PORT="70000": expected a whole number from 0 to 65535$/],
    [{ PORT: 'http' }, /^PORT="http"/],
    [{ ACK_TIMEOUT_MS: '10' }, /^ACK_TIMEOUT_MS="10": expected a whole number from 50/],
    [{ AUTH_TIMEOUT_MS: '2.5' }, /^AUTH_TIMEOUT_MS="2.5"/],
    [{ WS_SETUP_CONCURRENCY: '0' }, /^WS_SETUP_CONCURRENCY="0": expected a whole number from 1 to 10000$/],
    [{ HEARTBEAT_SECONDS: '0' }, /^HEARTBEAT_SECONDS="0"/],
    [{ INACTIVITY_CLOSE_SECONDS: '-5' }, /^INACTIVITY_CLOSE_SECONDS="-5"/],
    [{ MAX_TEXT_LENGTH: '100001' }, /^MAX_TEXT_LENGTH="100001"/],
    [{ MAX_FRAME_BYTES: '100' }, /^MAX_FRAME_BYTES="100"/],
    [{ SHUTDOWN_TIMEOUT_MS: 'soon' }, /^SHUTDOWN_TIMEOUT_MS="soon"/],
    [{ DEMO: 'maybe' }, /^DEMO="maybe": expected true or false$/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL="loud": expected one of/],
    [{ BROKER: 'kafka' }, /^BROKER="kafka": expected one of redis, memory$/],
    [{ PRESENCE_TTL_SECONDS: '2' }, /^PRESENCE_TTL_SECONDS="2": expected a whole number from 3 to 3600$/],
    [{ MONGODB_URL: 'postgres://db/x' }, /^MONGODB_URL="postgres:\/\/db\/x": expected a URL starting with mongodb:\/\/ or mongodb\+srv:\/\/$/],
    [{ MONGODB_URL: 'not a url' }, /^MONGODB_URL="not a url"/],
    [{ REDIS_URL: 'http://cache' }, /^REDIS_URL="http:\/\/cache": expected a URL starting with redis:\/\/ or rediss:\/\/$/],
    [{ PUBLIC_URL: 'ftp://x' }, /^PUBLIC_URL="ftp:\/\/x"/],
    [{ ADMIN_TOKEN: 'short' }, /^ADMIN_TOKEN: expected at least 16 characters$/],
    [{ TOKEN_SECRET: 'x'.repeat(31) }, /^TOKEN_SECRET: expected at least 32 characters$/],
  ];
  for (const [env, pattern] of cases) {
    const found = problems(env);
    assert.equal(found.length, 1, `${JSON.stringify(env)}: ${found.join('; ')}`);
    assert.match(found[0]!, pattern);
  }
});

test('secrets are never echoed back in a problem', () => {
  const [problem] = problems({ ADMIN_TOKEN: 'hunter2' });
  assert.ok(!problem!.includes('hunter2'));
});

test('a number must be written as plain decimal digits', () => {
  // Number() reads a blank as 0 (PORT=" " would listen on a random port) and "0x50" as 80
  for (const raw of [' ', '0x50', '1e3', '+80', '80.0']) {
    const [problem] = problems({ PORT: raw });
    assert.match(problem!, /^PORT=/, JSON.stringify(raw));
  }
  assert.equal(loadConfig({ PORT: ' 8080 ' }).port, 8080, 'surrounding spaces are harmless');
});

test('all problems are reported together, in one error', () => {
  const env = { PORT: '-1', LOG_LEVEL: 'chatty', REDIS_URL: 'x', DEMO: '2', ADMIN_TOKEN: 'abc' };
  const found = problems(env);
  assert.equal(found.length, 5, found.join('\n'));
  for (const name of ['PORT', 'LOG_LEVEL', 'REDIS_URL', 'DEMO', 'ADMIN_TOKEN']) {
    assert.ok(found.some((p) => p.startsWith(name)), `${name} missing from ${found.join('; ')}`);
  }
  assert.throws(() => loadConfig(env), (err: Error) => err.message.split('\n').length === 6);
});

test('missing secrets are generated once under DATA_DIR and stay the same across calls', () => {
  const dataDir = join(tempDir(), 'nested', 'data');
  const first = withGeneratedSecrets(loadConfig({ DATA_DIR: dataDir }));
  assert.ok(first.adminToken.length >= 16);
  assert.ok(first.tokenSecret.length >= 32);
  assert.notEqual(first.adminToken, first.tokenSecret);
  assert.deepEqual(first.generated.sort(), [join(dataDir, 'admin-token'), join(dataDir, 'token-secret')]);
  assert.equal(readFileSync(join(dataDir, 'admin-token'), 'utf8').trim(), first.adminToken);
  assert.equal(statSync(join(dataDir, 'token-secret')).mode & 0o077, 0, 'readable by the owner only');

  const second = withGeneratedSecrets(loadConfig({ DATA_DIR: dataDir }));
  assert.equal(second.adminToken, first.adminToken);
  assert.equal(second.tokenSecret, first.tokenSecret);
  assert.deepEqual(second.generated, []);
});

test('another DATA_DIR gets other secrets', () => {
  const a = withGeneratedSecrets(loadConfig({ DATA_DIR: tempDir() }));
  const b = withGeneratedSecrets(loadConfig({ DATA_DIR: tempDir() }));
  assert.notEqual(a.adminToken, b.adminToken);
  assert.notEqual(a.tokenSecret, b.tokenSecret);
});

test('given secrets win and nothing is written for them', () => {
  const dataDir = tempDir();
  const c = withGeneratedSecrets(loadConfig({ DATA_DIR: dataDir, ADMIN_TOKEN: 'operator-token-0123', TOKEN_SECRET: 't'.repeat(40) }));
  assert.equal(c.adminToken, 'operator-token-0123');
  assert.equal(c.tokenSecret, 't'.repeat(40));
  assert.deepEqual(c.generated, []);
  // a later start without them still generates its own, independent of what was given
  const later = withGeneratedSecrets(loadConfig({ DATA_DIR: dataDir }));
  assert.notEqual(later.adminToken, 'operator-token-0123');
  assert.equal(later.generated.length, 2);
});

test('METRICS_TOKEN: unset by default; a short one is refused', () => {
  assert.equal(loadConfig({}).metricsToken, undefined);
  assert.equal(loadConfig({ METRICS_TOKEN: 'scrape-token-0123456789' }).metricsToken, 'scrape-token-0123456789');
  assert.throws(() => loadConfig({ METRICS_TOKEN: 'short' }), /METRICS_TOKEN: expected at least 16 characters/);
});
