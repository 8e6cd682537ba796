// Container user and environment: docker's `-u/--user` and `--group-add` against the container's
// /etc/passwd and /etc/group (resolved by core/users.ts, the resolver chroots use too), and the
// environment docker gives a container (HOSTNAME, PATH default, TERM for ttys, image env
// overridden by user env). Pure: the caller reads the files (null when absent).
import { InvalidArgument } from '../core/errors.js';
import { parseGroup, parsePasswd, resolveGroupAdd, resolveUser, UserLookupError } from '../core/users.js';

/** A container process's user, as dockerd puts it into the OCI spec. */
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

/**
 * `-u SPEC` and `--group-add` against the container's /etc/passwd and /etc/group text (null when
 * absent), with core/users.ts's rules. An unknown user or group is InvalidArgument.
 */
export function containerUser(
  spec: string,
  passwd: string | null,
  group: string | null,
  groupAdd: readonly string[] = [],
): ResolvedUser {
  const groups = group === null ? [] : parseGroup(group);
  try {
    const u = resolveUser(spec, passwd === null ? [] : parsePasswd(passwd), groups);
    return {
      uid: u.uid,
      gid: u.gid,
      additionalGids: [...new Set([...u.groups, ...resolveGroupAdd(groupAdd, groups)])],
      home: u.home,
    };
  } catch (e) {
    throw e instanceof UserLookupError ? new InvalidArgument(e.message) : e;
  }
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
export function mergeEnv(
  imageEnv: readonly string[],
  userEnv: readonly string[],
  opts: { keepBare?: boolean } = {},
): string[] {
  const out: Array<string | null> = [];
  const index = new Map<string, number>();
  const put = (kv: string, user: boolean): void => {
    const k = envKey(kv);
    const at = index.get(k);
    if (!kv.includes('=') && !(opts.keepBare && user)) {
      if (at !== undefined && user) {
        out[at] = null;
        index.delete(k);
      }
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
