// Resolves a path inside a container's root filesystem the way the container would see it:
// symlinks are followed relative to that root, so no path (nor link) can lead outside it.
import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';

/**
 * The host path of `path` inside `root`. Intermediate symlinks are always followed; the last
 * component only when `followLast`. Missing components are kept as they are (the caller stats).
 */
export function resolveInRoot(root: string, path: string, followLast = true): string {
  const todo = posix
    .normalize('/' + path)
    .split('/')
    .filter(Boolean);
  const done: string[] = [];
  let hops = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    if (part === '.') continue;
    const host = posix.join(root, ...done, part);
    let isLink = false;
    try {
      isLink = lstatSync(host).isSymbolicLink();
    } catch {
      isLink = false;
    }
    if (isLink && (todo.length > 0 || followLast)) {
      if (++hops > 40) throw Object.assign(new Error(`too many levels of symbolic links: ${path}`), { code: 'ELOOP' });
      const target = readlinkSync(host);
      if (target.startsWith('/')) done.length = 0;
      todo.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    done.push(part);
  }
  return posix.join(root, ...done);
}
