// Tar archives through GNU tar (the only place that runs it), for writing tars of trees we own.
// Nothing untrusted is ever extracted with GNU tar: every extraction (pull, load, import, cp in)
// goes through the one safe extractor, src/snapshots/apply.ts.
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { run } from './exec.js';

export class TarError extends Error {}

function tarMessage(stderr: string, code: number): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^tar: Exiting with failure status/.test(l) && !/^tar: Removing leading/.test(l));
  return lines.slice(0, 3).join('; ') || `tar exited with status ${code}`;
}

/**
 * Packs a directory into a tar file reproducibly: entries sorted by name, owners 0:0 numeric, all
 * mtimes set to `mtime` (unix seconds), GNU format (no pax atime/ctime records). Same tree -> same bytes.
 */
export async function createTarDeterministic(srcDir: string, outFile: string, mtime: number): Promise<void> {
  const r = await run(
    'tar',
    [
      '-c',
      '--sort=name',
      '--format=gnu',
      '--numeric-owner',
      '--owner=0',
      '--group=0',
      `--mtime=@${Math.floor(mtime)}`,
      '-f',
      outFile,
      '-C',
      srcDir,
      '.',
    ],
    { env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' } },
  );
  if (r.code !== 0) throw new TarError(tarMessage(r.stderr, r.code));
}

/**
 * Streams a directory as an uncompressed tar (GNU tar on stdout): numeric owners, xattrs, entries
 * relative to the directory ('./...'), as `docker export` writes a container's filesystem.
 * The stream errors (TarError) when tar exits non-zero; destroying it kills tar.
 */
export function tarDirectoryStream(dir: string, opts: { exclude?: string[] } = {}): PassThrough {
  const args = ['-c', '--numeric-owner', '--xattrs', '--xattrs-include=*', '--sort=name', '-f', '-', '-C', dir];
  for (const e of opts.exclude ?? []) args.push(`--exclude=${e}`);
  args.push('.');
  const child = spawn('tar', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  child.stdout!.pipe(out, { end: false });
  child.on('close', (code, signal) => {
    if (code === 0) out.end();
    else out.destroy(new TarError(tarMessage(err, code ?? (signal ? 128 : 1))));
  });
  out.on('close', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return out;
}
