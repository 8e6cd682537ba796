// User namespace remapping (`cocon daemon --userns-remap`, dockerd's semantics): the parsing of the
// flag's value and of /etc/subuid and /etc/subgid, the choice of a free subordinate range for
// `default` (dockremap), the id maps a remapped daemon gives its containers (OCI uidMappings and
// gidMappings), and the shifting of file owners between the container's ids and the host's (layer
// extraction, diff/commit, the container's files). Pure: the caller reads the files and the accounts.
//
// A container's id N maps to host id hostID + (N - containerID) of the map entry that holds it; ids
// outside every entry have no host id (the kernel shows them as the overflow id 65534 inside).

export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/** The maps of a remapped daemon: container root is uids[0]'s host id, gids[0]'s for its group. */
export interface IdentityMapping {
  uids: IdMapping[];
  gids: IdMapping[];
}

/** The user (and group) `--userns-remap default` makes and uses, as dockerd does. */
export const DEFAULT_REMAP_USER = 'dockremap';
/** Where dockerd (and shadow's useradd) start looking for a free subordinate range. */
export const SUBID_RANGE_START = 100000;
/** The size of the range dockerd gives dockremap: a whole 16-bit id space. */
export const SUBID_RANGE_SIZE = 65536;
/** The kernel's overflow id: what a container sees for a host id it has no mapping of. */
export const OVERFLOW_ID = 65534;

export class IdMapError extends Error {}

/** `--userns-remap VALUE`: the user and group it names (`default`: dockremap:dockremap). */
export interface RemapSpec {
  /** `default` asked for: create dockremap and its ranges when missing. */
  isDefault: boolean;
  /** a name, or a decimal uid */
  user: string;
  /** a name, or a decimal gid; absent: the group of the user's name (dockerd's rule) */
  group?: string;
}

/** Parses `default|USER[:GROUP]|UID[:GID]` (dockerd's parseRemappedRoot, before its account look-ups). */
export function parseRemapSpec(value: string): RemapSpec {
  const v = value.trim();
  if (v === 'default') return { isDefault: true, user: DEFAULT_REMAP_USER, group: DEFAULT_REMAP_USER };
  const parts = v.split(':');
  if (parts.length > 2 || parts.some((p) => p === ''))
    throw new IdMapError(`invalid --userns-remap value "${value}": expected default, USER[:GROUP] or UID[:GID]`);
  if (parts[0] === DEFAULT_REMAP_USER && parts.length === 1)
    return { isDefault: true, user: DEFAULT_REMAP_USER, group: DEFAULT_REMAP_USER };
  return { isDefault: false, user: parts[0], ...(parts[1] ? { group: parts[1] } : {}) };
}

/** One line of /etc/subuid or /etc/subgid: OWNER:START:COUNT (OWNER a name or a decimal id). */
export interface SubIdRange {
  owner: string;
  start: number;
  count: number;
}

/**
 * Parses /etc/subuid or /etc/subgid text. Blank lines and '#' comments are skipped; a malformed line
 * is an error naming it (as dockerd's parseSubidFile), since a silently skipped range could hand a
 * container ids that belong to someone else.
 */
export function parseSubIds(text: string, file = '/etc/subuid'): SubIdRange[] {
  const out: SubIdRange[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length !== 3 || !f[0] || !/^\d+$/.test(f[1]) || !/^\d+$/.test(f[2]))
      throw new IdMapError(`${file}:${i + 1}: malformed line ${JSON.stringify(raw)} (expected NAME:START:COUNT)`);
    const start = Number(f[1]);
    const count = Number(f[2]);
    if (count <= 0 || start + count > 2 ** 32 - 1)
      throw new IdMapError(`${file}:${i + 1}: range ${start}:${count} is empty or beyond 2^32-1`);
    out.push({ owner: f[0], start, count });
  }
  return out;
}

/**
 * The map of `owner` (matched by name or by its decimal id, as shadow does): its ranges in file
 * order, container ids counted on from 0 (dockerd's createIDMap). Empty when it has none.
 */
export function mapFor(ranges: readonly SubIdRange[], name: string, id?: number): IdMapping[] {
  const out: IdMapping[] = [];
  let next = 0;
  for (const r of ranges) {
    if (r.owner !== name && (id === undefined || r.owner !== String(id))) continue;
    out.push({ containerID: next, hostID: r.start, size: r.count });
    next += r.count;
  }
  return out;
}

/**
 * The first start at or above SUBID_RANGE_START where `size` ids overlap no existing range (what
 * dockerd's findNextRangeStart and shadow's find_new_sub_uids give for a new user).
 */
export function nextFreeRange(ranges: readonly SubIdRange[], size = SUBID_RANGE_SIZE): number {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  let start = SUBID_RANGE_START;
  for (const r of sorted) {
    const end = r.start + r.count;
    if (start < end && r.start < start + size) start = end;
  }
  if (start + size > 2 ** 32 - 1) throw new IdMapError('no free subordinate id range is left');
  return start;
}

/** The host id of container id `id`, or undefined when no entry maps it. */
export function toHost(id: number, maps: readonly IdMapping[]): number | undefined {
  for (const m of maps) if (id >= m.containerID && id < m.containerID + m.size) return m.hostID + (id - m.containerID);
  return undefined;
}

/** The container id of host id `id`, or undefined when no entry maps it. */
export function toContainer(id: number, maps: readonly IdMapping[]): number | undefined {
  for (const m of maps) if (id >= m.hostID && id < m.hostID + m.size) return m.containerID + (id - m.hostID);
  return undefined;
}

/** Host uid and gid of the container's root. */
export function hostRoot(m: IdentityMapping): { uid: number; gid: number } {
  const uid = toHost(0, m.uids);
  const gid = toHost(0, m.gids);
  if (uid === undefined || gid === undefined) throw new IdMapError('the id maps do not map container root (id 0)');
  return { uid, gid };
}

/**
 * A file owner of a layer (tar entry, container view) as the host stores it. Ids beyond the maps
 * are refused: dockerd's "Container ID N cannot be mapped to a host ID".
 */
export function ownerToHost(uid: number, gid: number, m: IdentityMapping): { uid: number; gid: number } {
  const u = toHost(uid, m.uids);
  if (u === undefined) throw new IdMapError(`Container ID ${uid} cannot be mapped to a host ID`);
  const g = toHost(gid, m.gids);
  if (g === undefined) throw new IdMapError(`Container ID ${gid} cannot be mapped to a host ID`);
  return { uid: u, gid: g };
}

/**
 * A host file owner as the container sees it (diff, commit, export): host ids outside the maps
 * become the overflow id 65534, which is what the container itself sees for them.
 */
export function ownerToContainer(uid: number, gid: number, m: IdentityMapping): { uid: number; gid: number } {
  return { uid: toContainer(uid, m.uids) ?? OVERFLOW_ID, gid: toContainer(gid, m.gids) ?? OVERFLOW_ID };
}

/** dockerd's layout: a remapped daemon keeps its state under <data-root>/<uid>.<gid>. */
export function remappedRootName(m: IdentityMapping): string {
  const r = hostRoot(m);
  return `${r.uid}.${r.gid}`;
}

/** The spec's mappings: copies, so that a spec never shares arrays with the daemon's config. */
export function ociMappings(m: IdentityMapping): { uidMappings: IdMapping[]; gidMappings: IdMapping[] } {
  return { uidMappings: m.uids.map((x) => ({ ...x })), gidMappings: m.gids.map((x) => ({ ...x })) };
}
