// Streams a directory tree as a tar archive (GNU tar), for `docker export`.
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

/** A tar of `dir` (numeric owners, xattrs), as a stream; `done` rejects with tar's error. */
export function tarDirectory(dir: string): { stream: Readable; done: Promise<void>; kill: () => void } {
  const child = spawn('tar', ['-C', dir, '--numeric-owner', '--xattrs', '--xattrs-include=*', '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar: ${err.trim() || 'exit ' + code}`))));
  });
  return { stream: child.stdout, done, kill: () => child.kill('SIGKILL') };
}
