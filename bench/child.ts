/**
 * A target process (the service or a baseline relay): its own Node process,
 * so the load generator's CPU is not the target's. Started with
 * `node <entry>` from the compiled dist/, as `npm start` runs the service
 * (tsx's loader would add a thread, a heap and a transpile cache to the
 * memory measured), ready once its `/health/ready` answers 200, stopped
 * with SIGTERM (then SIGKILL).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface TargetProcess {
  pid: number;
  url: string;
  wsUrl: string;
  /** the process's inspector (ws://127.0.0.1:<port>/<id>), for bench/heap.ts */
  inspectorUrl: string | undefined;
  stop(): Promise<void>;
}

const rootDir = fileURLToPath(new URL('..', import.meta.url));
const FORWARDED_LINES = 5;

export async function startProcess(opts: {
  /** for log lines */
  label: string;
  /** relative to the project root */
  entry: string;
  port: number;
  env: Record<string, string>;
  log: (line: string) => void;
}): Promise<TargetProcess> {
  // the inspector (on a port of its own choosing, loopback only) lets the idle scenario read the live heap
  // BENCH_CPU_PROF_DIR: each target process writes a V8 CPU profile there when it stops
  const profile = process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : [];
  // BENCH_NODE_OPTIONS: Node or V8 options for every target process, space-separated (an experiment: the
  // targets then no longer run as `npm start` does)
  const extra = process.env.BENCH_NODE_OPTIONS?.split(' ').filter(Boolean) ?? [];
  if (!existsSync(join(rootDir, opts.entry))) throw new Error(`${opts.entry} is not built: run the bench with \`npm run bench\`, which compiles the targets first`);
  const child = spawn(process.execPath, ['--inspect=127.0.0.1:0', ...profile, ...extra, opts.entry], {
    cwd: rootDir,
    env: { ...process.env, ...opts.env, HOST: '127.0.0.1', PORT: String(opts.port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = captureOutput(child, (line) => opts.log(`[${opts.label}] ${line}`));
  const stop = async () => {
    await terminate(child);
    if (output.unshown() > 0) opts.log(`[${opts.label}] ${output.unshown()} more log lines not shown`);
  };
  const url = `http://127.0.0.1:${opts.port}`;
  try {
    await waitUntilReady(url, child, output.tail);
  } catch (err) {
    await stop();
    throw err;
  }
  return { pid: child.pid!, url, wsUrl: `ws://127.0.0.1:${opts.port}/ws`, inspectorUrl: output.inspectorUrl(), stop };
}

/**
 * Keeps the last lines for a start-up failure. stdout (the service's pino
 * log at LOG_LEVEL=warn, a relay's errors) is passed on as it comes, the
 * first few lines only; stderr carries the start banner, kept for the tail.
 */
function captureOutput(child: ChildProcess, log: (line: string) => void) {
  const lines: string[] = [];
  let logged = 0;
  let inspector: string | undefined;
  const collect = (forward: boolean) => (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      const listening = /^Debugger listening on (ws:\/\/\S+)/.exec(line);
      if (listening) {
        inspector = listening[1];
        continue;
      }
      if (/^For help, see: https:\/\/nodejs.org\/en\/docs\/inspector/.test(line)) continue;
      lines.push(line);
      if (lines.length > 30) lines.shift();
      // an overloaded target can log one error per frame: show the first few, count the rest
      if (forward && ++logged <= FORWARDED_LINES) log(line.length > 400 ? `${line.slice(0, 400)}…` : line);
    }
  };
  child.stdout?.on('data', collect(true));
  child.stderr?.on('data', collect(false));
  return { tail: () => lines.join('\n'), unshown: () => Math.max(0, logged - FORWARDED_LINES), inspectorUrl: () => inspector };
}

async function waitUntilReady(url: string, child: ChildProcess, tail: () => string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the process exited while starting:\n${tail()}`);
    try {
      const res = await fetch(`${url}/health/ready`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`not ready within ${timeoutMs} ms:\n${tail()}`);
}

/** SIGTERM (graceful shutdown), then SIGKILL if it hangs. */
function terminate(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
