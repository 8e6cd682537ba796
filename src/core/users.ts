// Users and groups of a root file system: the one parser of /etc/passwd and /etc/group text and the
// one resolver of docker's `--user NAME|UID[:GROUP|GID]` (as runc's libcontainer/user GetExecUser
// does for dockerd), used by containers (-u, exec -u, --group-add) and chroots (--user). Pure: the
// caller reads the files. A malformed line (too few fields, empty name, an id that is not a
// decimal number) is skipped: it never becomes a user, least of all uid 0.

/** A spec that cannot be resolved (unknown name, id out of range): bad input, never a fault. */
export class UserLookupError extends Error {}

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

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** the primary gid first, then the groups listing the user (only when no group was given); no duplicates */
  groups: number[];
  /** the passwd entry's name, when the user has one */
  name?: string;
  /** the passwd entry's home ("/" when unknown) */
  home: string;
}

/** The largest uid or gid accepted (docker's range, 0-2147483647). */
export const MAX_ID = 2 ** 31 - 1;

function parseId(s: string | undefined): number | null {
  if (s === undefined || !/^[0-9]{1,10}$/.test(s)) return null;
  const n = Number(s);
  return n <= MAX_ID ? n : null;
}

function fields(text: string, min: number): string[][] {
  const out: string[][] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length >= min && f[0] !== '') out.push(f);
  }
  return out;
}

/** /etc/passwd text -> entries (name:password:uid:gid:gecos:home:shell); malformed lines are skipped. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const f of fields(text, 7)) {
    const uid = parseId(f[2]);
    const gid = parseId(f[3]);
    if (uid === null || gid === null) continue;
    out.push({ name: f[0], uid, gid, home: f[5] || '/', shell: f[6] || '/bin/sh' });
  }
  return out;
}

/** /etc/group text -> entries (name:password:gid:member,member); malformed lines are skipped. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const f of fields(text, 4)) {
    const gid = parseId(f[2]);
    if (gid === null) continue;
    out.push({
      name: f[0],
      gid,
      members: f[3]
        .split(',')
        .map((m) => m.trim())
        .filter(Boolean),
    });
  }
  return out;
}

function numericId(s: string): number | null {
  if (!/^[0-9]+$/.test(s)) return null;
  const n = Number(s);
  if (n > MAX_ID) throw new UserLookupError(`uids and gids must be in range 0-${MAX_ID}`);
  return n;
}

/**
 * Resolves `--user` against a root's passwd and group entries, with docker's rules:
 * - "" (or ":GROUP") is root, looked up as uid 0 for its gid, home and groups;
 * - a numeric uid is always a uid; without a passwd entry it runs with gid 0 and no groups;
 * - an unknown name fails with `unable to find user NAME: no matching entries in passwd file`;
 * - an explicit group (name or gid) replaces the primary gid, and then no member groups are
 *   added; an unknown group name fails with `unable to find group NAME: no matching entries in
 *   group file`; an unknown numeric gid is used as it is;
 * - otherwise the groups are the primary gid and every group that lists the user's name.
 */
export function resolveUser(spec: string, passwd: readonly PasswdEntry[], groups: readonly GroupEntry[]): ResolvedUser {
  const s = spec.trim();
  const colon = s.indexOf(':');
  const userArg = colon >= 0 ? s.slice(0, colon) : s;
  const groupArg = colon >= 0 ? s.slice(colon + 1) : '';
  const uidArg = numericId(userArg);
  const gidArg = numericId(groupArg);

  const entry = passwd.find((u) =>
    userArg === '' ? u.uid === 0 : uidArg !== null ? u.uid === uidArg : u.name === userArg,
  );
  if (!entry && userArg !== '' && uidArg === null) {
    throw new UserLookupError(`unable to find user ${userArg}: no matching entries in passwd file`);
  }
  const uid = entry?.uid ?? uidArg ?? 0;
  let gid = entry?.gid ?? 0;
  const member: number[] = [];
  if (groupArg !== '') {
    const g = groups.find((e) => (gidArg !== null ? e.gid === gidArg : e.name === groupArg));
    if (g) gid = g.gid;
    else if (gidArg !== null) gid = gidArg;
    else throw new UserLookupError(`unable to find group ${groupArg}: no matching entries in group file`);
  } else if (entry) {
    for (const g of groups) if (g.members.includes(entry.name)) member.push(g.gid);
  }
  return { uid, gid, groups: [...new Set([gid, ...member])], name: entry?.name, home: entry?.home ?? '/' };
}

/**
 * docker's --group-add: group names (looked up in the group entries) or numeric gids (used as they
 * are), without duplicates. An unknown name fails with `Unable to find group NAME: no matching
 * entries in group file` (docker's capital U).
 */
export function resolveGroupAdd(groupAdd: readonly string[], groups: readonly GroupEntry[]): number[] {
  const out: number[] = [];
  for (const ag of groupAdd) {
    const want = ag.trim();
    const n = numericId(want);
    const g = groups.find((e) => e.name === want || (n !== null && e.gid === n));
    let gid: number;
    if (g) gid = g.gid;
    else if (n !== null) gid = n;
    else throw new UserLookupError(`Unable to find group ${want}: no matching entries in group file`);
    if (!out.includes(gid)) out.push(gid);
  }
  return out;
}
