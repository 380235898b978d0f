import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RestError, restCall, restHistory } from '../../src/client/index.js';
import type { MessageObject } from '../../src/protocol/frames.js';
import { api, createSite, visitorWithSession } from '../helpers/api.js';
import { type Service, startService } from '../helpers/service.js';

describe("the SDK's REST helpers (what the widget and the workbench call)", () => {
  let service: Service;

  before(async () => {
    service = await startService({ msgRatePerSec: 0 });
  });
  after(() => service.close());

  it('pages through a long history: every message once, ascending, the last seq returned', async () => {
    const site = await createSite(service);
    const visitor = await visitorWithSession(service, site);
    for (let i = 1; i <= 230; i++) {
      const r = await api(service, visitor.token).post(`/sessions/${visitor.sessionId}/messages`, { cid: `c-${i}`, text: `message ${i}` });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    const pages: MessageObject[][] = [];
    const last = await restHistory(visitor.token, visitor.sessionId, 0, (page) => pages.push(page), service.url);
    const seqs = pages.flat().map((m) => m.seq);
    assert.ok(pages.length >= 2, 'more than one page');
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1));
    assert.equal(last, seqs.at(-1));
    assert.equal(pages.flat().filter((m) => m.body.text?.startsWith('message ')).length, 230);

    // from a seq it already holds, a client gets only what came after
    const rest: MessageObject[] = [];
    assert.equal(await restHistory(visitor.token, visitor.sessionId, last - 5, (page) => rest.push(...page), service.url), last);
    assert.deepEqual(rest.map((m) => m.seq), [last - 4, last - 3, last - 2, last - 1, last]);
  });

  it('turns a refusal into a RestError with the status and code the service gave', async () => {
    const err = await restCall('GET', '/sessions', 'not-a-token', undefined, service.url).catch((e: unknown) => e);
    assert.ok(err instanceof RestError);
    assert.equal(err.status, 401);
    assert.equal(err.code, 'unauthorized');
  });

  it('says status 0 when the service cannot be reached', async () => {
    const err = await restCall('GET', '/sessions', 'x', undefined, 'http://127.0.0.1:1').catch((e: unknown) => e);
    assert.ok(err instanceof RestError);
    assert.equal(err.status, 0);
    assert.equal(err.code, 'unreachable');
  });
});
