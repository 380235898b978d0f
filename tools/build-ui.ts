/**
 * `npm run build:ui`: bundles the browser code with esbuild into dist/ui and
 * prints each bundle's gzipped size against its budget (issue 4):
 *
 *   widget.js            the loader a host page embeds       ≤ 5 KB gzipped
 *   widget/frame.*       the chat UI inside the iframe       ≤ 60 KB gzipped
 *   workbench/app.*      the agent workbench
 *
 * Exits 1 when a budget is exceeded, so a build that would slow host pages
 * down never ships. `--dev` skips minification (readable stack traces).
 */
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type BuildOptions } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'ui');
const dev = process.argv.includes('--dev');

const KB = 1024;
interface Bundle {
  name: string;
  entry: string;
  outfile: string;
  /** pages copied beside the bundle, counted in its size */
  pages: string[];
  budgetGz?: number;
}

const bundles: Bundle[] = [
  { name: 'widget loader', entry: 'widget/loader.ts', outfile: 'widget.js', pages: [], budgetGz: 5 * KB },
  { name: 'widget chat UI', entry: 'widget/frame/main.tsx', outfile: 'widget/frame.js', pages: ['widget/frame.html'], budgetGz: 60 * KB },
  { name: 'workbench', entry: 'workbench/main.tsx', outfile: 'workbench/app.js', pages: ['workbench/index.html'] },
];
/** pages served as they are (src/routes/ui.ts fills in the demo page's site key) */
const copies = [{ from: 'widget/demo.html', to: 'demo.html' }];

const common: BuildOptions = {
  bundle: true,
  format: 'iife',
  target: ['es2020', 'chrome90', 'firefox90', 'safari15'],
  minify: !dev,
  sourcemap: dev ? 'inline' : false,
  legalComments: 'none',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  define: { 'process.env.NODE_ENV': dev ? '"development"' : '"production"' },
  logLevel: 'warning',
  metafile: true,
};

const gz = (file: string) => gzipSync(readFileSync(file), { level: 9 }).length;
const kb = (n: number) => `${(n / KB).toFixed(1)} KB`;

mkdirSync(out, { recursive: true });

let over = false;
const rows: string[] = [];
for (const b of bundles) {
  const result = await build({ ...common, entryPoints: [join(root, b.entry)], outfile: join(out, b.outfile) });
  const files = Object.keys(result.metafile?.outputs ?? {}).map((f) => join(root, f)).filter((f) => !f.endsWith('.map'));
  for (const page of b.pages) {
    const target = join(out, page);
    mkdirSync(dirname(target), { recursive: true });
    cpSync(join(root, page), target);
    files.push(target);
  }
  const size = files.reduce((sum, f) => sum + gz(f), 0);
  const verdict = b.budgetGz === undefined ? '' : size <= b.budgetGz ? `within ${kb(b.budgetGz)}` : `OVER ${kb(b.budgetGz)}`;
  if (b.budgetGz !== undefined && size > b.budgetGz) over = true;
  rows.push(`  ${b.name.padEnd(16)} ${kb(size).padStart(9)} gzipped  ${verdict}   (${files.map((f) => relative(out, f)).join(', ')})`);
}
for (const c of copies) cpSync(join(root, c.from), join(out, c.to));
process.stderr.write(`[build:ui] dist/ui${dev ? ' (dev)' : ''}\n${rows.join('\n')}\n`);
if (over) {
  process.stderr.write('[build:ui] a bundle is over its budget\n');
  process.exit(1);
}
