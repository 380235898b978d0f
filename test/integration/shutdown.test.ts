import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { api, createAgent, createSite, visitorWithSession } from '../helpers/api.js';
import { type Instance, cluster } from '../helpers/instances.js';
import { authedPeer } from '../helpers/raw-ws.js';
import type { Service } from '../helpers/service.js';

describe('graceful shutdown of the real process', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'im-shutdown-'));
  // no TOKEN_SECRET given: the generated one is kept under DATA_DIR and survives the restart
  const group = cluster(dataDir, { TOKEN_SECRET: '' });
  const started: Instance[] = [];
  after(async () => {
    await group.cleanup(started);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('on SIGTERM tells connected clients to reconnect (1012), keeps what was sent, and exits cleanly', async () => {
    const first = await group.start();
    started.push(first);
    const svc = first as unknown as Service;
    const site = await createSite(svc);
    const agent = await createAgent(svc, site);
    const visitor = await visitorWithSession(svc, site);
    const peer = await authedPeer(first.wsUrl, visitor.token);
    peer.send({ t: 'send', sid: visitor.sessionId, cid: 'before-shutdown', body: { text: 'still there?' } });
    const sent = await peer.next((f) => f.t === 'sent');

    first.child.kill('SIGTERM');
    assert.equal((await peer.closed).code, 1012);
    assert.equal(await first.exited, 0);

    // what was sent is stored: the next instance on the same database serves it
    const next = await group.start();
    started.push(next);
    const history = await api(next as unknown as Service, agent.token).get(`/sessions/${visitor.sessionId}/messages`);
    assert.equal(history.status, 200);
    const mine = history.body.messages.filter((m: { cid: string }) => m.cid === 'before-shutdown');
    assert.equal(mine.length, 1);
    assert.equal(mine[0].seq, sent.seq);
    next.child.kill('SIGTERM');
    assert.equal(await next.exited, 0);
  });
});
