/**
 * The service's configuration: one object, read from the environment and
 * validated at start. Every bad value is reported at once, each with the
 * variable's name, what was given and what is expected.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { projectRoot } from './project-root.js';

export interface Config {
  port: number;
  host: string;
  /** unset: `npm start` runs an embedded MongoDB-compatible server */
  mongodbUrl?: string;
  /** database name (default: the URL's path, else `im`) */
  mongodbDb?: string;
  /** unset: `npm start` uses 127.0.0.1:6379 or starts redis-server */
  redisUrl?: string;
  /** operator token; generated under DATA_DIR when not given */
  adminToken: string;
  /** when set, GET /metrics asks for `Authorization: Bearer <this>` */
  metricsToken?: string;
  dataDir: string;
  /** the built browser UI (widget, workbench, demo page) */
  uiDir: string;
  /** signs visitor and agent tokens; generated under DATA_DIR when not given */
  tokenSecret: string;
  logLevel: string;
  publicUrl?: string;
  /** create a demo site and agent on the first start */
  demo: boolean;
  /** prefix of every Redis key and channel (BullMQ queues, the broker) */
  redisPrefix: string;
  /** `redis`: fan-out and presence across instances; `memory`: this process only (a single instance) */
  broker: 'redis' | 'memory';
  /** a connection stays online this long after its instance last refreshed it (an instance that dies drops out within it) */
  presenceTtlMs: number;
  inactivityCloseMs: number;
  heartbeatMs: number;
  ackTimeoutMs: number;
  /** after pushes were lost (Redis flapped), clients are asked to reconnect and sync at most once per this long */
  resyncGapMs: number;
  authTimeoutMs: number;
  /** WebSocket connections set up at once, from their auth frame to `ready`; the rest wait their turn */
  wsSetupConcurrency: number;
  maxTextLength: number;
  maxFrameBytes: number;
  shutdownTimeoutMs: number;
  /** message token bucket per sender: refill per second (0: off) and burst */
  msgRatePerSec: number;
  msgBurst: number;
  /** WebSocket connection attempts per client IP per minute (0: off) */
  wsConnectPerMin: number;
  /**
   * Which peers may say who the client is (X-Forwarded-For), as Fastify's
   * `trustProxy` takes it: `false` none, a number of proxy hops, or
   * addresses, CIDRs and `loopback`/`linklocal`/`uniquelocal`, comma-separated.
   */
  trustProxy: string | number | false;
  /** WebSocket connections one instance holds at most (0: no limit) */
  maxConnections: number;
  /** REST requests per client IP per minute (0: off) */
  restRatePerMin: number;
  /** overload thresholds (0: not checked) */
  maxEventLoopDelayMs: number;
  maxHeapUsedBytes: number;
  /** how long messages may wait to be stored before new REST calls are refused (0: not checked) */
  maxStoreLagMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];

  function int(name: string, fallback: number, min: number, max: number): number {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    // Number() would read " " as 0 and "0x50" as 80; only plain decimal digits count.
    const n = /^-?\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected a whole number from ${min} to ${max}`);
      return fallback;
    }
    return n;
  }

  function str(name: string, fallback?: string): string | undefined {
    const raw = env[name];
    return raw === undefined || raw === '' ? fallback : raw;
  }

  function url(name: string, schemes: string[]): string | undefined {
    const raw = str(name);
    if (raw === undefined) return undefined;
    try {
      const u = new URL(raw);
      if (!schemes.includes(u.protocol)) throw new Error();
    } catch {
      problems.push(`${name}=${JSON.stringify(raw)}: expected a URL starting with ${schemes.map((s) => `${s}//`).join(' or ')}`);
    }
    return raw;
  }

  function oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T {
    const raw = str(name);
    if (raw === undefined) return fallback;
    if ((values as readonly string[]).includes(raw)) return raw as T;
    problems.push(`${name}=${JSON.stringify(raw)}: expected one of ${values.join(', ')}`);
    return fallback;
  }

  /**
   * TRUST_PROXY. Trusting every peer (`true`) is refused: any client could
   * then name the address its per-IP limits count against.
   */
  function trustProxy(): string | number | false {
    const raw = str('TRUST_PROXY', 'loopback')!.trim();
    if (/^(false|no|off|none|0)$/i.test(raw)) return false;
    if (/^\d+$/.test(raw)) {
      const hops = Number(raw);
      if (hops >= 1 && hops <= 10) return hops;
    } else if (!/^(true|yes|on)$/i.test(raw)) {
      const parts = raw.split(',').map((p) => p.trim());
      const known = (p: string) => ['loopback', 'linklocal', 'uniquelocal'].includes(p) || (isIP(p.split('/')[0]!) !== 0 && /^[^/]+(\/\d{1,3})?$/.test(p));
      if (parts.every(known)) return parts.join(',');
    }
    problems.push(
      `TRUST_PROXY=${JSON.stringify(raw)}: expected false, a number of proxy hops from 1 to 10, or the proxies' addresses or CIDRs (or loopback, linklocal, uniquelocal), comma-separated`,
    );
    return 'loopback';
  }

  function bool(name: string, fallback: boolean): boolean {
    const raw = str(name);
    if (raw === undefined) return fallback;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    problems.push(`${name}=${JSON.stringify(raw)}: expected true or false`);
    return fallback;
  }

  const dataDir = resolve(str('DATA_DIR', './data')!);
  const adminToken = str('ADMIN_TOKEN');
  if (adminToken !== undefined && adminToken.length < 16) problems.push('ADMIN_TOKEN: expected at least 16 characters');
  const metricsToken = str('METRICS_TOKEN');
  if (metricsToken !== undefined && metricsToken.length < 16) problems.push('METRICS_TOKEN: expected at least 16 characters');
  const tokenSecret = str('TOKEN_SECRET');
  if (tokenSecret !== undefined && tokenSecret.length < 32) problems.push('TOKEN_SECRET: expected at least 32 characters');
  const logLevel = str('LOG_LEVEL', 'info')!;
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    problems.push(`LOG_LEVEL=${JSON.stringify(logLevel)}: expected one of fatal, error, warn, info, debug, trace, silent`);
  }
  const publicUrl = url('PUBLIC_URL', ['http:', 'https:']);
  const mongodbUrl = url('MONGODB_URL', ['mongodb:', 'mongodb+srv:']);
  const redisUrl = url('REDIS_URL', ['redis:', 'rediss:']);

  const config: Config = {
    port: int('PORT', 3000, 0, 65535),
    host: str('HOST', '127.0.0.1')!,
    ...(mongodbUrl ? { mongodbUrl } : {}),
    ...(str('MONGODB_DB') ? { mongodbDb: str('MONGODB_DB') } : {}),
    ...(redisUrl ? { redisUrl } : {}),
    adminToken: adminToken ?? '',
    ...(metricsToken ? { metricsToken } : {}),
    dataDir,
    uiDir: resolve(str('UI_DIR', join(projectRoot(), 'dist', 'ui'))!),
    tokenSecret: tokenSecret ?? '',
    logLevel,
    ...(publicUrl ? { publicUrl } : {}),
    demo: bool('DEMO', true),
    redisPrefix: str('REDIS_PREFIX', 'im')!,
    broker: oneOf('BROKER', ['redis', 'memory'] as const, 'redis'),
    presenceTtlMs: int('PRESENCE_TTL_SECONDS', 30, 3, 3600) * 1000,
    inactivityCloseMs: int('INACTIVITY_CLOSE_SECONDS', 1800, 1, 30 * 86400) * 1000,
    heartbeatMs: int('HEARTBEAT_SECONDS', 25, 1, 600) * 1000,
    ackTimeoutMs: int('ACK_TIMEOUT_MS', 3000, 50, 120_000),
    resyncGapMs: int('RESYNC_GAP_MS', 5000, 0, 600_000),
    authTimeoutMs: int('AUTH_TIMEOUT_MS', 5000, 100, 60_000),
    wsSetupConcurrency: int('WS_SETUP_CONCURRENCY', 32, 1, 10_000),
    maxTextLength: int('MAX_TEXT_LENGTH', 4000, 1, 100_000),
    maxFrameBytes: int('MAX_FRAME_BYTES', 16_384, 256, 1_048_576),
    shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000),
    msgRatePerSec: int('MSG_RATE_PER_SEC', 5, 0, 10_000),
    msgBurst: int('MSG_BURST', 20, 1, 100_000),
    wsConnectPerMin: int('WS_CONNECT_PER_MIN', 300, 0, 1_000_000),
    trustProxy: trustProxy(),
    maxConnections: int('MAX_CONNECTIONS', 20_000, 0, 10_000_000),
    restRatePerMin: int('REST_RATE_PER_MIN', 600, 0, 1_000_000),
    maxEventLoopDelayMs: int('MAX_EVENT_LOOP_DELAY_MS', 1000, 0, 60_000),
    maxHeapUsedBytes: int('MAX_HEAP_USED_MB', 0, 0, 1_048_576) * 1024 * 1024,
    maxStoreLagMs: int('MAX_STORE_LAG_MS', 1000, 0, 600_000),
  };
  if (problems.length) throw new ConfigError(problems);
  return config;
}

/**
 * Fills in the operator token and the token-signing secret when they were not
 * given, generating each once and keeping it under DATA_DIR so restarts (and
 * other instances sharing DATA_DIR) agree.
 */
export function withGeneratedSecrets(config: Config): Config & { generated: string[] } {
  const generated: string[] = [];
  const keep = (file: string, bytes: number) => {
    const path = join(config.dataDir, file);
    if (existsSync(path)) return readFileSync(path, 'utf8').trim();
    mkdirSync(config.dataDir, { recursive: true });
    const value = randomBytes(bytes).toString('base64url');
    try {
      // exclusive create: instances starting together on one DATA_DIR agree on the first one written
      writeFileSync(path, `${value}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(path, 'utf8').trim();
      throw err;
    }
    generated.push(path);
    return value;
  };
  return {
    ...config,
    adminToken: config.adminToken || keep('admin-token', 24),
    tokenSecret: config.tokenSecret || keep('token-secret', 48),
    generated,
  };
}
