// Docker's seccomp profile format (`docker run --security-opt seccomp=profile.json`: the CLI sends
// the file's content) turned into the OCI spec's linux.seccomp for an x86-64 host, the way moby's
// profiles/seccomp does: architectures from archMap (or architectures), rules kept only when their
// includes/excludes (caps, arches) match the container, name or names. Pure: no I/O.
// Throws InvalidArgument for what docker refuses (bad JSON, unknown action or operator, both
// architectures and archMap, a rule with neither name nor names).
import { InvalidArgument } from '../core/errors.js';
import type { LinuxSeccomp, LinuxSyscall, SeccompAction, SeccompOperator } from './seccomp.js';

interface Filter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}
interface DockerSyscall {
  name?: string;
  names?: string[];
  action: string;
  errnoRet?: number;
  args?: Array<{ index: number; value: number; valueTwo?: number; op: string }> | null;
  includes?: Filter;
  excludes?: Filter;
  comment?: string;
}
interface DockerProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: Array<{ architecture: string; subArchitectures?: string[] }>;
  flags?: string[];
  syscalls?: DockerSyscall[] | null;
  listenerPath?: string;
}

const ACTIONS: readonly string[] = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
];
const OPS: readonly string[] = [
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
];
/** The host's native architecture as moby names it for includes/excludes.arches. */
const HOST_ARCHES = ['amd64', 'x86_64'];
const HOST_SECCOMP_ARCH = 'SCMP_ARCH_X86_64';

const capName = (c: string) => {
  const u = c.trim().toUpperCase();
  return u.startsWith('CAP_') ? u : `CAP_${u}`;
};

function action(a: string, where: string): SeccompAction {
  if (!ACTIONS.includes(a))
    throw new InvalidArgument(`seccomp profile: unknown action ${JSON.stringify(a)} in ${where}`);
  return a as SeccompAction;
}

/**
 * `json`: the profile text. `caps`: the container's capability set (for includes/excludes.caps).
 */
export function dockerSeccompProfile(json: string, caps: readonly string[]): LinuxSeccomp {
  let p: DockerProfile;
  try {
    p = JSON.parse(json) as DockerProfile;
  } catch (e) {
    throw new InvalidArgument(`Decoding seccomp profile failed: ${(e as Error).message}`);
  }
  if (!p || typeof p !== 'object' || Array.isArray(p))
    throw new InvalidArgument('Decoding seccomp profile failed: a JSON object is expected');
  if (p.architectures?.length && p.archMap?.length)
    throw new InvalidArgument(
      "'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'",
    );
  if (p.listenerPath)
    throw new InvalidArgument('seccomp profile: listenerPath (seccomp notify) is not supported by cocon');
  const have = new Set(caps.map(capName));
  const out: LinuxSeccomp = { defaultAction: action(p.defaultAction, 'defaultAction') };
  if (p.defaultErrnoRet !== undefined) out.defaultErrnoRet = p.defaultErrnoRet;
  let arches: string[] = [];
  if (p.archMap?.length) {
    const mine = p.archMap.find((a) => a.architecture === HOST_SECCOMP_ARCH);
    if (mine) arches = [mine.architecture, ...(mine.subArchitectures ?? [])];
  } else arches = [...(p.architectures ?? [])];
  if (arches.length) out.architectures = arches;
  if (p.flags?.length) out.flags = [...p.flags];
  const matches = (f: Filter | undefined, all: boolean): boolean => {
    if (!f) return all;
    const checks: boolean[] = [];
    if (f.caps?.length)
      checks.push(all ? f.caps.every((c) => have.has(capName(c))) : f.caps.some((c) => have.has(capName(c))));
    if (f.arches?.length) checks.push(f.arches.some((a) => HOST_ARCHES.includes(a)));
    if (!checks.length) return all;
    return all ? checks.every(Boolean) : checks.some(Boolean);
  };
  const syscalls: LinuxSyscall[] = [];
  for (const [i, s] of (p.syscalls ?? []).entries()) {
    const where = `syscalls[${i}]`;
    const names = s.names?.length ? s.names : s.name ? [s.name] : [];
    if (!names.length) throw new InvalidArgument(`seccomp profile: ${where} has neither name nor names`);
    if (s.name && s.names?.length) throw new InvalidArgument(`seccomp profile: ${where} uses both 'name' and 'names'`);
    if (!matches(s.includes, true)) continue; // every include must hold
    if (s.excludes && matches(s.excludes, false)) continue; // any exclude drops it
    const rule: LinuxSyscall = { names: [...names], action: action(s.action, where) };
    if (s.errnoRet !== undefined) rule.errnoRet = s.errnoRet;
    if (s.args?.length) {
      rule.args = s.args.map((a, j) => {
        if (!OPS.includes(a.op))
          throw new InvalidArgument(`seccomp profile: unknown operator ${JSON.stringify(a.op)} in ${where}.args[${j}]`);
        return {
          index: a.index,
          value: a.value,
          ...(a.valueTwo !== undefined ? { valueTwo: a.valueTwo } : {}),
          op: a.op as SeccompOperator,
        };
      });
    }
    syscalls.push(rule);
  }
  if (syscalls.length) out.syscalls = syscalls;
  return out;
}
