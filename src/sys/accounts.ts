// Host accounts for jailed logins: useradd/userdel/groupdel through the shadow tools (Node has no
// API for them). Only src/chroot/jailacct.ts calls this module.
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
