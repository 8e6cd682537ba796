// Container user and environment resolution: docker's `-u/--user` semantics against the image's
// /etc/passwd and /etc/group (as runc's libcontainer/user GetExecUser does for dockerd), and the
// environment docker gives a container (HOSTNAME, PATH default, TERM for ttys, image env
// overridden by user env). Pure: the caller reads the files (null when absent). A user or group
// that cannot be resolved is bad input (InvalidArgument).
import { InvalidArgument } from '../core/errors.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  /**
   * docker's process.user.additionalGids: the primary gid first (moby getUser), then the groups
   * that list the user in /etc/group (implicit-group form only), then --group-add; no duplicates
   */
  additionalGids: number[];
  /** home directory from passwd ("/" when unknown) */
  home: string;
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const MAX_ID = 2 ** 31 - 1;

function parseId(s: string): number | null {
  if (!/^[0-9]+$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

/** Parse /etc/passwd text; malformed lines and comments are skipped (as libcontainer does). */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    const uid = parseId(f[2] ?? '');
    const gid = parseId(f[3] ?? '');
    out.push({ name: f[0] ?? '', uid: uid ?? 0, gid: gid ?? 0, home: f[5] ?? '', shell: f[6] ?? '' });
  }
  return out;
}

/** Parse /etc/group text. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    const gid = parseId(f[2] ?? '');
    const members = (f[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean);
    out.push({ name: f[0] ?? '', gid: gid ?? 0, members });
  }
  return out;
}

/**
 * Resolve docker's `--user` spec ("", "name", "uid", "name:group", "uid:gid", "name:gid", ...).
 *
 * - "" means root: uid 0 (looked up in passwd for its gid and groups).
 * - a numeric uid is always a uid; without a passwd entry it runs with gid 0 and no groups.
 * - an unknown name throws `unable to find user NAME: no matching entries in passwd file`.
 * - an explicit group (name or gid) replaces the primary gid; an unknown group name throws
 *   `unable to find group NAME: no matching entries in group file`. With an explicit group,
 *   supplementary groups are not added (docker/libcontainer rule).
 * - otherwise the supplementary groups are the groups that list the matched user name.
 * - additionalGids = [gid, ...member groups, ...groupAdd] without duplicates, as dockerd
 *   (moby daemon/oci_linux.go getUser) puts them into the OCI spec.
 */
export function resolveUser(spec: string, passwd: string | null, group: string | null, groupAdd: readonly string[] = []): ResolvedUser {
  const s = spec.trim();
  const colon = s.indexOf(':');
  const userArg = colon >= 0 ? s.slice(0, colon) : s;
  const groupArg = colon >= 0 ? s.slice(colon + 1) : '';
  const uidArg = parseId(userArg);
  const gidArg = parseId(groupArg);

  const res: ResolvedUser = { uid: 0, gid: 0, additionalGids: [], home: '/' };

  const users = passwd === null ? [] : parsePasswd(passwd);
  const match = users.find((u) => {
    if (userArg === '') return u.uid === 0;
    if (uidArg !== null) return u.uid === uidArg;
    return u.name === userArg;
  });

  let matchedName = '';
  if (match) {
    matchedName = match.name;
    res.uid = match.uid;
    res.gid = match.gid;
    res.home = match.home || '/';
  } else if (userArg !== '') {
    if (uidArg === null) throw new InvalidArgument(`unable to find user ${userArg}: no matching entries in passwd file`);
    if (uidArg > MAX_ID) throw new InvalidArgument('uids and gids must be in range 0-2147483647');
    res.uid = uidArg;
  }

  if (groupArg !== '' || matchedName !== '') {
    const groups = group === null ? [] : parseGroup(group);
    if (groupArg !== '') {
      const g = groups.find((e) => (gidArg !== null ? e.gid === gidArg : e.name === groupArg));
      if (g) res.gid = g.gid;
      else {
        if (gidArg === null) throw new InvalidArgument(`unable to find group ${groupArg}: no matching entries in group file`);
        if (gidArg > MAX_ID) throw new InvalidArgument('uids and gids must be in range 0-2147483647');
        res.gid = gidArg;
      }
    } else {
      const seen = new Set<number>();
      for (const g of groups) {
        if (g.members.includes(matchedName) && !seen.has(g.gid)) {
          seen.add(g.gid);
          res.additionalGids.push(g.gid);
        }
      }
    }
  }
  const gids = [res.gid, ...res.additionalGids, ...additionalGroups(groupAdd, group)];
  res.additionalGids = [...new Set(gids)];
  return res;
}

