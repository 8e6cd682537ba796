// What the daemon process itself may hand to containers: its rlimits and its capability bounding
// set. runc cannot raise a limit above the caller's hard limit (no CAP_SYS_RESOURCE on this host)
// nor grant a capability the caller lacks, so the OCI spec is clamped to these. Also whether the
// kernel can limit swap (docker's SwapLimit), and how many OOM kills a container's cgroup saw.
import { existsSync, readFileSync } from 'node:fs';
import { capsFromMask } from './caps.js';

let nofile: number | null = null;
let caps: string[] | null = null;

/** The hard RLIMIT_NOFILE of this process (from /proc/self/limits). */
export function hardNofile(): number {
  if (nofile === null) {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const hard = line?.trim().split(/\s+/)[4];
    nofile = !hard || hard === 'unlimited' ? 1048576 : Number(hard);
  }
  return nofile;
}

/** The capability bounding set of this process, as CAP_* names. */
export function capsOfDaemon(): string[] {
  if (caps === null) {
    const line = readFileSync('/proc/self/status', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('CapBnd:'));
    caps = capsFromMask(line?.split(/\s+/)[1] ?? '0');
  }
  return caps;
}

let swap: boolean | null = null;
/** Whether the kernel accounts swap in the memory cgroup: v1 memory.memsw.*, or a v2 memory controller. */
export function swapAccounting(): boolean {
  if (swap === null) {
    swap =
      existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') ||
      (!existsSync('/sys/fs/cgroup/memory') &&
        existsSync('/sys/fs/cgroup/cgroup.controllers') &&
        readFileSync('/sys/fs/cgroup/cgroup.subtree_control', 'utf8').includes('memory'));
  }
  return swap;
}

/**
 * OOM kills in a container's memory cgroup (cgroupfs path like "/cocon/<id>"): v1
 * memory.oom_control's oom_kill, else v2 memory.events. 0 when the cgroup is gone or the kernel
 * does not count them. Read it before the runtime deletes the cgroup.
 */
export function oomKills(cgroupsPath: string): number {
  for (const [file, re] of [
    [`/sys/fs/cgroup/memory${cgroupsPath}/memory.oom_control`, /^oom_kill (\d+)$/m],
    [`/sys/fs/cgroup${cgroupsPath}/memory.events`, /^oom_kill (\d+)$/m],
  ] as const) {
    try {
      return Number(re.exec(readFileSync(file, 'utf8'))?.[1] ?? 0);
    } catch {
      /* not this hierarchy */
    }
  }
  return 0;
}
