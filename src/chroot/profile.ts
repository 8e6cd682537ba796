// Chroot profiles, like schroot's: what is mounted and copied into a root each time a command runs
// in it. Pure: parses profile files and merges passwd/group text; the run code applies the result.
//
// Built in:
//   default  /proc, /sys, /dev (with the host's /dev/pts, so a terminal keeps its name), /home and
//            /tmp bind-mounted from the host; /etc/hosts and /etc/resolv.conf copied; /etc/passwd
//            and /etc/group merged (the host's entries win by name; the root's other entries stay,
//            so users that packages made inside the root are kept).
//   minimal  /proc, /sys and /dev only (a private devpts); nothing copied.
// A custom profile is a small text file, one directive a line ('#' starts a comment):
//   bind HOST [INNER] [ro]     bind-mount a host directory or file (INNER defaults to HOST)
//   copy HOST [INNER]          copy a host file in before each run
//   merge /etc/passwd|/etc/group   merge the host's entries into the root's file
//   devpts host|private        the host's /dev/pts (default) or a new private instance
// Jails ignore profiles: they mount nothing.
import { InvalidArgument } from '../core/errors.js';
import { cleanInnerPath, type BindSpec } from './validate.js';

export interface ProfileCopy {
  host: string;
  inner: string;
}

export interface Profile {
  name: string;
  binds: BindSpec[];
  copies: ProfileCopy[];
  /** Files merged entry by entry (passwd and group only). */
  merges: ProfileCopy[];
  devpts: 'host' | 'private';
}

const MERGEABLE = ['/etc/passwd', '/etc/group'];

export const BUILTIN_PROFILES: Record<string, Profile> = {
  default: {
    name: 'default',
    binds: [
      { host: '/home', inner: '/home', readonly: false },
      { host: '/tmp', inner: '/tmp', readonly: false },
    ],
    copies: [
      { host: '/etc/hosts', inner: '/etc/hosts' },
      { host: '/etc/resolv.conf', inner: '/etc/resolv.conf' },
    ],
    merges: [
      { host: '/etc/passwd', inner: '/etc/passwd' },
      { host: '/etc/group', inner: '/etc/group' },
    ],
    devpts: 'host',
  },
  minimal: { name: 'minimal', binds: [], copies: [], merges: [], devpts: 'private' },
};

/** Whether a --profile value names a file (contains a '/') rather than a built-in profile. */
export function isProfilePath(spec: string): boolean {
  return spec.includes('/');
}

/** A built-in profile by name; InvalidArgument for an unknown one. */
export function builtinProfile(name: string): Profile {
  const p = BUILTIN_PROFILES[name];
  if (!p)
    throw new InvalidArgument(
      `unknown profile "${name}" (built in: ${Object.keys(BUILTIN_PROFILES).join(', ')}; or a file path)`,
    );
  return p;
}

/** Parses a profile file's text. Every error names the line. */
export function parseProfile(name: string, text: string): Profile {
  const p: Profile = { name, binds: [], copies: [], merges: [], devpts: 'host' };
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    const f = line.split(/\s+/);
    const where = `profile ${name}, line ${i + 1}`;
    const hostPath = (s: string | undefined): string => {
      if (!s?.startsWith('/')) throw new InvalidArgument(`${where}: "${f[0]}" needs an absolute host path`);
      return cleanInnerPath(s, `${where}: host path`);
    };
    switch (f[0]) {
      case 'bind': {
        if (f.length > 4) throw new InvalidArgument(`${where}: expected "bind HOST [INNER] [ro]"`);
        const host = hostPath(f[1]);
        const rest = f.slice(2);
        const inner = rest[0]?.startsWith('/') ? cleanInnerPath(rest.shift()!, `${where}: bind target`) : host;
        const ro = rest[0] === 'ro';
        if (rest[0] === 'ro' || rest[0] === 'rw') rest.shift();
        if (rest.length)
          throw new InvalidArgument(`${where}: unexpected "${rest[0]}" (expected "bind HOST [INNER] [ro]")`);
        if (inner === '/') throw new InvalidArgument(`${where}: cannot bind over the chroot's /`);
        p.binds.push({ host, inner, readonly: ro });
        break;
      }
      case 'copy': {
        if (f.length < 2 || f.length > 3) throw new InvalidArgument(`${where}: expected "copy HOST [INNER]"`);
        const host = hostPath(f[1]);
        const inner = f[2] ? cleanInnerPath(f[2], `${where}: copy target`) : host;
        if (inner === '/') throw new InvalidArgument(`${where}: cannot copy over the chroot's /`);
        p.copies.push({ host, inner });
        break;
      }
      case 'merge': {
        if (f.length !== 2) throw new InvalidArgument(`${where}: expected "merge /etc/passwd" or "merge /etc/group"`);
        const host = hostPath(f[1]);
        if (!MERGEABLE.includes(host))
          throw new InvalidArgument(`${where}: only ${MERGEABLE.join(' and ')} can be merged`);
        p.merges.push({ host, inner: host });
        break;
      }
      case 'devpts': {
        if (f.length !== 2 || (f[1] !== 'host' && f[1] !== 'private'))
          throw new InvalidArgument(`${where}: expected "devpts host" or "devpts private"`);
        p.devpts = f[1];
        break;
      }
      default:
        throw new InvalidArgument(`${where}: unknown directive "${f[0]}" (bind, copy, merge, devpts)`);
    }
  });
  return p;
}

/**
 * Merges colon-separated account lines (passwd or group): every host entry is kept (it replaces
 * the root's entry of the same name), then the root's entries whose name and id (field 3) the host
 * does not use. Comments and malformed lines of the root are kept as they were.
 */
export function mergeAccounts(host: string, root: string): string {
  const entries = (t: string): string[] => t.split('\n').filter((l) => l.trim() !== '');
  const hostLines = entries(host).filter((l) => !l.startsWith('#') && l.includes(':'));
  const names = new Set(hostLines.map((l) => l.split(':')[0]));
  const ids = new Set(hostLines.map((l) => l.split(':')[2]));
  const kept = entries(root).filter((l) => {
    if (l.startsWith('#') || !l.includes(':')) return true;
    const f = l.split(':');
    return !names.has(f[0]) && !ids.has(f[2]);
  });
  return [...hostLines, ...kept].join('\n') + '\n';
}

/**
 * The line to append to a root's passwd for a host user missing from it (`--user NAME`), and the
 * group line when the root lacks the user's primary group. Pure: takes the host's lines.
 */
export function accountLinesFor(
  name: string,
  hostPasswd: string,
  hostGroup: string,
  rootPasswd: string,
  rootGroup: string,
): { passwd?: string; group?: string } | undefined {
  const pw = hostPasswd.split('\n').find((l) => l.split(':')[0] === name);
  if (!pw) return undefined;
  const f = pw.split(':');
  const out: { passwd?: string; group?: string } = {};
  if (!rootPasswd.split('\n').some((l) => l.split(':')[0] === name)) out.passwd = pw;
  const gid = f[3];
  if (!rootGroup.split('\n').some((l) => l.split(':')[2] === gid)) {
    const g = hostGroup.split('\n').find((l) => l.split(':')[2] === gid);
    out.group = g ? `${g.split(':').slice(0, 3).join(':')}:` : `${name}:x:${gid}:`;
  }
  return out;
}
