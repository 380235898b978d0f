import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { freePort } from '../../../src/embedded/free-port.js';

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
