// Jailed accounts, jailkit's job: a host account whose SSH logins are chrooted by OpenSSH itself
// (ChrootDirectory) into a minimal jail, for SFTP only (ForceCommand internal-sftp: sftp-server
// runs inside sshd, so the jail needs no program at all) or with a limited shell (--shell: the
// listed programs and the libraries ldd lists for them, copied from the host).
//
// Lifecycle: add -> (check | update)* -> rm.
//  - add: the jail directory and every directory above it are root-owned and not writable by group
//    or others (sshd refuses a ChrootDirectory otherwise); inside, /home/NAME is the user's, mode
//    0700, the only writable place. The account is made with useradd (password '*': no password
//    login, key logins allowed), home /home/NAME (a path inside the jail: sshd changes root first).
//    The authorized keys live outside the jail, root-owned (<sshd dir>/cocon-jail-keys/NAME), so the
//    user cannot add keys. sshd learns all of it from a drop-in, <sshd dir>/sshd_config.d/
//    cocon-jail-NAME.conf (a Match User block, 0644 so the user can read how it is jailed); the
//    sshd dir is /etc/ssh (the tests point it elsewhere). A record goes to <data-root>/jails/NAME.json.
//    A failed add removes what it made.
//  - check: setuid/setgid files, world-writable directories without the sticky bit, directories
//    that sshd would refuse (not root-owned or writable by others), and copied files that differ
//    from the host's (after an upgrade of the host); exit status 1 when anything is found.
//  - update: copies again the programs and libraries that differ (and libraries newly needed).
//  - rm: the drop-in, the key file, the account, the jail (with the user's home) and the record.
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { Conflict, InvalidArgument, NotFound } from '../core/errors.js';
import { parsePasswd } from '../core/users.js';
import { addAccount, removeAccount } from '../sys/accounts.js';
import { lddOutput, mknod, removeTree } from '../sys/chroot.js';
import { cleanInnerPath, parseLdd } from './validate.js';

export interface JailAccount {
  name: string;
  jail: string;
  mode: 'sftp' | 'shell';
  /** Files copied from the host (same path inside the jail). */
  files: string[];
  created: string;
}

export interface JailAddOpts {
  name: string;
  jail?: string;
  sftp?: boolean;
  shell?: string[];
  keys?: string;
}

const NAME_RE = /^[a-z_][a-z0-9_-]{0,31}$/;

/** The sshd drop-in for one jailed user. Pure. */
export function sshdDropIn(a: { name: string; jail: string; mode: 'sftp' | 'shell'; keysFile: string }): string {
  const lines = [
    `# Written by cocon jail user add ${a.name}: logins of ${a.name} are chrooted to ${a.jail}.`,
    `Match User ${a.name}`,
    `    ChrootDirectory ${a.jail}`,
    `    AuthorizedKeysFile ${a.keysFile}`,
    '    AllowTcpForwarding no',
    '    AllowAgentForwarding no',
    '    AllowStreamLocalForwarding no',
    '    PermitTunnel no',
    '    X11Forwarding no',
  ];
  if (a.mode === 'sftp') lines.push(`    ForceCommand internal-sftp -d /home/${a.name}`, '    PermitTTY no');
  return lines.join('\n') + '\n';
}

export interface CheckFinding {
  kind: 'setuid' | 'world-writable' | 'unsafe-dir' | 'differs';
  path: string;
  detail: string;
}

export class JailAccounts {
  readonly dir: string;
  constructor(
    dataRoot: string,
    readonly sshdDir = '/etc/ssh',
  ) {
    this.dir = join(dataRoot, 'jails');
  }

  private recordFile(name: string): string {
    return join(this.dir, `${name}.json`);
  }
  dropInFile(name: string): string {
    return join(this.sshdDir, 'sshd_config.d', `cocon-jail-${name}.conf`);
  }
  keysFile(name: string): string {
    return join(this.sshdDir, 'cocon-jail-keys', name);
  }

  get(name: string): JailAccount {
    try {
      return JSON.parse(readFileSync(this.recordFile(name), 'utf8')) as JailAccount;
    } catch {
      throw new NotFound(`no such jailed user: ${name}`);
    }
  }

  list(): JailAccount[] {
    let f: string[] = [];
    try {
      f = readdirSync(this.dir);
    } catch {
      return [];
    }
    return f.filter((x) => x.endsWith('.json')).map((x) => this.get(x.slice(0, -5)));
  }

