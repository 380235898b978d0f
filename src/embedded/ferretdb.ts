import { constants as fsConstants } from 'node:fs';
import { access, chmod, cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { projectRoot } from '../project-root.js';
import { spawnLogged, which } from './process.js';

/** the FerretDB release tools/ferretdb/go.mod requires */
const FERRETDB_VERSION = 'v1.24.2';

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
  const modfile = await patchedModule(go, source, tools, env, opts.log);
  // Build beside the target and rename, so that an interrupted build never
  // leaves a half-written binary that the next run would trust.
  const partial = `${binary}.${process.pid}.partial`;
  const build = spawnLogged(go, ['build', '-C', source, `-modfile=${modfile}`, '-o', partial, '.'], {
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
  await writeFile(stampPath(binary), BUILD_STAMP);
  opts.log(`FerretDB built: ${binary}`);
  return binary;
}

interface SourcePatch {
  /** relative to the module's root */
  file: string;
  before: string;
  after: string;
}

/**
 * What the build changes in FerretDB 1.24; neither patch changes stored data,
 * so databases made by the unpatched binary work unchanged.
 *
 * 1. Its SQLite backend looks documents up by `_id` with
 *    `_ferretdb_sjson->'$._id' = ?`, but creates the unique `_id` index on
 *    `_ferretdb_sjson->"_id"`. SQLite uses an expression index only for the
 *    same expression, so every lookup by `_id` (and every update and delete,
 *    which find their document that way) scanned the whole table: 1.3 ms with
 *    1,000 documents, 53 ms with 50,000 (measured here). The patch makes the
 *    lookups use the index's expression.
 * 2. An ordered insert must stop at its first failing document. FerretDB
 *    inserts in chunks of 100 and stopped only the chunk with the failure,
 *    then went on with the next chunks. The message store relies on the stop
 *    (store/message-appender.ts: a session's later messages are never stored
 *    past an earlier one that failed), so the patch stops the whole insert.
 * 3. When a chunk of an insert hit a duplicate key, FerretDB inserted its
 *    documents again one at a time, each in a transaction of its own: a
 *    commit per document, about 1 ms of CPU each (measured here). Two
 *    instances writing one session clash now and then, so under load nearly
 *    every message batch paid that. The patch inserts them one at a time in
 *    the chunk's own transaction (SQLite undoes a failed statement alone and
 *    keeps the transaction), and reports which clashed: one commit per chunk.
 * 4. Two write transactions at once (two inserts, an insert and an update)
 *    made the second wait on SQLite's lock, and SQLite's busy handler waits
 *    by sleeping 1, 2, 5, 10, 15, 20, 25 ms and on between tries: the lock
 *    was often free long before the sleeper woke. The patch queues inserts
 *    and updates on a mutex per database (SQLite's lock is per file) in
 *    FerretDB instead, so the next one starts the moment the last one
 *    commits. That is what lets the message store keep two inserts on their
 *    way (store/message-appender.ts), and it spares several instances
 *    writing at once the same sleeps.
 */
const PATCHES: SourcePatch[] = [
  {
    file: join('internal', 'backends', 'sqlite', 'metadata', 'metadata.go'),
    before: `IDColumn = DefaultColumn + "->'$._id'"`,
    after: 'IDColumn = DefaultColumn + `->"_id"`',
  },
  {
    file: join('internal', 'handler', 'msg_insert.go'),
    before: '\t\t\tif params.Ordered {\n\t\t\t\tbreak\n\t\t\t}\n\t\t}\n\t}\n\n\tres := must.NotFail(',
    after: '\t\t\tif params.Ordered {\n\t\t\t\tbreak\n\t\t\t}\n\t\t}\n\n\t\tif params.Ordered && len(writeErrors) > 0 {\n\t\t\tbreak\n\t\t}\n\t}\n\n\tres := must.NotFail(',
  },
  // 3: the backend's side (a call may keep going past a duplicate; which ones clashed)
  {
    file: join('internal', 'backends', 'collection.go'),
    before: 'type InsertAllParams struct {\n\tDocs []*types.Document\n}\n\n// InsertAllResult represents the results of Collection.InsertAll method.\ntype InsertAllResult struct{}',
    after: [
      'type InsertAllParams struct {',
      '\tDocs []*types.Document',
      '',
      '\t// KeepGoing (im-service build): a document that clashes on a unique index fails alone, in the same',
      '\t// transaction; its index goes into InsertAllResult.Duplicates. With Ordered, the insert stops there.',
      '\tKeepGoing bool',
      '\tOrdered   bool',
      '}',
      '',
      '// InsertAllResult represents the results of Collection.InsertAll method.',
      'type InsertAllResult struct {',
      '\t// Duplicates: with KeepGoing, the indexes of the documents that clashed, ascending.',
      '\tDuplicates []int',
      '}',
    ].join('\n'),
  },
  {
    file: join('internal', 'backends', 'sqlite', 'collection.go'),
    before: [
      '\t\t\tif _, err = tx.ExecContext(ctx, q, args...); err != nil {',
      '\t\t\t\tvar se *sqlite3.Error',
      '\t\t\t\tif errors.As(err, &se) && se.Code() == sqlite3lib.SQLITE_CONSTRAINT_UNIQUE {',
      '\t\t\t\t\treturn backends.NewError(backends.ErrorCodeInsertDuplicateID, err)',
      '\t\t\t\t}',
      '',
      '\t\t\t\treturn lazyerrors.Error(err)',
      '\t\t\t}',
      '\t\t}',
    ].join('\n'),
    after: [
      '\t\t\tif _, err = tx.ExecContext(ctx, q, args...); err != nil {',
      '\t\t\t\tvar se *sqlite3.Error',
      '\t\t\t\tif !errors.As(err, &se) || se.Code() != sqlite3lib.SQLITE_CONSTRAINT_UNIQUE {',
      '\t\t\t\t\treturn lazyerrors.Error(err)',
      '\t\t\t\t}',
      '',
      '\t\t\t\tif !params.KeepGoing {',
      '\t\t\t\t\treturn backends.NewError(backends.ErrorCodeInsertDuplicateID, err)',
      '\t\t\t\t}',
      '',
      '\t\t\t\t// the failed statement was undone alone: the chunk again, one document at a time',
      '\t\t\t\tfor j, doc := range batch {',
      '\t\t\t\t\tq, args, err = prepareInsertStatement(meta.TableName, meta.Capped(), []*types.Document{doc})',
      '\t\t\t\t\tif err != nil {',
      '\t\t\t\t\t\treturn lazyerrors.Error(err)',
      '\t\t\t\t\t}',
      '',
      '\t\t\t\t\tif _, err = tx.ExecContext(ctx, q, args...); err == nil {',
      '\t\t\t\t\t\tcontinue',
      '\t\t\t\t\t}',
      '',
      '\t\t\t\t\tif !errors.As(err, &se) || se.Code() != sqlite3lib.SQLITE_CONSTRAINT_UNIQUE {',
      '\t\t\t\t\t\treturn lazyerrors.Error(err)',
      '\t\t\t\t\t}',
      '',
      '\t\t\t\t\tduplicates = append(duplicates, offset+j)',
      '\t\t\t\t\tif params.Ordered {',
      '\t\t\t\t\t\treturn nil',
      '\t\t\t\t\t}',
      '\t\t\t\t}',
      '\t\t\t}',
      '',
      '\t\t\toffset += len(batch)',
      '\t\t}',
    ].join('\n'),
  },
  {
    file: join('internal', 'backends', 'sqlite', 'collection.go'),
    before: '\treturn new(backends.InsertAllResult), nil',
    after: '\treturn &backends.InsertAllResult{Duplicates: duplicates}, nil',
  },
  {
    file: join('internal', 'backends', 'sqlite', 'collection.go'),
    before: '\terr := db.InTransaction(ctx, func(tx *fsql.Tx) error {\n\t\tbatchSize := c.r.BatchSize',
    after: '\tvar duplicates []int\n\n\terr := db.InTransaction(ctx, func(tx *fsql.Tx) error {\n\t\tvar offset int\n\n\t\tbatchSize := c.r.BatchSize',
  },
  // 3: the handler's side
  {
    file: join('internal', 'handler', 'msg_insert.go'),
    before: '\t\tif _, err = c.InsertAll(connCtx, &backends.InsertAllParams{Docs: docs}); err == nil {\n\t\t\tinserted += int32(len(docs))\n',
    after: [
      '\t\tvar insertRes *backends.InsertAllResult',
      '\t\tif insertRes, err = c.InsertAll(connCtx, &backends.InsertAllParams{Docs: docs, KeepGoing: true, Ordered: params.Ordered}); err == nil {',
      '\t\t\tstored := len(docs) - len(insertRes.Duplicates)',
      '\t\t\tif params.Ordered && len(insertRes.Duplicates) > 0 {',
      '\t\t\t\tstored = insertRes.Duplicates[0]',
      '\t\t\t}',
      '',
      '\t\t\tinserted += int32(stored)',
      '',
      '\t\t\tfor _, j := range insertRes.Duplicates {',
      '\t\t\t\twriteErrors = append(writeErrors, &mongo.WriteError{',
      '\t\t\t\t\tIndex:   docsIndexes[j],',
      '\t\t\t\t\tCode:    int(handlererrors.ErrDuplicateKeyInsert),',
      '\t\t\t\t\tMessage: fmt.Sprintf(`E11000 duplicate key error collection: %s.%s`, params.DB, params.Collection),',
      '\t\t\t\t})',
      '\t\t\t}',
      '',
    ].join('\n'),
  },
  // 4: one write transaction at a time, queued in Go
  {
    file: join('internal', 'backends', 'sqlite', 'collection.go'),
    before: '\t"strings"\n',
    after: '\t"strings"\n\t"sync"\n',
  },
  {
    file: join('internal', 'backends', 'sqlite', 'collection.go'),
    before: '// InsertAll implements backends.Collection interface.\n',
    after: [
      '// writeMus (im-service build): one mutex per database (one SQLite file). Inserts and updates take',
      "// their database's for their transaction, so that a second one waits here and starts as soon as the",
      "// first commits, instead of in SQLite's sleeping busy handler.",
      'var writeMus sync.Map',
      '',
      'func writeMu(dbName string) *sync.Mutex {',
      '\tmu, _ := writeMus.LoadOrStore(dbName, new(sync.Mutex))',
      '\treturn mu.(*sync.Mutex)',
      '}',
      '',
      '// InsertAll implements backends.Collection interface.',
      '',
    ].join('\n'),
  },
  {
    file: join('internal', 'backends', 'sqlite', 'collection.go'),
    before: '\tvar duplicates []int\n\n\terr := db.InTransaction(',
    after: '\tvar duplicates []int\n\n\tmu := writeMu(c.dbName)\n\tmu.Lock()\n\tdefer mu.Unlock()\n\n\terr := db.InTransaction(',
  },
  {
    file: join('internal', 'backends', 'sqlite', 'collection.go'),
    before: 'metadata.DefaultColumn, metadata.IDColumn)\n\n\terr := db.InTransaction(',
    after: 'metadata.DefaultColumn, metadata.IDColumn)\n\n\tmu := writeMu(c.dbName)\n\tmu.Lock()\n\tdefer mu.Unlock()\n\n\terr := db.InTransaction(',
  },
];
/** what the binary was built from: a different stamp (another version or patch) rebuilds it */
const BUILD_STAMP = `${FERRETDB_VERSION}\n${PATCHES.map((p) => `${p.file}: ${p.after}`).join('\n')}\n`;
const stampPath = (binary: string) => `${binary}.built-from`;

/**
 * A copy of the FerretDB module with the patches above, under `.tools`, and a
 * go.mod beside it that points the wrapper at the copy (`go build -modfile`):
 * tools/ferretdb itself stays a plain module of the released version.
 */
async function patchedModule(go: string, source: string, tools: string, env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<string> {
  const download = spawnLogged(go, ['mod', 'download', '-json', `github.com/FerretDB/FerretDB@${FERRETDB_VERSION}`], {
    log,
    logPrefix: '[go mod download]',
    quietStdout: true,
    options: { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: source },
  });
  let json = '';
  download.child.stdout?.on('data', (chunk: Buffer) => (json += chunk.toString('utf8')));
  await download.exited;
  if (download.child.exitCode !== 0) throw new Error(`downloading FerretDB failed:\n${download.tail()}`);
  const moduleDir = (JSON.parse(json) as { Dir?: string }).Dir;
  if (!moduleDir) throw new Error('go mod download did not say where FerretDB is');

  const copy = join(tools, 'ferretdb-src');
  await rm(copy, { recursive: true, force: true });
  await cp(moduleDir, copy, { recursive: true });
  await chmodTree(copy); // the module cache is read-only
  for (const patch of PATCHES) {
    const file = join(copy, patch.file);
    const text = await readFile(file, 'utf8');
    if (!text.includes(patch.before)) throw new Error(`FerretDB ${FERRETDB_VERSION}: ${patch.file} is not what its patch expects`);
    await writeFile(file, text.replace(patch.before, patch.after));
  }

  const build = join(tools, 'ferretdb-build');
  await mkdir(build, { recursive: true });
  const mod = await readFile(join(source, 'go.mod'), 'utf8');
  await writeFile(join(build, 'go.mod'), `${mod.trimEnd()}\n\nreplace github.com/FerretDB/FerretDB => ${copy}\n`);
  await cp(join(source, 'go.sum'), join(build, 'go.sum'));
  return join(build, 'go.mod');
}

async function chmodTree(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await chmodTree(path);
    else await chmod(path, 0o644);
  }
}

/** Built with today's patch (its stamp file says so), and not older than the wrapper's sources (a pulled change rebuilds it). */
async function isUpToDate(binary: string, source: string): Promise<boolean> {
  try {
    await access(binary, fsConstants.X_OK);
    const built = (await stat(binary)).mtimeMs;
    for (const file of ['main.go', 'go.mod', 'go.sum']) {
      if ((await stat(join(source, file))).mtimeMs > built) return false;
    }
    if ((await readFile(stampPath(binary), 'utf8').catch(() => '')) !== BUILD_STAMP) return false;
    return true;
  } catch {
    return false;
  }
}
