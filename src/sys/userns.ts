// The user namespace of a daemon under --userns-remap, kept as a file (a bind mount of its nsfs
// inode, like the network namespaces of ./net.ts) so that every container joins the same one by
// path and the daemon can make network namespaces owned by it (./net.ts setNetnsOwner). Made by a
// process that unshares a user namespace and waits while the daemon (host root, CAP_SETUID) writes
// its uid_map and gid_map and binds /proc/<pid>/ns/user to the file; then the process ends. A file
// left by an earlier start with the same maps is kept (running containers are in it).
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { IdMapping, IdentityMapping } from '../core/idmap.js';
import { run, runOk } from './exec.js';
import { isMounted } from './mount.js';

function mapText(maps: readonly IdMapping[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}`).join('\n') + '\n';
}

function sameMap(procText: string, maps: readonly IdMapping[]): boolean {
  const got = procText
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number));
  return (
    got.length === maps.length &&
    maps.every((m, i) => got[i][0] === m.containerID && got[i][1] === m.hostID && got[i][2] === m.size)
  );
}

/** The maps of the user namespace bound at `path`, as /proc/<pid>/uid_map and gid_map text; null when unreadable. */
async function mapsOf(path: string): Promise<{ uid: string; gid: string } | null> {
  const r = await run('nsenter', [
    `--user=${path}`,
    '--preserve-credentials',
    'cat',
    '/proc/self/uid_map',
    '/proc/self/gid_map',
  ]);
  if (r.code !== 0) return null;
  const lines = r.stdout.trim().split('\n');
  const half = lines.length / 2;
  return { uid: lines.slice(0, half).join('\n'), gid: lines.slice(half).join('\n') };
}

/** Makes (or keeps) the user namespace with `map` bound at `path`. */
export async function persistUserns(path: string, map: IdentityMapping): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (isMounted(path)) {
    const cur = await mapsOf(path);
    if (cur && sameMap(cur.uid, map.uids) && sameMap(cur.gid, map.gids)) return;
    await runOk('umount', ['-l', path]);
  }
  closeSync(openSync(path, 'w', 0o600));
  const holder = spawn('unshare', ['--user', 'sh', '-c', 'echo $$; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  try {
    const pid = await new Promise<number>((resolve, reject) => {
      let out = '';
      holder.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('\n')) resolve(Number(out.trim()));
      });
      holder.once('error', reject);
      holder.once('exit', (code) => reject(new Error(`unshare --user exited (${code}) before it was ready`)));
    });
    // one write each, as the kernel wants; gid_map without "setgroups deny": runc sets the groups
    writeFileSync(`/proc/${pid}/uid_map`, mapText(map.uids));
    writeFileSync(`/proc/${pid}/gid_map`, mapText(map.gids));
    await runOk('mount', ['--bind', `/proc/${pid}/ns/user`, path]);
  } finally {
    holder.stdin!.end();
    holder.kill();
  }
}
