// The run/create flags for block I/O and CFS limits (--blkio-weight, --blkio-weight-device,
// --device-{read,write}-{bps,iops}, --cpu-period, --cpu-quota) and their HostConfig fields, with
// docker's value formats (PATH:RATE, rates in bytes with k/m/g units, iops as integers). Pure.
import type { FlagDef, Opts } from './flags.js';
import { ramInBytes } from './humanize.js';

export const RESOURCE_FLAGS: FlagDef[] = [
  {
    long: 'blkio-weight',
    type: 'int',
    desc: 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)',
  },
  { long: 'blkio-weight-device', type: 'list', desc: 'Block IO weight (relative device weight)' },
  { long: 'cpu-period', type: 'int', desc: 'Limit CPU CFS (Completely Fair Scheduler) period' },
  { long: 'cpu-quota', type: 'int', desc: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
  { long: 'device-read-bps', type: 'list', desc: 'Limit read rate (bytes per second) from a device' },
  { long: 'device-read-iops', type: 'list', desc: 'Limit read rate (IO per second) from a device' },
  { long: 'device-write-bps', type: 'list', desc: 'Limit write rate (bytes per second) to a device' },
  { long: 'device-write-iops', type: 'list', desc: 'Limit write rate (IO per second) to a device' },
];

export class ResourceFlagError extends Error {
  constructor(
    public flag: string,
    public value: string,
    msg: string,
  ) {
    super(msg);
  }
}

/** "/dev/sda:1mb" (bps) or "/dev/sda:100" (iops) -> docker's ThrottleDevice. */
export function parseThrottle(flag: string, v: string, iops: boolean): { Path: string; Rate: number } {
  const i = v.lastIndexOf(':');
  if (i <= 0) throw new ResourceFlagError(flag, v, `bad format: ${v}`);
  const path = v.slice(0, i);
  const rate = v.slice(i + 1);
  if (!path.startsWith('/dev/')) throw new ResourceFlagError(flag, v, `bad format for device path: ${v}`);
  let n: number;
  if (iops) n = /^\d+$/.test(rate) ? Number(rate) : NaN;
  else {
    try {
      n = ramInBytes(rate);
    } catch {
      n = NaN;
    }
  }
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new ResourceFlagError(
      flag,
      v,
      iops
        ? `invalid rate for device: ${v}. The correct format is <device-path>:<number>. Number must be a positive integer`
        : `invalid rate for device: ${v}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb`,
    );
  }
  return { Path: path, Rate: n };
}

/** "/dev/sda:200" -> docker's WeightDevice. */
export function parseWeightDevice(v: string): { Path: string; Weight: number } {
  const i = v.lastIndexOf(':');
  if (i <= 0 || !v.startsWith('/dev/')) throw new ResourceFlagError('--blkio-weight-device', v, `bad format: ${v}`);
  const w = v.slice(i + 1);
  if (!/^\d+$/.test(w) || Number(w) < 10 || Number(w) > 1000)
    throw new ResourceFlagError('--blkio-weight-device', v, `invalid weight for device: ${v}`);
  return { Path: v.slice(0, i), Weight: Number(w) };
}

/** The HostConfig fields of these flags. */
export function resourceFields(o: Opts): Record<string, unknown> {
  return {
    BlkioWeight: o.num('blkio-weight') ?? 0,
    BlkioWeightDevice: o.list('blkio-weight-device').map(parseWeightDevice),
    BlkioDeviceReadBps: o.list('device-read-bps').map((v) => parseThrottle('--device-read-bps', v, false)),
    BlkioDeviceWriteBps: o.list('device-write-bps').map((v) => parseThrottle('--device-write-bps', v, false)),
    BlkioDeviceReadIOps: o.list('device-read-iops').map((v) => parseThrottle('--device-read-iops', v, true)),
    BlkioDeviceWriteIOps: o.list('device-write-iops').map((v) => parseThrottle('--device-write-iops', v, true)),
    CpuPeriod: o.num('cpu-period') ?? 0,
    CpuQuota: o.num('cpu-quota') ?? 0,
  };
}
