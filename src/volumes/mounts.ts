// Pure rules for container mounts, as docker reads them: `-v/--volume` strings (HostConfig.Binds),
// `--mount` objects (HostConfig.Mounts), `--tmpfs` (HostConfig.Tmpfs), image VOLUMEs, and
// `--volumes-from`. Produces the list of mount points a container gets, with docker's errors.
// No I/O: the caller creates volumes and host directories.
import { posix } from 'node:path';
import { InvalidArgument } from '../core/errors.js';

export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  Name?: string; // volume name (volume)
  Source: string; // host path (bind); '' for volumes until resolved
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** Copy the image's content at Destination into an empty volume on first use (volumes). */
  copy?: boolean;
  /** A volume created for this container only (docker's anonymous volumes). */
  anonymous?: boolean;
  /** `-v /host:/ctr`: create the host directory when missing (`--mount` refuses instead). */
  createHostPath?: boolean;
  /** tmpfs mount options (size=, mode=...). */
  tmpfsOptions?: string[];
  /** --mount type=volume: labels and driver options for a volume created on the fly. */
  volumeLabels?: Record<string, string>;
  volumeOptions?: Record<string, string>;
}

export const VOLUME_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function volumeNameError(name: string): InvalidArgument {
  return new InvalidArgument(
    `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
  );
}

export function validateVolumeName(name: string): void {
  if (!VOLUME_NAME_RE.test(name)) throw volumeNameError(name);
}

const FORBIDDEN = ['/proc', '/sys'];

function checkDestination(dst: string, spec: string): string {
  if (!dst)
    throw new InvalidArgument(
      `invalid volume specification: '${spec}': invalid mount config for type "volume": field Target must not be empty`,
    );
  if (!dst.startsWith('/'))
    throw new InvalidArgument(
      `invalid volume specification: '${spec}': invalid mount path: '${dst}' mount path must be absolute`,
    );
  if (dst.split('/').includes('..'))
    throw new InvalidArgument(
      `invalid volume specification: '${spec}': invalid mount path: '${dst}' must not contain '..'`,
    );
  const clean = posix.normalize(dst).replace(/\/+$/, '') || '/';
  if (clean === '/')
    throw new InvalidArgument(
      `invalid volume specification: '${spec}': invalid mount config: destination can't be '/'`,
    );
  for (const f of FORBIDDEN)
    if (clean === f || clean.startsWith(f + '/'))
      throw new InvalidArgument(`invalid volume specification: '${spec}': mounting over ${f} is not allowed`);
  return clean;
}

function checkHostPath(src: string, spec: string): string {
  if (src.split('/').includes('..'))
    throw new InvalidArgument(
      `invalid volume specification: '${spec}': invalid mount path: '${src}' must not contain '..'`,
    );
  return posix.normalize(src).replace(/(.)\/+$/, '$1');
}

const MODES = new Set([
  'ro',
  'rw',
  'z',
  'Z',
  'nocopy',
  'shared',
  'rshared',
  'slave',
  'rslave',
  'private',
  'rprivate',
  'consistent',
  'cached',
  'delegated',
]);

/** One `-v` string: `/host:/ctr[:opts]`, `name:/ctr[:opts]`, or `/ctr` (anonymous volume). */
export function parseBind(spec: string): MountPoint {
  const parts = spec.split(':');
  if (parts.length > 3 || parts.some((p) => p === ''))
    throw new InvalidArgument(`invalid volume specification: '${spec}'`);
  if (parts.length === 1) {
    return {
      Type: 'volume',
      Name: '',
      Source: '',
      Destination: checkDestination(parts[0], spec),
      Driver: 'local',
      Mode: '',
      RW: true,
      Propagation: '',
      copy: true,
      anonymous: true,
    };
  }
  const [src, dst, opts = ''] = parts;
  const modes = opts ? opts.split(',') : [];
  for (const m of modes) if (!MODES.has(m)) throw new InvalidArgument(`invalid mode: ${m}`);
  const rw = !modes.includes('ro');
  const destination = checkDestination(dst, spec);
  if (src.startsWith('/')) {
    const prop = modes.find((m) => /^r?(shared|slave|private)$/.test(m)) ?? 'rprivate';
    return {
      Type: 'bind',
      Source: checkHostPath(src, spec),
      Destination: destination,
      Mode: opts,
      RW: rw,
      Propagation: prop,
      createHostPath: true,
    };
  }
  if (src.startsWith('.') || src.includes('/')) throw volumeNameError(src);
  validateVolumeName(src);
  return {
    Type: 'volume',
    Name: src,
    Source: '',
    Destination: destination,
    Driver: 'local',
    Mode: opts || 'z',
    RW: rw,
    Propagation: '',
    copy: !modes.includes('nocopy'),
  };
}

/** HostConfig.Mounts entry (`--mount`). */
export interface MountRequest {
  Type?: string;
  Source?: string;
  Target?: string;
  Destination?: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: string; CreateMountpoint?: boolean } | null;
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Record<string, string>;
    DriverConfig?: { Name?: string; Options?: Record<string, string> };
  } | null;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number } | null;
}

