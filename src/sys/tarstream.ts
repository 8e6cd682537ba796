// Tar streams through GNU tar for `docker cp`: chosen paths out of a container, and extraction
// of an uploaded tar into a container directory. (Whole trees: tarDirectoryStream in ./tar.ts.)
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

type TarRun = { stream: Readable; done: Promise<void>; kill: () => void };

/** A tar of `names` relative to `dir`; `rename` replaces the name of a single top entry. */
export function tarPaths(dir: string, names: string[], rename?: string): TarRun {
  const args = ['-C', dir, '--numeric-owner', '--xattrs', '--xattrs-include=*'];
  if (rename && names.length === 1) args.push(`--transform=s|^${names[0].replace(/[|\\.*[\]^$]/g, '\\$&')}|${rename}|`);
  const child = spawn('tar', [...args, '-cf', '-', '--', ...names], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar: ${err.trim() || 'exit ' + code}`))));
  });
  return { stream: child.stdout, done, kill: () => child.kill('SIGKILL') };
}

/**
 * Extracts a tar stream into `dir` (owners kept, no absolute paths, no `..`: GNU tar's own
 * rules). Resolves when tar has finished; rejects with tar's message.
 */
export function untarInto(src: Readable, dir: string): Promise<void> {
  const child = spawn('tar', ['-C', dir, '--numeric-owner', '--same-owner', '-p', '-xf', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
  child.stdin.on('error', () => undefined);
  src.pipe(child.stdin);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar: ${err.trim() || 'exit ' + code}`))));
  });
}
