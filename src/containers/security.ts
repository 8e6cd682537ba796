// Least privilege (issue 14, the brief's third point): the HostConfig fields that give or take
// rights, read the way dockerd reads them and refused with its messages when they are bad:
// --security-opt (no-new-privileges, seccomp=unconfined|<profile JSON>; apparmor/label/... refused:
// this host has neither AppArmor nor SELinux), --device-cgroup-rule, --device, --userns, and the
// daemon defaults (--no-new-privileges, --default-pids-limit). Pure: no I/O; host device facts and
// the profile text come as arguments.
import { InvalidArgument } from '../core/errors.js';
import type { OciDevice, OciDeviceCgroup } from '../runtime/spec.js';

export interface SecurityChoice {
  noNewPrivileges: boolean;
  /** 'default': docker's default profile; 'unconfined': none; else the profile's JSON text. */
  seccomp: 'default' | 'unconfined' | { profile: string };
}

/** dockerd's parseSecurityOpt, with the daemon's --no-new-privileges as the default. */
export function parseSecurityOpts(
  opts: readonly string[] | null | undefined,
  daemonNoNewPrivileges = false,
): SecurityChoice {
  const out: SecurityChoice = { noNewPrivileges: daemonNoNewPrivileges, seccomp: 'default' };
  for (const opt of opts ?? []) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : '';
    if (!sep) throw new InvalidArgument(`invalid --security-opt 1: ${JSON.stringify(opt)}`);
    const k = opt.slice(0, opt.indexOf(sep));
    const v = opt.slice(opt.indexOf(sep) + 1);
    switch (k) {
      case 'no-new-privileges':
        if (!/^(1|t|T|TRUE|true|True|0|f|F|FALSE|false|False)$/.test(v))
          throw new InvalidArgument(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
        out.noNewPrivileges = /^(1|t|T|TRUE|true|True)$/.test(v);
        break;
      case 'seccomp':
        if (v === 'unconfined') out.seccomp = 'unconfined';
        else if (v === 'builtin' || v === 'default') out.seccomp = 'default';
        else if (v.trimStart().startsWith('{')) out.seccomp = { profile: v };
        else
          throw new InvalidArgument(
            `opening seccomp profile (${v}) failed: the daemon takes the profile's content; the docker CLI reads the file for you (--security-opt seccomp=./profile.json)`,
          );
        break;
      case 'apparmor':
        throw new InvalidArgument(
          `--security-opt ${opt}: AppArmor is not enabled on this host (cocon applies no AppArmor profile)`,
        );
      case 'label':
        throw new InvalidArgument(
          `--security-opt ${opt}: SELinux labels are not supported by cocon (SELinux is not enabled on this host)`,
        );
      case 'systempaths':
      case 'writable-cgroups':
        throw new InvalidArgument(`--security-opt ${opt} is not supported by cocon yet`);
      default:
        throw new InvalidArgument(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
    }
  }
  return out;
}

/** docker's --device-cgroup-rule: "c 1:3 rwm", "b 8:* r", "a *:* m". */
export function parseDeviceCgroupRule(rule: string): OciDeviceCgroup {
  const m = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.exec(rule.trim());
  if (!m || new Set(m[4]).size !== m[4].length) throw new InvalidArgument(`invalid device cgroup format '${rule}'`);
  const r: OciDeviceCgroup = { allow: true, type: m[1] as 'a' | 'b' | 'c' };
  if (m[2] !== '*') r.major = Number(m[2]);
  if (m[3] !== '*') r.minor = Number(m[3]);
  r.access = m[4];
  return r;
}

export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer?: string;
  CgroupPermissions?: string;
}

/**
 * docker's --device: the host node `hostNode` (found by the caller; null when PathOnHost is not a
 * device) created at PathInContainer with the cgroup permissions asked (default rwm).
 */
export function deviceFor(
  d: DeviceMapping,
  hostNode: Omit<OciDevice, 'path'> | null,
): { device: OciDevice; rule: OciDeviceCgroup } {
  if (!d.PathOnHost?.startsWith('/'))
    throw new InvalidArgument(`invalid device mapping: ${JSON.stringify(d.PathOnHost ?? '')} is not an absolute path`);
  if (!hostNode)
    throw new InvalidArgument(
      `error gathering device information while adding custom device "${d.PathOnHost}": not a device node`,
    );
  const perms = d.CgroupPermissions || 'rwm';
  if (!/^[rwm]{1,3}$/.test(perms) || new Set(perms).size !== perms.length)
    throw new InvalidArgument(`invalid device cgroup permissions '${perms}' for ${d.PathOnHost}`);
  const path = d.PathInContainer || d.PathOnHost;
  if (!path.startsWith('/') || path.split('/').includes('..'))
    throw new InvalidArgument(`invalid device path in container: ${path}`);
  const t = hostNode.type === 'b' ? 'b' : 'c';
  return {
    device: { ...hostNode, path },
    rule: { allow: true, type: t, major: hostNode.major, minor: hostNode.minor, access: perms },
  };
}

/**
 * --userns: "" (the daemon's choice: a remapped user namespace under --userns-remap, else the host's)
 * or "host"; dockerd refuses the rest. Under --userns-remap, dockerd's conflicts: a container that
 * is privileged or shares the host's network or PID namespace must opt out with --userns=host.
 */
export function validateUsernsMode(
  mode: string | null | undefined,
  hc: { Privileged?: boolean; NetworkMode?: string; PidMode?: string } = {},
  remapped = false,
): void {
  if (mode && mode !== 'host') throw new InvalidArgument(`invalid USERNS mode: ${mode} (only "host" is valid)`);
  if (!remapped || mode === 'host') return;
  if (hc.Privileged)
    throw new InvalidArgument(
      'privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode',
    );
  if (hc.NetworkMode === 'host')
    throw new InvalidArgument("cannot share the host's network namespace when user namespaces are enabled");
  if (hc.PidMode === 'host')
    throw new InvalidArgument('cannot share the host PID namespace when user namespaces are enabled');
}

/** Whether a container runs in the daemon's remapped user namespace (--userns-remap, not --userns=host). */
export function usesRemappedUserns(mode: string | null | undefined, remapped: boolean): boolean {
  return remapped && mode !== 'host';
}

/**
 * The pids limit a new container gets: its own when positive, none when negative (-1: unlimited,
 * podman's way to opt out), the daemon's default when unset or 0 (the docker CLI sends 0 when
 * --pids-limit is not given).
 */
export function effectivePidsLimit(asked: number | null | undefined, daemonDefault: number): number {
  if (typeof asked === 'number' && asked > 0) return asked;
  if (typeof asked === 'number' && asked < 0) return -1;
  return Math.max(daemonDefault, 0); // NaN cannot reach here: the daemon flag is checked as an integer
}

/** The one-line warning docker-style clients print for --privileged (create's Warnings). */
export function privilegedWarning(caps: readonly string[]): string {
  const shown = caps.map((c) => c.replace(/^CAP_/, ''));
  return `--privileged grants every capability (${shown.length}: ${shown.join(', ')}), every host device, and no seccomp, AppArmor or masked paths: grant only the capabilities it needs with --cap-add instead`;
}
