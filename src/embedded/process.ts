import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** The absolute path of `command` on PATH, or undefined. */
export async function which(command: string, extraDirs: string[] = []): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...extraDirs].filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, command);
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking along PATH
    }
  }
  return undefined;
}

/**
 * A child process whose output is split into lines for `log`, with the
 * last lines kept so that a server that dies while starting can say why.
 */
export interface LoggedProcess {
  child: ChildProcess;
  /** The last lines the process printed, newest last. */
  tail(): string;
  /** Resolves once the process has exited and its output has been read. */
  exited: Promise<void>;
  /** SIGTERM, then SIGKILL if it is still running after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnLogged(
  command: string,
  args: string[],
  opts: { log: (line: string) => void; logPrefix: string; quietStdout?: boolean; options?: SpawnOptions },
): LoggedProcess {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts.options });
  const lines: string[] = [];
  const collect = (forward: boolean) => {
    let partial = '';
    return (chunk: Buffer) => {
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        if (line.trim() === '') continue;
        lines.push(line);
        if (lines.length > 30) lines.shift();
        if (forward) opts.log(`${opts.logPrefix} ${line}`);
      }
    };
  };
  child.stdout?.on('data', collect(!opts.quietStdout));
  child.stderr?.on('data', collect(true));

  const exited = new Promise<void>((resolve) => {
    // 'close' rather than 'exit': it waits for the output, so tail() is complete
    child.once('close', () => resolve());
    // spawn failures (ENOENT...) emit 'error' and may never emit 'exit'
    child.on('error', (err) => {
      lines.push(String(err));
      resolve();
    });
  });

  const running = () => child.exitCode === null && child.signalCode === null && child.pid !== undefined;

  return {
    child,
    tail: () => lines.join('\n'),
    exited,
    async stop(graceMs = 5000) {
      if (!running()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (running()) child.kill('SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
      // our ends of the pipes would otherwise keep the event loop alive
      child.stdin?.destroy();
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