export function parseMount(m: MountRequest): MountPoint {
  const type = m.Type ?? '';
  const target = m.Target ?? m.Destination ?? '';
  const spec = JSON.stringify(m);
  const dst = checkDestination(target, `type=${type},target=${target}`);
  switch (type) {
    case 'bind': {
      if (!m.Source) throw new InvalidArgument(`invalid mount config for type "bind": field Source must not be empty`);
      if (!m.Source.startsWith('/'))
        throw new InvalidArgument(
          `invalid mount config for type "bind": invalid mount path: '${m.Source}' mount path must be absolute`,
        );
      return {
        Type: 'bind',
        Source: checkHostPath(m.Source, spec),
        Destination: dst,
        Mode: '',
        RW: !m.ReadOnly,
        Propagation: m.BindOptions?.Propagation || 'rprivate',
        createHostPath: false,
      };
    }
    case 'volume': {
      if (m.Source) validateVolumeName(m.Source);
      const mp: MountPoint = {
        Type: 'volume',
        Name: m.Source ?? '',
        Source: '',
        Destination: dst,
        Driver: m.VolumeOptions?.DriverConfig?.Name || 'local',
        Mode: '',
        RW: !m.ReadOnly,
        Propagation: '',
        copy: !m.VolumeOptions?.NoCopy,
        anonymous: !m.Source,
      };
      if (m.VolumeOptions?.Labels && Object.keys(m.VolumeOptions.Labels).length)
        mp.volumeLabels = m.VolumeOptions.Labels;
      if (m.VolumeOptions?.DriverConfig?.Options && Object.keys(m.VolumeOptions.DriverConfig.Options).length)
        mp.volumeOptions = m.VolumeOptions.DriverConfig.Options;
      return mp;
    }
    case 'tmpfs': {
      if (m.Source) throw new InvalidArgument(`invalid mount config for type "tmpfs": source must not be specified`);
      const opts: string[] = [];
      if (m.TmpfsOptions?.SizeBytes) opts.push(`size=${m.TmpfsOptions.SizeBytes}`);
      if (m.TmpfsOptions?.Mode) opts.push(`mode=${m.TmpfsOptions.Mode.toString(8)}`);
      return {
        Type: 'tmpfs',
        Source: '',
        Destination: dst,
        Mode: '',
        RW: !m.ReadOnly,
        Propagation: '',
        tmpfsOptions: opts,
      };
    }
    default:
      throw new InvalidArgument(`invalid mount config: mount type unknown: "${type}"`);
  }
}

/** HostConfig.Tmpfs: {"/run": "rw,size=64m"}. */
export function parseTmpfs(dst: string, opts: string): MountPoint {
  const list = opts ? opts.split(',').filter(Boolean) : [];
  return {
    Type: 'tmpfs',
    Source: '',
    Destination: checkDestination(dst, `${dst}:${opts}`),
    Mode: opts,
    RW: !list.includes('ro'),
    Propagation: '',
    tmpfsOptions: list.filter((o) => o !== 'ro' && o !== 'rw'),
  };
}

/** `--volumes-from ctr[:ro|rw]`: the other container's mounts at the same paths. */
export function fromContainer(spec: string, mounts: MountPoint[]): MountPoint[] {
  const [, mode] = spec.split(':');
  if (mode && mode !== 'ro' && mode !== 'rw') throw new InvalidArgument(`invalid mode: ${mode}`);
  return mounts
    .filter((m) => m.Type !== 'tmpfs')
    .map((m) => ({
      ...m,
      RW: mode === 'ro' ? false : mode === 'rw' ? true : m.RW,
      copy: false,
      anonymous: false,
      createHostPath: false,
    }));
}

export interface MountInputs {
  binds?: string[] | null;
  mounts?: MountRequest[] | null;
  tmpfs?: Record<string, string> | null;
  imageVolumes?: Record<string, unknown> | null;
  volumesFrom?: MountPoint[];
}

/**
 * Every mount of a new container, in docker's precedence: explicit -v/--mount/--tmpfs first
 * (a destination used twice is an error), then --volumes-from, then the image's VOLUMEs as
 * anonymous volumes where nothing else is mounted.
 */
export function containerMounts(inp: MountInputs): MountPoint[] {
  const out: MountPoint[] = [];
  const taken = new Set<string>();
  const add = (m: MountPoint, explicit: boolean) => {
    if (taken.has(m.Destination)) {
      if (explicit) throw new InvalidArgument(`Duplicate mount point: ${m.Destination}`);
      return;
    }
    taken.add(m.Destination);
    out.push(m);
  };
  for (const b of inp.binds ?? []) add(parseBind(b), true);
  for (const m of inp.mounts ?? []) add(parseMount(m), true);
  for (const [dst, opts] of Object.entries(inp.tmpfs ?? {})) add(parseTmpfs(dst, opts), true);
  for (const m of inp.volumesFrom ?? []) add(m, false);
  for (const dst of Object.keys(inp.imageVolumes ?? {})) {
    const d = posix.normalize(dst).replace(/(.)\/+$/, '$1');
    add(
      {
        Type: 'volume',
        Name: '',
        Source: '',
        Destination: d,
        Driver: 'local',
        Mode: '',
        RW: true,
        Propagation: '',
        copy: true,
        anonymous: true,
      },
      false,
    );
  }
  return out;
}
