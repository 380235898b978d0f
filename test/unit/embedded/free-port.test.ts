import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { freePort } from '../../../src/embedded/free-port.js';

const RANGE = '/proc/sys/net/ipv4/ip_local_port_range';

test('freePort returns a port that a server can listen on right away', async () => {
  const port = await freePort();
  assert.ok(port > 0 && port < 65536, `port ${port} is out of range`);

  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('the ports are not ones an outgoing connection may be given meanwhile (below the ephemeral range), and differ', { skip: !existsSync(RANGE) && 'no ephemeral range to read here' }, async () => {
  const first = Number(readFileSync(RANGE, 'utf8').trim().split(/\s+/)[0]);
  const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
  for (const port of ports) assert.ok(port >= 10_000 && port < first, `port ${port} is not below the ephemeral range starting at ${first}`);
  assert.ok(new Set(ports).size > 1, 'twenty picks were all the same port');
});
