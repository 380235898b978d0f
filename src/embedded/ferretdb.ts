import { constants as fsConstants } from 'node:fs';
import { access, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { projectRoot } from '../project-root.js';
import { spawnLogged, which } from './process.js';

export function ferretdbBinaryPath(): string {
  return join(projectRoot(), '.tools', 'bin', 'ferretdb');
}

// The official Go tarball installs here, and non-login shells often lack it on PATH.
const GO_FALLBACK_DIRS = ['/usr/local/go/bin'];

/**
 * The path of the project-local FerretDB binary, built from tools/ferretdb
 * with Go the first time and again after tools/ferretdb changes. Throws if Go
 * is missing or the build fails.
 */
export async function ensureFerretdbBinary(opts: { log: (line: string) => void }): Promise<string> {
  const root = projectRoot();
  const source = join(root, 'tools', 'ferretdb');
  const binary = ferretdbBinaryPath();
  if (await isUpToDate(binary, source)) return binary;

  const go = await which('go', GO_FALLBACK_DIRS);
  if (!go) throw new Error('Go is not installed (looked on PATH and in /usr/local/go/bin)');

  const tools = join(root, '.tools');
  await mkdir(dirname(binary), { recursive: true });
  // Without HOME, Go has nowhere for its caches; keep them in the ignored .tools.
  const env = { ...process.env };
  if (!env.HOME) {
    env.GOCACHE ??= join(tools, 'go-cache');
    env.GOPATH ??= join(tools, 'go');
  }

  opts.log('building FerretDB once (about a minute)...');
  // Build beside the target and rename, so that an interrupted build never
  // leaves a half-written binary that the next run would trust.
  const partial = `${binary}.${process.pid}.partial`;
  const build = spawnLogged(go, ['build', '-C', source, '-o', partial, '.'], {
    log: opts.log,
    logPrefix: '[go build]',
    options: { stdio: ['ignore', 'pipe', 'pipe'], env },
  });
  await build.exited;
  if (build.child.exitCode !== 0) {
    await rm(partial, { force: true });
    throw new Error(`building FerretDB failed (exit ${build.child.exitCode ?? build.child.signalCode}):\n${build.tail()}`);
  }
  await rename(partial, binary);
  opts.log(`FerretDB built: ${binary}`);
  return binary;
}

/** Built, and not older than the wrapper's sources (a pulled change rebuilds it). */
async function isUpToDate(binary: string, source: string): Promise<boolean> {
  try {
    await access(binary, fsConstants.X_OK);
    const built = (await stat(binary)).mtimeMs;
    for (const file of ['main.go', 'go.mod', 'go.sum']) {
      if ((await stat(join(source, file))).mtimeMs > built) return false;
    }
    return true;
  } catch {
    return false;
  }
}
