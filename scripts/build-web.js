// Builds the dashboard (src/web) into dist/web: one bundled, minified script and its stylesheet,
// served by `tether serve` at `/`. Part of `npm run build`, so users never build it.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });
await build({
  entryPoints: [join(root, 'src', 'web', 'main.tsx')],
  outfile: join(out, 'assets', 'app.js'),
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(join(root, 'src', 'web', 'index.html'), join(out, 'index.html'));
// One stylesheet: the charts' (uPlot) and the page's own.
const css = [join(root, 'node_modules', 'uplot', 'dist', 'uPlot.min.css'), join(root, 'src', 'web', 'app.css')].map((f) => readFileSync(f, 'utf8'));
writeFileSync(join(out, 'assets', 'app.css'), css.join('\n'));
