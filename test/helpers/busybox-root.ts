// A minimal root filesystem for chroot tests, in a fraction of a second: the host's static busybox
// with a symlink per applet, /etc/passwd and /etc/group holding root only, and the usual empty
// directories. Written as a tar that `cocon chroot create NAME --from-tar FILE` unpacks.
import { mkdirSync, copyFileSync, chmodSync, symlinkSync, writeFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export const BUSYBOX = '/bin/busybox';

/** Writes DIR/busybox-root.tar and returns its path. */
export function busyboxRootTar(dir: string): string {
  const r = join(dir, 'busybox-root');
  rmSync(r, { recursive: true, force: true });
  for (const d of ['bin', 'etc', 'root', 'proc', 'sys', 'dev', 'tmp', 'home', 'var'])
    mkdirSync(join(r, d), { recursive: true, mode: 0o755 });
  chmodSync(join(r, 'tmp'), 0o1777);
  chmodSync(join(r, 'root'), 0o700);
  copyFileSync(BUSYBOX, join(r, 'bin/busybox'));
  chmodSync(join(r, 'bin/busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => a && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', join(r, 'bin', a));
  writeFileSync(join(r, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(r, 'etc/group'), 'root:x:0:\n');
  const tar = join(dir, 'busybox-root.tar');
  execFileSync('tar', ['--numeric-owner', '-C', r, '-cf', tar, '.']);
  rmSync(r, { recursive: true, force: true });
  return tar;
}

/** A digest of a tree's names, modes, owners, sizes, mtimes and contents (tar of it, hashed). */
export function treeDigest(dir: string): string {
  return execFileSync('sh', ['-c', 'tar --numeric-owner --sort=name -C "$1" -cf - . | sha256sum', 'sh', dir], {
    encoding: 'utf8',
  }).split(' ')[0];
}
