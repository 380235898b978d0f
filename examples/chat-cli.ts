/**
 * Chat from a terminal, as a visitor or as an agent, through the protocol
 * SDK (src/client): the quickest way to try the service after `npm start`.
 *
 *   npm run chat -- visitor <siteKey>               # start a session and type
 *   npm run chat -- agent <email> <password>        # accept the oldest waiting session and type
 *
 * Options: --url http://127.0.0.1:3000. Lines starting with "/" are commands:
 * /close, /queue, /accept <sessionId>, /quit.
 */
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { ImClient, type MessageObject } from '../src/client/index.js';

const args = process.argv.slice(2);
const urlFlag = args.indexOf('--url');
const base = urlFlag >= 0 ? args.splice(urlFlag, 2)[1]! : process.env.IM_URL ?? 'http://127.0.0.1:3000';
const [role, ...rest] = args;

async function call(method: string, path: string, token?: string, body?: unknown): Promise<any> {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json()) as any;
  if (!res.ok) throw new Error(`${method} ${path}: ${json.error?.code}: ${json.error?.message}`);
  return json;
}

function show(m: MessageObject) {
  const time = m.createdAt.slice(11, 19);
  if (m.type === 'system') console.log(`  ${time} · ${m.body.event}${m.body.agentName ? ` (${m.body.agentName})` : ''}${m.body.reason ? `: ${m.body.reason}` : ''}`);
  else console.log(`  ${time} ${m.from.name}: ${m.body.text}`);
}

async function main() {
  let token: string;
  let sid: string | undefined;
  if (role === 'visitor' && rest[0]) {
    ({ token } = await call('POST', '/visitors', undefined, { siteKey: rest[0] }));
    sid = (await call('POST', '/sessions', token, {})).session.id;
    console.log(`session ${sid} started; type to chat, /close to end`);
  } else if (role === 'agent' && rest[0] && rest[1]) {
    ({ token } = await call('POST', '/auth/login', undefined, { email: rest[0], password: rest[1] }));
  } else {
    console.error('usage: npm run chat -- visitor <siteKey> | agent <email> <password> [--url http://127.0.0.1:3000]');
    process.exit(2);
  }

  const client = new ImClient({ url: `${base.replace(/^http/, 'ws')}/ws`, token, WebSocket: WebSocket as never });
  client.on('message', (m) => {
    if (!sid || m.sessionId === sid) show(m);
    else console.log(`  [${m.sessionId}] ${m.from.name}: ${m.body.text ?? m.body.event}`);
    if (m.type === 'chat') client.read(m.sessionId, m.seq);
  });
  client.on('event', (e) => {
    if (e.name === 'typing' && e.sid === sid) console.log(`  … ${(e.from as { name?: string } | undefined)?.name ?? 'someone'} is typing`);
    if (e.name === 'session' && role === 'agent' && e.state === 'queued') console.log(`  queue: session ${e.sid} is waiting (/accept ${e.sid})`);
  });
  client.on('state', ({ newState, code }) => console.log(`  [${newState}${code ? ` ${code}` : ''}]`));
  client.connect();

  if (role === 'agent') {
    const { sessions } = await call('GET', '/sessions?state=queued', token);
    if (sessions[0]) {
      sid = (await call('POST', `/sessions/${sessions[0].id}/accept`, token)).session.id;
      console.log(`accepted session ${sid}`);
      client.track(sid!, 0);
      await client.sync(sid!, 0);
    } else console.log('nobody is waiting; new sessions will be announced here');
  }

  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    const text = line.trim();
    if (!text) continue;
    try {
      if (text === '/quit') break;
      if (text === '/close' && sid) await call('POST', `/sessions/${sid}/close`, token, {});
      else if (text === '/queue') console.log((await call('GET', '/sessions?state=queued', token)).sessions.map((s: any) => s.id).join('\n') || '(empty)');
      else if (text.startsWith('/accept ')) {
        sid = (await call('POST', `/sessions/${text.slice(8).trim()}/accept`, token)).session.id;
        await client.sync(sid!, 0);
      } else if (sid) await client.send(sid, text);
      else console.log('no session yet: /queue, then /accept <id>');
    } catch (err) {
      console.log(`  ! ${(err as Error).message}`);
    }
  }
  client.close();
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
