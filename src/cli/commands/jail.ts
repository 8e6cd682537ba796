// `cocon jail ...`: jailed SSH/SFTP accounts (src/chroot/jailacct.ts), done by the CLI as root.
//
//   cocon jail [--data-root DIR] [--sshd-dir DIR] user add NAME (--sftp | --shell PROG,...) [--key FILE] [--jail DIR]
//   cocon jail user rm NAME...     cocon jail user ls     cocon jail check NAME...     cocon jail update NAME...
// Exit status: 0; 1 for errors and for `check` finding problems; 125 for flag errors.
import { resolve as resolvePath } from 'node:path';
import { FlagError, Opts, parseFlags, renderFlagHelp, type FlagDef } from '../flags.js';
import { tabwrite } from '../table.js';
import { Unavailable } from '../../core/errors.js';
import { JailAccounts } from '../../chroot/jailacct.js';
import { DEFAULT_DATA_ROOT } from '../../chroot/store.js';

const COMMON: FlagDef[] = [
  { long: 'data-root', type: 'string', desc: `Data root (default $COCON_DATA_ROOT or ${DEFAULT_DATA_ROOT})` },
  { long: 'sshd-dir', type: 'string', desc: 'OpenSSH configuration directory (default /etc/ssh)' },
];
const ADD: FlagDef[] = [
  { long: 'sftp', type: 'bool', desc: 'SFTP only (ForceCommand internal-sftp): the jail holds no program' },
  {
    long: 'shell',
    type: 'list',
    desc: 'A limited shell instead: these host programs and their libraries (comma separated)',
  },
  { long: 'key', type: 'string', desc: 'File of SSH public keys allowed to log in' },
  { long: 'jail', type: 'string', desc: 'The jail directory (default /srv/cocon-jails/NAME)' },
];

const USAGE = `
Usage:  cocon jail COMMAND

Jailed SSH/SFTP accounts: logins chrooted by OpenSSH into a minimal jail (run as root)

Commands:
  user add NAME   Create a host account whose SSH logins are jailed (--sftp, or --shell PROG,...)
  user rm NAME    Remove the account, its sshd drop-in, its key file and its jail
  user ls         List jailed accounts
  check NAME      Find setuid files, world-writable directories, unsafe jail paths, stale copies
  update NAME     Copy again the programs and libraries that differ from the host's
`;

export async function jailMain(args: string[]): Promise<number> {
  const out = (s: string): void => {
    process.stdout.write(s);
  };
  const err = (s: string): void => {
    process.stderr.write(s);
  };
  let words: string[];
  let o: Opts;
  const defs = [...ADD, ...COMMON];
  try {
    const p = parseFlags(args, defs, { interspersed: true });
    o = new Opts(p, defs);
    words = p.positionals;
  } catch (e) {
    if (e instanceof FlagError) {
      err(`${e.message}\n${USAGE}`);
      return 125;
    }
    throw e;
  }
  const first = words[0] === 'user' ? `user ${words[1] ?? ''}` : (words[0] ?? '');
  words = words.slice(words[0] === 'user' ? 2 : 1);
  if (o.bool('help') || !first || first === 'help' || first === 'user ') {
    out(`${USAGE}\nOptions:\n${renderFlagHelp(defs)}\n`);
    return 0;
  }
  if (first !== 'user add' && ADD.some((d) => o.has(d.long))) {
    err('cocon: --sftp, --shell, --key and --jail belong to jail user add\n');
    return 125;
  }
  const ja = new JailAccounts(
    resolvePath(o.str('data-root') || process.env.COCON_DATA_ROOT || DEFAULT_DATA_ROOT),
    o.str('sshd-dir') || '/etc/ssh',
  );
  try {
    if (process.getuid?.() !== 0) throw new Unavailable('cocon jail needs root (accounts, sshd configuration)');
    switch (first) {
      case 'user add': {
        if (words.length !== 1) {
          err('cocon: jail user add needs exactly one NAME\n');
          return 125;
        }
        const rec = await ja.add({
          name: words[0],
          sftp: o.bool('sftp'),
          shell: o
            .list('shell')
            .flatMap((s) => s.split(','))
            .filter(Boolean),
          keys: o.str('key') || undefined,
          jail: o.str('jail') || undefined,
        });
        err(`jailed ${rec.name} in ${rec.jail} (${rec.mode}); sshd reads ${ja.dropInFile(rec.name)} (reload sshd)\n`);
        out(`${rec.name}\n`);
        return 0;
      }
      case 'user rm': {
        for (const n of words) {
          await ja.rm(n);
          out(`${n}\n`);
        }
        return 0;
      }
      case 'user ls': {
        const lines = ['NAME\tMODE\tJAIL\tCREATED'];
        for (const r of ja.list()) lines.push(`${r.name}\t${r.mode}\t${r.jail}\t${r.created}`);
        out(tabwrite(lines.join('\n') + '\n'));
        return 0;
      }
      case 'check': {
        let found = 0;
        for (const n of words)
          for (const f of ja.check(n)) {
            found++;
            out(`${n}: ${f.kind}: ${f.path}: ${f.detail}\n`);
          }
        return found ? 1 : 0;
      }
      case 'update': {
        for (const n of words) for (const f of await ja.update(n)) out(`${n}: updated ${f}\n`);
        return 0;
      }
      default:
        err(`cocon: unknown command: cocon jail ${first}\n${USAGE}`);
        return 1;
    }
  } catch (e) {
    err(`cocon: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
