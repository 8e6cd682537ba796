// What a container may do beyond the defaults, as spec inputs: no_new_privs, the seccomp profile
// (default, unconfined or the user's docker-format profile), --device nodes, --device-cgroup-rule,
// the pids limit; and the daemon defaults applied at create (stored, so inspect shows them).
// The parsing is pure (./security.ts); this module only looks up the host's device nodes.
import type { DaemonConfig } from '../core/config.js';
import { containerCaps, type SpecInput } from '../runtime/spec.js';
import { dockerSeccompProfile } from '../runtime/seccompprofile.js';
import { deviceNode } from '../sys/devices.js';
import {
  deviceFor,
  effectivePidsLimit,
  parseDeviceCgroupRule,
  parseSecurityOpts,
  validateUsernsMode,
  type DeviceMapping,
} from './security.js';
import type { HostConfig } from './types.js';

/** At create: refuses what cocon cannot honour and records the daemon's defaults in the HostConfig. */
export function applyPrivilegeDefaults(hc: HostConfig, config: DaemonConfig): void {
  validateUsernsMode(
    hc.UsernsMode as string | undefined,
    hc as { Privileged?: boolean; NetworkMode?: string; PidMode?: string },
    !!config.idMap,
  );
  parseSecurityOpts(hc.SecurityOpt, config.noNewPrivileges);
  if (config.noNewPrivileges && !(hc.SecurityOpt ?? []).some((o) => o.startsWith('no-new-privileges'))) {
    hc.SecurityOpt = [...(hc.SecurityOpt ?? []), 'no-new-privileges'];
  }
  const pids = effectivePidsLimit(hc.PidsLimit, config.defaultPidsLimit ?? 0);
  hc.PidsLimit = pids === 0 ? null : pids;
}

type PrivilegeInputs = Pick<
  SpecInput,
  'noNewPrivileges' | 'seccomp' | 'seccompProfile' | 'devices' | 'deviceRules' | 'pidsLimit'
>;

/** The spec inputs for a stored HostConfig (throws InvalidArgument for bad options). */
export function privilegeInputs(hc: HostConfig, availableCaps: string[]): PrivilegeInputs {
  const sec = parseSecurityOpts(hc.SecurityOpt);
  const out: PrivilegeInputs = {
    noNewPrivileges: sec.noNewPrivileges,
    seccomp: !hc.Privileged && sec.seccomp !== 'unconfined',
    pidsLimit: hc.PidsLimit && hc.PidsLimit > 0 ? hc.PidsLimit : undefined,
  };
  if (typeof sec.seccomp === 'object') {
    const caps = containerCaps({
      privileged: hc.Privileged,
      capAdd: hc.CapAdd ?? [],
      capDrop: hc.CapDrop ?? [],
      availableCaps,
    });
    out.seccompProfile = dockerSeccompProfile(sec.seccomp.profile, caps);
  }
  const rules = ((hc.DeviceCgroupRules as string[] | null | undefined) ?? []).map(parseDeviceCgroupRule);
  const devices = ((hc.Devices as DeviceMapping[] | null | undefined) ?? []).map((d) =>
    deviceFor(d, deviceNode(d.PathOnHost)),
  );
  if (devices.length) out.devices = devices.map((d) => d.device);
  if (devices.length || rules.length) out.deviceRules = [...devices.map((d) => d.rule), ...rules];
  return out;
}
