import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { activeSession, api, createAgent, createSite } from '../helpers/api.js';
import { type Balancer, startBalancer } from '../helpers/balancer.js';
import { type Cluster, type Instance, cluster } from '../helpers/instances.js';
import { authedPeer } from '../helpers/raw-ws.js';
import { type SdkClient, range1, restHistory, sdkClient, timeline } from '../helpers/sdk.js';
import type { Service } from '../helpers/service.js';
import { waitFor, within } from '../helpers/wait-for.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('three instances behind a load balancer, sharing one database and Redis', () => {
  let dataDir: string;
  let group: Cluster;
  let instances: Instance[] = [];
  let lb: Balancer;
  let svc: Service;
  const clients: SdkClient[] = [];

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'im-scale-'));
    // bursts of 30 messages a second per client would be a flood to the message limiter; this test is about instances dying
    group = cluster(dataDir, { PRESENCE_TTL_SECONDS: '3', MSG_RATE_PER_SEC: '0' });
    instances = await Promise.all([group.start(), group.start(), group.start()]);
    lb = await startBalancer(instances.map((i) => i.port));
    svc = { url: lb.url, wsUrl: lb.wsUrl } as Service;
  });

  after(async () => {
    for (const c of clients) c.client.close();
    await lb.close();
    await group.cleanup(instances);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('an instance killed mid-burst (SIGKILL) loses, repeats and reorders nothing: every client ends with every sent message once, in order', async () => {
    const site = await createSite(svc);
    const pairs = [];
    for (let i = 0; i < 4; i++) {
      const { agent, visitor, sid } = await activeSession(svc, site);
      const v = sdkClient(svc, visitor.token);
      const a = sdkClient(svc, agent.token);
      clients.push(v, a);
      pairs.push({ sid, v, a, visitorToken: visitor.token });
    }
    await waitFor(() => clients.every((c) => c.readies.length > 0), 10_000, 'every client to be ready');
    // the balancer spread them: some clients are on the instance that is about to die
    const victim = instances[1]!;

    const sends: Array<Promise<unknown>> = [];
    for (let round = 0; round < 30; round++) {
      for (const p of pairs) {
        sends.push(p.v.client.send(p.sid, `visitor ${round}`), p.a.client.send(p.sid, `agent ${round}`));
      }
      if (round === 10) victim.child.kill('SIGKILL');
      await sleep(15);
    }
    assert.equal(await victim.exited, null, 'killed by a signal');
    lb.setBackends(instances.filter((i) => i !== victim).map((i) => i.port));

    const sent = (await within(Promise.all(sends), 60_000, 'every send to be answered')) as Array<{ seq: number; cid: string }>;
    assert.equal(sent.length, 30 * 2 * pairs.length);

    for (const p of pairs) {
      const history = await restHistory(svc, p.visitorToken, p.sid);
      assert.deepEqual(history.map((m) => m.seq), range1(history.length), 'the store has no hole');
      const chat = history.filter((m) => m.type === 'chat');
      assert.equal(chat.length, 60, 'each message stored exactly once');
      assert.equal(new Set(chat.map((m) => `${m.from.id}/${m.cid}`)).size, 60);
      // each side's own messages are stored in the order it sent them
      for (const side of ['visitor', 'agent']) {
        const texts = chat.filter((m) => m.body.text?.startsWith(side)).map((m) => m.body.text);
        assert.deepEqual(texts, Array.from({ length: 30 }, (_, i) => `${side} ${i}`));
      }
      const want = timeline(history, p.sid);
      for (const c of [p.v, p.a]) {
        await waitFor(() => timeline(c.messages, p.sid).length >= want.length, 20_000, 'the client to catch up');
        assert.deepEqual(timeline(c.messages, p.sid), want, 'the client shows exactly the stored history');
      }
    }
    const moved = clients.filter((c) => c.closeCodes.length > 0);
    assert.ok(moved.length > 0, 'some clients were on the killed instance and reconnected');
  });

  it('an instance drained with SIGTERM moves its clients (1012) to the others, mid-burst, losing and repeating nothing, and exits cleanly', async () => {
    const site = await createSite(svc);
    const draining = await group.start();
    instances.push(draining);
    const others = instances.filter((i) => i !== draining && i.child.exitCode === null && i.child.signalCode === null);
    const { agent, visitor, sid } = await activeSession(svc, site);
    // both sides connect to the instance about to be drained; from then on the balancer sends new connections elsewhere
    lb.setBackends([draining.port]);
    const v = sdkClient(svc, visitor.token);
    const a = sdkClient(svc, agent.token);
    clients.push(v, a);
    await waitFor(() => v.readies.length > 0 && a.readies.length > 0, 10_000, 'both sides to be ready');
    lb.setBackends(others.map((i) => i.port));

    const sends: Array<Promise<unknown>> = [];
    for (let round = 0; round < 30; round++) {
      sends.push(v.client.send(sid, `visitor ${round}`), a.client.send(sid, `agent ${round}`));
      if (round === 10) draining.child.kill('SIGTERM');
      await sleep(15);
    }
    await within(Promise.all(sends), 60_000, 'every send to be answered');
    assert.equal(await draining.exited, 0, 'the drained instance exits cleanly');
    assert.ok(v.closeCodes.includes(1012) && a.closeCodes.includes(1012), 'both were told to reconnect elsewhere');

    const history = await restHistory(svc, visitor.token, sid);
    assert.deepEqual(history.map((m) => m.seq), range1(history.length));
    assert.equal(history.filter((m) => m.type === 'chat').length, 60);
    const want = timeline(history, sid);
    for (const c of [v, a]) {
      await waitFor(() => timeline(c.messages, sid).length >= want.length, 20_000, 'the client to catch up');
      assert.deepEqual(timeline(c.messages, sid), want);
    }
  });

  it('the accounts of an instance that died without saying goodbye drop out of presence', async () => {
    const site = await createSite(svc);
    const agent = await createAgent(svc, site);
    const survivor = instances.find((i) => i.child.exitCode === null && i.child.signalCode === null)!;
    const doomed = instances[2]!;
    // connected straight to the instance that will die, seen from another one
    const peer = await authedPeer(doomed.wsUrl, agent.token);
    const online = async () => {
      const r = await api({ url: survivor.url } as Service, site.adminKey).get('/agents');
      return r.body.agents.find((a: { id: string }) => a.id === agent.id).online as boolean;
    };
    assert.equal(await online(), true);
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    await peer.closed;
    await waitFor(async () => !(await online()), 15_000, 'the dead instance’s agent to go offline');
  });
});
