// Bundles the cocon CLI (and, through it, the daemon) with esbuild into dist/bundle/cocon.js: one
// ES module for the command-line entry, and one chunk per lazily loaded command family or daemon,
// so that a CLI call makes Node read a few files instead of resolving and linking ~100 modules.
// npm packages stay external (better-sqlite3 and node-unix-socket are native). Called by
// `npm run build`, scripts/test, bin/cocon and bench/run after tsc; the output is rebuilt whole
// (built beside, then swapped in) so stale chunks never linger.
import { build } from 'esbuild';
import { renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(repo, 'dist/bundle');
const next = `${out}.new-${process.pid}`;
try {
  await build({
    entryPoints: { cocon: join(repo, 'src/cli/main.ts') },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    splitting: true,
    packages: 'external',
    outdir: next,
    chunkNames: 'chunks/[name]-[hash]',
    logLevel: 'warning',
  });
  rmSync(out, { recursive: true, force: true });
  renameSync(next, out);
} catch (e) {
  rmSync(next, { recursive: true, force: true });
  process.stderr.write(`scripts/bundle.mjs: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