  async add(o: JailAddOpts): Promise<JailAccount> {
    if (!NAME_RE.test(o.name)) throw new InvalidArgument(`invalid user name "${o.name}"`);
    if (!!o.sftp === !!o.shell?.length) throw new InvalidArgument('give exactly one of --sftp or --shell PROGRAM,...');
    if (parsePasswd(readFileSync('/etc/passwd', 'utf8')).some((p) => p.name === o.name))
      throw new Conflict(`user ${o.name} already exists on this host`);
    const jail = cleanInnerPath(o.jail ?? `/srv/cocon-jails/${o.name}`, '--jail');
    if (jail === '/') throw new InvalidArgument('--jail cannot be /');
    if (existsSync(jail) && readdirSync(jail).length) throw new Conflict(`--jail ${jail} exists and is not empty`);
    let keys = '';
    if (o.keys) {
      try {
        keys = readFileSync(o.keys, 'utf8');
      } catch (e) {
        throw new InvalidArgument(`--key ${o.keys}: ${(e as Error).message}`);
      }
      if (!/^(ssh-|ecdsa-|sk-)/m.test(keys)) throw new InvalidArgument(`--key ${o.keys} holds no public key`);
    }
    const programs = (o.shell ?? []).map((p) => cleanInnerPath(p, '--shell'));
    for (const p of programs)
      if (!existsSync(p) || !statSync(p).isFile())
        throw new InvalidArgument(`--shell: ${p} is not a program on this host`);
    const rec: JailAccount = {
      name: o.name,
      jail,
      mode: o.sftp ? 'sftp' : 'shell',
      files: [],
      created: new Date().toISOString(),
    };
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    let accountMade = false;
    try {
      // every directory from / to the jail: root-owned, not writable by group or others (sshd's rule)
      for (let d = jail; ; d = dirname(d)) {
        if (existsSync(d)) {
          const st = statSync(d);
          if (st.uid !== 0 || st.mode & 0o022)
            throw new InvalidArgument(
              `${d} must be owned by root and not writable by group or others (sshd refuses the jail otherwise)`,
            );
        }
        if (d === '/') break;
      }
      mkdirSync(jail, { recursive: true, mode: 0o755 });
      for (const d of ['etc', 'dev', 'home', `home/${o.name}`])
        mkdirSync(join(jail, d), { recursive: true, mode: 0o755 });
      if (programs.length) {
        const files = new Set<string>(programs);
        for (const p of programs) {
          const l = parseLdd(await lddOutput(p));
          for (const x of l.paths) files.add(x);
        }
        for (const f of files) copyIn(jail, f);
        rec.files = [...files].sort();
        for (const [n, maj, min] of [
          ['null', 1, 3],
          ['zero', 1, 5],
          ['urandom', 1, 9],
        ] as const)
          await mknod(join(jail, 'dev', n), 'c', maj, min, 0o666);
      }
      const shell = programs.find((p) => /\/(sh|bash|dash|busybox)$/.test(p)) ?? programs[0] ?? '/usr/sbin/nologin';
      await addAccount(o.name, `/home/${o.name}`, shell);
      accountMade = true;
      const pw = parsePasswd(readFileSync('/etc/passwd', 'utf8')).find((p) => p.name === o.name)!;
      writeFileSync(
        join(jail, 'etc/passwd'),
        `root:x:0:0:root:/root:/usr/sbin/nologin\n${o.name}:x:${pw.uid}:${pw.gid}::/home/${o.name}:${shell}\n`,
        { mode: 0o644 },
      );
      writeFileSync(join(jail, 'etc/group'), `root:x:0:\n${o.name}:x:${pw.gid}:\n`, { mode: 0o644 });
      const home = join(jail, 'home', o.name);
      chownSync(home, pw.uid, pw.gid);
      chmodSync(home, 0o700);
      mkdirSync(dirname(this.keysFile(o.name)), { recursive: true, mode: 0o755 });
      writeFileSync(this.keysFile(o.name), keys, { mode: 0o644 });
      mkdirSync(dirname(this.dropInFile(o.name)), { recursive: true, mode: 0o755 });
      const tmp = `${this.dropInFile(o.name)}.tmp`;
      writeFileSync(tmp, sshdDropIn({ name: o.name, jail, mode: rec.mode, keysFile: this.keysFile(o.name) }), {
        mode: 0o644,
      });
      renameSync(tmp, this.dropInFile(o.name));
      writeFileSync(this.recordFile(o.name), JSON.stringify(rec, null, 2) + '\n', { mode: 0o600 });
      return rec;
    } catch (e) {
      rmSync(this.dropInFile(o.name), { force: true });
      rmSync(this.keysFile(o.name), { force: true });
      if (accountMade) await removeAccount(o.name).catch(() => undefined);
      if (existsSync(jail)) await removeTree(jail).catch(() => undefined);
      throw e;
    }
  }

