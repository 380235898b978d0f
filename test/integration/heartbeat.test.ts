import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { api, createAgent, createSite, type SiteFixture } from '../helpers/api.js';
import { authedPeer } from '../helpers/raw-ws.js';
import { type Service, startService } from '../helpers/service.js';

describe('heartbeats', () => {
  let service: Service;
  let site: SiteFixture;

  before(async () => {
    service = await startService({ heartbeatMs: 150 });
    site = await createSite(service);
  });
  after(() => service.close());

  async function online(agentId: string): Promise<boolean> {
    const r = await api(service, site.adminKey).get('/agents');
    return r.body.agents.find((a: any) => a.id === agentId).online;
  }

  it('a connection that misses two heartbeats is closed and its agent goes offline', async () => {
    const agent = await createAgent(service, site);
    // a peer that never answers WebSocket pings and sends nothing: a dead network path
    const ws = new WebSocket(service.wsUrl, { autoPong: false });
    await new Promise((resolve) => ws.once('open', resolve));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(JSON.stringify({ t: 'auth', token: agent.token }));
    await new Promise((resolve) => ws.once('message', resolve));
    assert.equal(await online(agent.id), true);
    assert.equal(await closed, 1006, 'the server drops the connection without a closing handshake');
    for (let i = 0; i < 50 && (await online(agent.id)); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await online(agent.id), false);
  });

  it('a client that keeps answering stays connected, and app-level ping gets pong', async () => {
    const agent = await createAgent(service, site);
    const peer = await authedPeer(service.wsUrl, agent.token);
    assert.equal(peer.ready.heartbeatMs, 150);
    // several heartbeat intervals pass; the ws library answers pings by itself
    for (let i = 0; i < 5; i++) {
      peer.send({ t: 'ping' });
      await peer.next((f) => f.t === 'pong');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(peer.ws.readyState, WebSocket.OPEN);
    assert.equal(await online(agent.id), true);
    peer.close();
  });

  it('a connection is pinged only once it has been silent for a whole interval, and before two', async () => {
    const agent = await createAgent(service, site);
    const peer = await authedPeer(service.wsUrl, agent.token);
    // each round: a frame at a random moment of the server's sweep cycle, then nothing until the server
    // pings. A WebSocket ping that arrives after the frame's pong was sent after the frame was heard.
    for (let round = 0; round < 10; round++) {
      await new Promise((r) => setTimeout(r, Math.random() * 150));
      const spokeAt = Date.now();
      peer.send({ t: 'ping' });
      await peer.next((f) => f.t === 'pong');
      const pinged = new Promise<number>((resolve) => peer.ws.once('ping', () => resolve(Date.now())));
      const silentFor = (await pinged) - spokeAt;
      assert.ok(silentFor >= 150, `pinged after ${silentFor} ms of silence, less than the 150-ms interval`);
      assert.ok(silentFor < 300, `pinged only after ${silentFor} ms of silence, when two intervals close the connection`);
    }
    assert.equal(peer.ws.readyState, WebSocket.OPEN);
    peer.close();
  });

  it('the server pings a client that is quiet, and not one that pings by itself', async () => {
    const [quietAgent, chattyAgent] = [await createAgent(service, site), await createAgent(service, site)];
    const quiet = await authedPeer(service.wsUrl, quietAgent.token);
    const chatty = await authedPeer(service.wsUrl, chattyAgent.token);
    const pings = { quiet: 0, chatty: 0 };
    quiet.ws.on('ping', () => pings.quiet++);
    chatty.ws.on('ping', () => pings.chatty++);
    // six heartbeat intervals; the chatty client's own pings come every fifth of one
    const pinging = setInterval(() => chatty.send({ t: 'ping' }), 30);
    await new Promise((r) => setTimeout(r, 900));
    clearInterval(pinging);
    assert.ok(pings.quiet >= 3, `the quiet client was pinged ${pings.quiet} times in six intervals`);
    assert.ok(pings.chatty <= 1, `the client that pings by itself was pinged ${pings.chatty} times`);
    // the quiet one answered the WebSocket pings (ws does that by itself) and is still there
    assert.equal(quiet.ws.readyState, WebSocket.OPEN);
    assert.equal(chatty.ws.readyState, WebSocket.OPEN);
    assert.equal(await online(quietAgent.id), true);
    assert.ok(chatty.frames.filter((f) => f.t === 'pong').length >= 20, 'every app-level ping is answered');
    quiet.close();
    chatty.close();
  });
});
