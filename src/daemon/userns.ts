// `cocon daemon --userns-remap` at start-up, dockerd's way: resolves the remap user and group (the
// `default` user dockremap is created with its subordinate ranges when missing), reads its ranges
// from /etc/subuid and /etc/subgid (a user or group without one stops the daemon with dockerd's
// message), and moves the daemon's state to <data-root>/<uid>.<gid>, a root of its own owned so that
// the remapped root may pass: <data-root> and <uid>.<gid> are 0710 root:<remapped gid>, as dockerd
// makes them (runc mounts a container's rootfs as the remapped root, which must traverse its path).
import { statSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DaemonConfig } from '../core/config.js';
import {
  hostRoot,
  mapFor,
  nextFreeRange,
  parseRemapSpec,
  parseSubIds,
  remappedRootName,
  SUBID_RANGE_SIZE,
  type IdentityMapping,
} from '../core/idmap.js';
import { parseGroup, parsePasswd } from '../core/users.js';
import { addSubIdRanges, addSystemAccount, readHostFile } from '../sys/accounts.js';
import { log } from '../core/log.js';
import { shareWithRemappedRoot } from '../sys/perms.js';

export interface RemapIdentity {
  user: string;
  uid: number;
  group: string;
  map: IdentityMapping;
}

/** Resolves `--userns-remap VALUE` into the account and its id maps (creating dockremap for `default`). */
export async function resolveRemap(value: string): Promise<RemapIdentity> {
  const spec = parseRemapSpec(value);
  const users = () => parsePasswd(readHostFile('/etc/passwd'));
  const groups = () => parseGroup(readHostFile('/etc/group'));
  if (spec.isDefault && !users().some((u) => u.name === spec.user)) {
    log.info('creating the userns-remap user', { user: spec.user });
    await addSystemAccount(spec.user);
  }
  const numeric = (s: string) => /^\d+$/.test(s);
  const u = numeric(spec.user)
    ? users().find((x) => x.uid === Number(spec.user))
    : users().find((x) => x.name === spec.user);
  if (!u)
    throw new Error(
      numeric(spec.user)
        ? `Uid ${spec.user} has no entry in /etc/passwd`
        : `Error during uid lookup for ${spec.user}: user ${spec.user} does not exist`,
    );
  // no group given: the group of the user's name, looked up in /etc/subgid by that name (dockerd's rule;
  // it need not exist in /etc/group)
  const groupSpec = spec.group ?? u.name;
  const found = numeric(groupSpec)
    ? groups().find((x) => x.gid === Number(groupSpec))
    : groups().find((x) => x.name === groupSpec);
  if (!found && spec.group)
    throw new Error(
      numeric(groupSpec)
        ? `Gid ${groupSpec} has no entry in /etc/group`
        : `Error during gid lookup for ${groupSpec}: group ${groupSpec} does not exist`,
    );
  const g = found ?? { name: groupSpec, gid: undefined };
  let subuid = parseSubIds(readHostFile('/etc/subuid'), '/etc/subuid');
  let subgid = parseSubIds(readHostFile('/etc/subgid'), '/etc/subgid');
  if (spec.isDefault && !mapFor(subuid, u.name, u.uid).length && !mapFor(subgid, g.name, g.gid).length) {
    // one start free in both files, as dockerd's createSubordinateRanges picks per file but shadow keeps them equal
    const start = Math.max(nextFreeRange(subuid), nextFreeRange(subgid));
    log.info('adding subordinate id ranges', { user: u.name, start, count: SUBID_RANGE_SIZE });
    await addSubIdRanges(u.name, start, SUBID_RANGE_SIZE);
    subuid = parseSubIds(readHostFile('/etc/subuid'), '/etc/subuid');
    subgid = parseSubIds(readHostFile('/etc/subgid'), '/etc/subgid');
  }
  const uids = mapFor(subuid, u.name, u.uid);
  if (!uids.length) throw new Error(`no subuid ranges found for user "${u.name}" in /etc/subuid`);
  const gids = mapFor(subgid, g.name, g.gid);
  if (!gids.length) throw new Error(`no subgid ranges found for group "${g.name}" in /etc/subgid`);
  return { user: u.name, uid: u.uid, group: g.name, map: { uids, gids } };
}

/** dockerd's setupDaemonRoot for a remapped daemon: <base> and <base>/<uid>.<gid>, 0710 root:<gid>. Returns the latter. */
export function remappedDataRoot(base: string, map: IdentityMapping): string {
  const { uid, gid } = hostRoot(map);
  const root = join(base, remappedRootName(map));
  // dockerd's check: every directory above the data root must let the remapped root pass (x)
  for (let d = dirname(base); d !== '/'; d = dirname(d)) {
    let st: Stats;
    try {
      st = statSync(d);
    } catch {
      continue; // made below with 0710 root:<gid>
    }
    const x = st.mode & 0o001 || (st.gid === gid && st.mode & 0o010) || (st.uid === uid && st.mode & 0o100);
    if (!x)
      throw new Error(
        `a subdirectory in your graphroot path (${root}) restricts access to the remapped root uid/gid; please fix by allowing 'o+x' permissions on existing directories (${d})`,
      );
  }
  shareWithRemappedRoot(base, gid);
  return shareWithRemappedRoot(root, gid);
}

/** Resolves the remap and points the configuration at the remapped root (config.dataRoot, idMap). */
export async function applyRemap(config: DaemonConfig): Promise<RemapIdentity | undefined> {
  if (!config.usernsRemap) return undefined;
  const id = await resolveRemap(config.usernsRemap);
  config.baseDataRoot = config.dataRoot;
  config.dataRoot = remappedDataRoot(config.dataRoot, id.map);
  config.idMap = id.map;
  config.remapUser = `${id.user}:${id.group}`;
  log.info('user namespaces remapped', {
    user: config.remapUser,
    root: hostRoot(id.map),
    uids: id.map.uids,
    gids: id.map.gids,
    dataRoot: config.dataRoot,
  });
  return id;
}