/**
 * docker's --group-add: group names (looked up in /etc/group) or numeric gids (used as they
 * are). Throws `Unable to find group NAME: no matching entries in group file` for unknown names.
 */
export function additionalGroups(groupAdd: readonly string[], group: string | null): number[] {
  const groups = group === null ? [] : parseGroup(group);
  const out: number[] = [];
  for (const ag of groupAdd) {
    const want = ag.trim();
    const n = parseId(want);
    const g = groups.find((e) => e.name === want || (n !== null && e.gid === n));
    let gid: number;
    if (g) gid = g.gid;
    else {
      if (n === null) throw new InvalidArgument(`Unable to find group ${want}: no matching entries in group file`);
      if (n > MAX_ID) throw new InvalidArgument('uids and gids must be in range 0-2147483647');
      gid = n;
    }
    if (!out.includes(gid)) out.push(gid);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Environment

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function envKey(kv: string): string {
  const i = kv.indexOf('=');
  return i < 0 ? kv : kv.slice(0, i);
}

/** Parse ["A=1", "B=x=y"] into a Map (later entries win; a bare "A" maps to undefined). */
export function parseEnvList(list: readonly string[]): Map<string, string | undefined> {
  const m = new Map<string, string | undefined>();
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i < 0) m.set(kv, undefined);
    else m.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return m;
}

/**
 * Merge image env with user env: a user entry replaces the image entry with the same key in
 * place; new keys are appended in order. An entry without "=" ("Foo") unsets that key, as in
 * docker's ReplaceOrAppendEnvValues (the process env); with `keepBare` (the stored Config.Env,
 * as docker keeps it) it is kept as given in place of the key.
 */
export function mergeEnv(imageEnv: readonly string[], userEnv: readonly string[], opts: { keepBare?: boolean } = {}): string[] {
  const out: Array<string | null> = [];
  const index = new Map<string, number>();
  const put = (kv: string, user: boolean): void => {
    const k = envKey(kv);
    const at = index.get(k);
    if (!kv.includes('=') && !(opts.keepBare && user)) {
      if (at !== undefined && user) { out[at] = null; index.delete(k); }
      return;
    }
    if (at === undefined) {
      index.set(k, out.length);
      out.push(kv);
    } else out[at] = kv;
  };
  for (const kv of imageEnv) put(kv, false);
  for (const kv of userEnv) put(kv, true);
  return out.filter((x): x is string => x !== null);
}

/**
 * The container process environment, in docker's order (container.CreateDaemonEnvironment):
 * PATH (default), HOSTNAME, TERM=xterm (tty only), the --link variables, then the merged
 * image + user env, whose values win over all of these (same key: replaced in place).
 */
export function containerEnv(opts: {
  imageEnv: readonly string[];
  userEnv: readonly string[];
  hostname: string;
  tty: boolean;
  /** docker --link variables (ALIAS_PORT_80_TCP=..., ALIAS_NAME=...) */
  linkEnv?: readonly string[];
}): string[] {
  const defaults = [DEFAULT_PATH, `HOSTNAME=${opts.hostname}`];
  if (opts.tty) defaults.push('TERM=xterm');
  return mergeEnv(mergeEnv(defaults, opts.linkEnv ?? []), mergeEnv(opts.imageEnv, opts.userEnv));
}