  async rm(name: string): Promise<void> {
    const rec = this.get(name);
    rmSync(this.dropInFile(name), { force: true });
    rmSync(this.keysFile(name), { force: true });
    await removeAccount(name);
    if (existsSync(rec.jail)) await removeTree(rec.jail);
    rmSync(this.recordFile(name), { force: true });
  }

  /** jk_check: what makes a jail unsafe or stale. */
  check(name: string): CheckFinding[] {
    const rec = this.get(name);
    const out: CheckFinding[] = [];
    for (let d = rec.jail; ; d = dirname(d)) {
      try {
        const st = statSync(d);
        if (st.uid !== 0 || st.mode & 0o022)
          out.push({
            kind: 'unsafe-dir',
            path: d,
            detail: 'sshd needs it root-owned and not writable by group or others',
          });
      } catch {
        out.push({ kind: 'unsafe-dir', path: d, detail: 'missing' });
      }
      if (d === '/') break;
    }
    const walk = (dir: string): void => {
      let names: string[] = [];
      try {
        names = readdirSync(dir);
      } catch {
        return;
      }
      for (const n of names) {
        const p = join(dir, n);
        let st;
        try {
          st = lstatSync(p);
        } catch {
          continue;
        }
        const inner = p.slice(rec.jail.length);
        if (st.isDirectory()) {
          if (st.mode & 0o002 && !(st.mode & 0o1000))
            out.push({
              kind: 'world-writable',
              path: inner,
              detail: `directory mode ${(st.mode & 0o7777).toString(8)}`,
            });
          walk(p);
        } else if (st.isFile() && st.mode & 0o6000) {
          out.push({
            kind: 'setuid',
            path: inner,
            detail: `${st.mode & 0o4000 ? 'setuid' : 'setgid'} file, mode ${(st.mode & 0o7777).toString(8)}, owner ${st.uid}`,
          });
        }
      }
    };
    walk(rec.jail);
    for (const f of rec.files)
      if (differs(f, join(rec.jail, f)))
        out.push({ kind: 'differs', path: f, detail: "differs from the host's (run jail update)" });
    return out;
  }

  /** jk_update: copies again what differs from the host, and libraries the programs now need. */
  async update(name: string): Promise<string[]> {
    const rec = this.get(name);
    const files = new Set(rec.files);
    for (const f of rec.files) {
      if (!existsSync(f)) continue;
      const h = readFileSync(f, { encoding: null }).subarray(0, 4);
      if (h.toString('latin1') === '\x7fELF') for (const x of parseLdd(await lddOutput(f)).paths) files.add(x);
    }
    const changed: string[] = [];
    for (const f of files) {
      if (!existsSync(f)) continue;
      if (!existsSync(join(rec.jail, f)) || differs(f, join(rec.jail, f))) {
        copyIn(rec.jail, f);
        changed.push(f);
      }
    }
    rec.files = [...files].sort();
    writeFileSync(this.recordFile(name), JSON.stringify(rec, null, 2) + '\n', { mode: 0o600 });
    return changed;
  }
}

function differs(host: string, inJail: string): boolean {
  try {
    return !readFileSync(host).equals(readFileSync(inJail));
  } catch {
    return true;
  }
}

/** Copies a host file (dereferenced) to the same path in the jail, root-owned, mode kept. */
function copyIn(jail: string, f: string): void {
  const dest = join(jail, f);
  mkdirSync(dirname(dest), { recursive: true, mode: 0o755 });
  copyFileSync(f, `${dest}.cocon-tmp`);
  chmodSync(`${dest}.cocon-tmp`, statSync(f).mode & 0o777); // never setuid inside a jail
  renameSync(`${dest}.cocon-tmp`, dest);
}
