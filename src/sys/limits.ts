// What the daemon process itself may hand to containers: its rlimits and its capability bounding
// set. runc cannot raise a limit above the caller's hard limit (no CAP_SYS_RESOURCE on this host)
// nor grant a capability the caller lacks, so the OCI spec is clamped to these.
import { readFileSync } from 'node:fs';
import { capsFromMask } from './caps.js';

let nofile: number | null = null;
let caps: string[] | null = null;

/** The hard RLIMIT_NOFILE of this process (from /proc/self/limits). */
export function hardNofile(): number {
  if (nofile === null) {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const hard = line?.trim().split(/\s+/)[4];
    nofile = !hard || hard === 'unlimited' ? 1048576 : Number(hard);
  }
  return nofile;
}

/** The capability bounding set of this process, as CAP_* names. */
export function capsOfDaemon(): string[] {
  if (caps === null) {
    const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapBnd:'));
    caps = capsFromMask(line?.split(/\s+/)[1] ?? '0');
  }
  return caps;
}
