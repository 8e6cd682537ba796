// Linux capabilities: the full list (bit order), Docker's default set, and docker's
// --cap-add/--cap-drop arithmetic. Pure: no I/O.
//
// Names are normalised to the "CAP_XXX" upper-case form used in the OCI spec.
// Unknown names throw an Error with docker's wording: `unknown capability: "CAP_FOO"`.

/** Every capability the kernel knows up to CAP_CHECKPOINT_RESTORE (bit 40), in bit order. */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', // 0
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL', // 5
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE', // 10
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER', // 15
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', // 20
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME', // 25
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL', // 30
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM', // 35
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE', // 40
];

/** Docker's default capability set (moby oci/caps DefaultCapabilities), in docker's order. */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

const KNOWN = new Set(ALL_CAPABILITIES);

/**
 * Normalise "net_admin", "CAP_NET_ADMIN", "cap_net_admin" to "CAP_NET_ADMIN".
 * "ALL" (any case, with or without CAP_) becomes "ALL". Throws on unknown names.
 */
export function normalizeCap(name: string): string {
  const up = name.trim().toUpperCase();
  if (up === 'ALL' || up === 'CAP_ALL') return 'ALL';
  const full = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (!KNOWN.has(full)) throw new Error(`unknown capability: "${full}"`);
  return full;
}

/**
 * Docker's TweakCapabilities: start from `base` (default set), apply drops and adds.
 * - "ALL" in capAdd: every capability (then drops still apply, except that "ALL" in both
 *   means docker's rule: adds win over the ALL drop).
 * - "ALL" in capDrop: start from nothing, then add.
 * - Otherwise: base minus drops, plus adds. Adding a capability that is also dropped keeps it
 *   (docker: adds are applied after drops).
 * Result is in bit order (stable, easy to compare), without duplicates.
 */
export function tweakCapabilities(
  base: readonly string[],
  capAdd: readonly string[],
  capDrop: readonly string[],
): string[] {
  const adds = capAdd.map(normalizeCap);
  const drops = capDrop.map(normalizeCap);
  let set: Set<string>;
  if (adds.includes('ALL')) {
    set = new Set(ALL_CAPABILITIES);
    // docker: with --cap-add ALL, individual drops still remove capabilities
    for (const d of drops) if (d !== 'ALL') set.delete(d);
    return sortCaps(set);
  }
  if (drops.includes('ALL')) {
    set = new Set<string>();
  } else {
    set = new Set(base.map(normalizeCap));
    for (const d of drops) set.delete(d);
  }
  for (const a of adds) set.add(a);
  return sortCaps(set);
}

/** Capabilities in bit order. */
export function sortCaps(caps: Iterable<string>): string[] {
  const s = new Set(caps);
  return ALL_CAPABILITIES.filter((c) => s.has(c));
}

/**
 * Decode a /proc/<pid>/status capability mask ("000001fffeffffff") into names.
 * Bits beyond the known list are ignored.
 */
export function capsFromMask(hex: string): string[] {
  const mask = BigInt('0x' + hex.trim());
  return ALL_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}
