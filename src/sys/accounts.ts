// Host accounts through the shadow tools (Node has no API for them): jailed logins' accounts
// (src/chroot/jailacct.ts: useradd/userdel/groupdel), and the remap account of `--userns-remap`
// (src/daemon/userns.ts: the system user dockremap made with useradd --system, its subordinate id
// ranges added with usermod -v/-w, which lock and rewrite /etc/subuid and /etc/subgid the shadow way).
import { closeSync, openSync, readFileSync } from 'node:fs';
import { run, runOk } from './exec.js';

/** Creates a host account with no password login ('*': not locked, so key logins work), no home made. */
export async function addAccount(name: string, home: string, shell: string): Promise<void> {
  await runOk('useradd', ['-M', '-U', '-d', home, '-s', shell, '-p', '*', '-c', 'cocon jail', name]);
}

/** Removes a host account (and the group of the same name useradd -U made); a missing one is fine. */
export async function removeAccount(name: string): Promise<void> {
  const r = await run('userdel', [name]);
  if (r.code !== 0 && r.code !== 6) throw new Error(`userdel ${name}: ${r.stderr.trim()}`);
  await run('groupdel', [name]);
}

/** The text of a host file ('' when it does not exist): /etc/passwd, /etc/group, /etc/subuid, /etc/subgid. */
export function readHostFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

/** dockerd's `useradd -r -s /bin/false dockremap`, with its group of the same name (-U). */
export async function addSystemAccount(name: string): Promise<void> {
  await runOk('useradd', ['--system', '-U', '-M', '-s', '/bin/false', '-c', 'cocon userns-remap', name]);
}

/**
 * Gives `name` the subordinate uids and gids start..start+count-1 (usermod -v and -w). usermod
 * refuses when /etc/subuid or /etc/subgid does not exist: they are created empty (0644) first.
 */
export async function addSubIdRanges(name: string, start: number, count: number): Promise<void> {
  for (const f of ['/etc/subuid', '/etc/subgid']) closeSync(openSync(f, 'a', 0o644));
  const range = `${start}-${start + count - 1}`;
  await runOk('usermod', ['-v', range, '-w', range, name]);
}
