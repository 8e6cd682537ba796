// Linux capabilities: the full list (bit order), Docker's default set, and docker's
// --cap-add/--cap-drop arithmetic. Pure: no I/O.
//
// Names are normalised to the "CAP_XXX" upper-case form used in the OCI spec.
// Unknown names throw InvalidArgument with docker's wording: `unknown capability: "CAP_FOO"`.
// The kernel's list itself (and the /proc mask decoder) is in src/sys/caps.ts, re-exported here.
import { InvalidArgument } from '../core/errors.js';
import { ALL_CAPABILITIES } from '../sys/caps.js';
export { ALL_CAPABILITIES, capsFromMask } from '../sys/caps.js';

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
  if (!KNOWN.has(full)) throw new InvalidArgument(`unknown capability: "${full}"`);
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
