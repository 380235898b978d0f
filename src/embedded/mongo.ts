import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { ensureFerretdbBinary } from './ferretdb.js';
import { freePort } from './free-port.js';
import { sleep, spawnLogged, which, type LoggedProcess } from './process.js';

export interface EmbeddedMongo {
  url: string;
  stop(): Promise<void>;
}

const NO_SERVER =
  'No MongoDB-compatible server: set MONGODB_URL, or install mongod, or install Go (>=1.22) so FerretDB can be built (npm run setup:ferretdb)';

/**
 * Starts a throwaway MongoDB-compatible server for `npm start` and the tests
 * when no MONGODB_URL is given: mongod if installed, else FerretDB (SQLite),
 * building it first if needed. Data lives under `dataDir`.
 */
export async function startEmbeddedMongo(opts: {
  dataDir: string;
  log: (line: string) => void;
}): Promise<EmbeddedMongo> {
  const port = await freePort();
  const mongod = await which('mongod');
  let server: LoggedProcess;
  if (mongod) {
    const dbPath = join(opts.dataDir, 'mongod');
    await mkdir(dbPath, { recursive: true });
    server = spawnLogged(mongod, ['--dbpath', dbPath, '--bind_ip', '127.0.0.1', '--port', String(port)], {
      log: opts.log,
      logPrefix: '[mongod]',
      // mongod logs every connection as JSON on stdout; keep it for errors only
      quietStdout: true,
    });
  } else {
    let binary: string;
    try {
      binary = await ensureFerretdbBinary({ log: opts.log });
    } catch (err) {
      throw new Error(NO_SERVER, { cause: err });
    }
    const sqliteDir = join(opts.dataDir, 'ferretdb');
    await mkdir(sqliteDir, { recursive: true });
    server = spawnLogged(
      binary,
      ['--listen-addr', `127.0.0.1:${port}`, '--sqlite-url', `file:${sqliteDir}/`, '--exit-on-stdin-eof'],
      // stdin stays an open pipe: when this process dies, FerretDB sees EOF and exits
      { log: opts.log, logPrefix: '[ferretdb]' },
    );
  }

  const url = `mongodb://127.0.0.1:${port}/`;
  try {
    await waitForPing(url, server);
  } catch (err) {
    await server.stop();
    throw err;
  }
  opts.log(`${mongod ? 'mongod' : 'FerretDB'} ready at ${url}`);
  return { url, stop: () => server.stop() };
}

async function waitForPing(url: string, server: LoggedProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void server.exited.then(() => (exited = true));
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`MongoDB-compatible server exited while starting:\n${server.tail()}`);
    const client = new MongoClient(url, { serverSelectionTimeoutMS: 500, directConnection: true });
    try {
      await client.connect();
      await client.db('admin').command({ ping: 1 });
      return;
    } catch (err) {
      lastError = err;
    } finally {
      await client.close();
    }
    await sleep(200);
  }
  throw new Error(`MongoDB-compatible server did not answer ping at ${url} within ${timeoutMs} ms:\n${server.tail()}`, {
    cause: lastError,
  });
}
