// `npm test [unit|integration|e2e ...]`: runs the chosen test groups with
// Node's built-in runner, one file at a time. Integration and e2e tests get a
// real MongoDB-compatible server and Redis through MONGODB_URL / REDIS_URL:
// the ones given in the environment, else throwaway ones started here.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedMongo } from '../src/embedded/mongo.js';
import { startEmbeddedRedis } from '../src/embedded/redis.js';

const GROUPS = ['unit', 'integration', 'e2e'] as const;
type Group = (typeof GROUPS)[number];

const testDir = fileURLToPath(new URL('.', import.meta.url));
const rootDir = join(testDir, '..');
const log = (line: string) => console.error(`[test/run] ${line}`);

// Undone in reverse order on every way out, including Ctrl-C.
const cleanups: Array<() => Promise<void>> = [];
let child: ChildProcess | undefined;
let interrupted = false;

async function cleanUp(): Promise<void> {
  while (cleanups.length > 0) {
    const undo = cleanups.pop()!;
    try {
      await undo();
    } catch (err) {
      log(`clean-up failed: ${String(err)}`);
    }
  }
}

// main() notices the flag between steps and the clean-up at the bottom runs,
// so a Ctrl-C during start-up stops whatever was started so far.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    interrupted = true;
    child?.kill(signal);
  });
}

function parseGroups(args: string[]): Group[] {
  for (const arg of args) {
    if (!(GROUPS as readonly string[]).includes(arg)) {
      throw new Error(`unknown test group "${arg}"; expected some of: ${GROUPS.join(', ')}`);
    }
  }
  if (args.length > 0) return GROUPS.filter((g) => args.includes(g));
  return GROUPS.filter((g) => g !== 'e2e' || existsSync(join(testDir, 'e2e')));
}

async function testFiles(group: Group): Promise<string[]> {
  const dir = join(testDir, group);
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true });
  return entries
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => join(dir, f))
    .sort();
}

async function provideServers(env: NodeJS.ProcessEnv): Promise<void> {
  if (env.MONGODB_URL && env.REDIS_URL) return;
  const dataDir = await mkdtemp(join(tmpdir(), 'im-test-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  if (!env.MONGODB_URL) {
    const mongo = await startEmbeddedMongo({ dataDir, log });
    cleanups.push(() => mongo.stop());
    env.MONGODB_URL = mongo.url;
  }
  if (interrupted) return;
  if (!env.REDIS_URL) {
    const redis = await startEmbeddedRedis({ dataDir, log });
    cleanups.push(() => redis.stop());
    env.REDIS_URL = redis.url;
  }
}

function runNodeTest(files: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const args = [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=1',
    '--test-reporter=spec',
    // a hung test fails on its own instead of hanging CI
    '--test-timeout=120000',
    ...files,
  ];
  const proc = spawn(process.execPath, args, { cwd: rootDir, env, stdio: 'inherit' });
  child = proc;
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code, signal) => {
      resolve(code ?? 128 + (signal ? osConstants.signals[signal] : 1));
    });
  });
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  // single files may be named too: `npm run test:integration -- test/integration/x.test.ts`
  const named = args.filter((a) => a.endsWith('.test.ts')).map((a) => join(process.cwd(), a));
  const groups = named.length > 0 ? [] : parseGroups(args);
  const files: string[] = [...named];
  let needsServers = named.some((f) => !f.includes(`${join('test', 'unit')}`));
  for (const group of groups) {
    const found = await testFiles(group);
    files.push(...found);
    if (group !== 'unit' && found.length > 0) needsServers = true;
  }
  if (files.length === 0) {
    log(`no test files in: ${groups.join(', ')}`);
    return 1;
  }
  log(`${files.length} file(s): ${files.map((f) => relative(rootDir, f)).join(' ')}`);

  const env = { ...process.env };
  if (needsServers) await provideServers(env);
  if (interrupted) return 130;
  const code = await runNodeTest(files, env);
  return interrupted ? 130 : code;
}

let exitCode: number;
try {
  exitCode = await main();
} catch (err) {
  // After Ctrl-C, servers that die while starting are expected, not news.
  if (!interrupted) {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    if (err instanceof Error && err.cause) console.error('caused by:', err.cause);
  }
  exitCode = interrupted ? 130 : 1;
}
await cleanUp();
process.exit(exitCode);
