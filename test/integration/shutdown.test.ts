import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../src/embedded/free-port.js';
import { api, createAgent, createSite, visitorWithSession } from '../helpers/api.js';
import { testUrls, uniqueName } from '../helpers/infra.js';
import { authedPeer } from '../helpers/raw-ws.js';
import { ADMIN_TOKEN, type Service } from '../helpers/service.js';

/** The real entry point (src/server.ts) as a child process, as `npm start` runs it. */
async function startProcess(port: number, dataDir: string, db: string): Promise<ChildProcess> {
  const { mongoUrl, redisUrl } = testUrls();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      DATA_DIR: dataDir,
      MONGODB_URL: mongoUrl,
      MONGODB_DB: db,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: uniqueName('imt'),
      ADMIN_TOKEN,
      DEMO: 'false',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service did not start: ${output}`)), 30_000);
    const check = () => {
      if (output.includes('IM service ready')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr?.on('data', check);
    child.once('exit', (code) => reject(new Error(`service exited with ${code}: ${output}`)));
  });
  return child;
}

describe('graceful shutdown of the real process', () => {
  let child: ChildProcess;
  let dataDir: string;
  let db: string;

  const at = (port: number) => ({ url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/ws` }) as Service;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'im-shutdown-'));
    db = uniqueName('t');
  });
  after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('on SIGTERM tells connected clients to reconnect (1012), keeps what was sent, and exits cleanly', async () => {
    const svc = at(await freePort());
    child = await startProcess(Number(new URL(svc.url).port), dataDir, db);
    const site = await createSite(svc);
    const agent = await createAgent(svc, site);
    const visitor = await visitorWithSession(svc, site);
    const peer = await authedPeer(svc.wsUrl, visitor.token);
    peer.send({ t: 'send', sid: visitor.sessionId, cid: 'before-shutdown', body: { text: 'still there?' } });
    const sent = await peer.next((f) => f.t === 'sent');

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const closed = await peer.closed;
    assert.equal(closed.code, 1012);
    assert.equal(await exited, 0);

    // what was sent is stored: the next instance on the same database serves it
    const next = at(await freePort());
    child = await startProcess(Number(new URL(next.url).port), dataDir, db);
    const history = await api(next, agent.token).get(`/sessions/${visitor.sessionId}/messages`);
    assert.equal(history.status, 200);
    const mine = history.body.messages.filter((m: any) => m.cid === 'before-shutdown');
    assert.equal(mine.length, 1);
    assert.equal(mine[0].seq, sent.seq);
    child.kill('SIGTERM');
  });
});
