// The shape of JSON request bodies, checked in one place before any handler sees them: every
// JSON-body endpoint declares its body's field types here, and the router refuses a body that is
// not an object or whose known fields have the wrong type with 400 (docker answers "invalid JSON:
// json: cannot unmarshal ..." for the same input). Unknown fields pass through untouched, as in
// docker; null stands for "absent" as in Go. Also the limits on JSON bodies. Pure: no I/O.
import { InvalidArgument } from '../core/errors.js';

/** The largest JSON request body accepted (bytes); streaming uploads (load, import, archive PUT, build) are not bounded by it. */
export const MAX_JSON_BODY = 4 * 1024 * 1024;
/** The largest total size of a label set (keys + values, bytes): Kubernetes' limit for annotations. */
export const MAX_LABELS_SIZE = 256 * 1024;

/** Checks one value at `path` (e.g. "HostConfig.Memory"); throws InvalidArgument. */
export type Check = (v: unknown, path: string) => void;

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'object' ? 'object' : typeof v;
}

function refuse(v: unknown, path: string, want: string): never {
  const what = typeof v === 'number' ? `number ${String(v)}` : kind(v);
  throw new InvalidArgument(
    `invalid JSON: json: cannot unmarshal ${what} into Go struct field ${path} of type ${want}`,
  );
}

export const str: Check = (v, p) => {
  if (typeof v !== 'string') refuse(v, p, 'string');
};
export const bool: Check = (v, p) => {
  if (typeof v !== 'boolean') refuse(v, p, 'bool');
};
/** An integer that fits Go's int64 and survives JSON in JavaScript (|n| <= 2^53 - 1). */
export const int: Check = (v, p) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) refuse(v, p, 'int64');
};
/** Any JSON value (a field whose inner shape the engine checks itself). */
export const any: Check = () => undefined;

/** A field that may be null (Go's pointer/slice/map zero value). */
function nullable(c: Check): Check {
  return (v, p) => {
    if (v !== null && v !== undefined) c(v, p);
  };
}

export function arrayOf(item: Check): Check {
  return (v, p) => {
    if (!Array.isArray(v)) refuse(v, p, `[]${itemType(item)}`);
    v.forEach((x, i) => {
      item(x, `${p}[${i}]`);
    });
  };
}

export function mapOf(value: Check): Check {
  return (v, p) => {
    if (kind(v) !== 'object') refuse(v, p, `map[string]${itemType(value)}`);
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) value(x, `${p}.${k}`);
  };
}

/** An object with known fields (each may be null or absent); other fields are left alone. */
export function obj(fields: Record<string, Check>): Check {
  return (v, p) => {
    if (kind(v) !== 'object') refuse(v, p, 'struct');
    const o = v as Record<string, unknown>;
    for (const [k, c] of Object.entries(fields)) nullable(c)(o[k], p ? `${p}.${k}` : k);
  };
}

function itemType(c: Check): string {
  return c === str ? 'string' : c === int ? 'int64' : c === bool ? 'bool' : 'struct';
}

/** A label set: string values and at most MAX_LABELS_SIZE bytes in all. */
export const labels: Check = (v, p) => {
  mapOf(str)(v, p);
  let total = 0;
  for (const [k, x] of Object.entries(v as Record<string, string>))
    total += Buffer.byteLength(k) + Buffer.byteLength(x);
  if (total > MAX_LABELS_SIZE)
    throw new InvalidArgument(
      `${p}: labels are ${total} bytes in all, more than the limit of ${MAX_LABELS_SIZE} bytes`,
    );
};

const strs = arrayOf(str);
const strMap = mapOf(str);

const healthcheck = obj({
  Test: strs,
  Interval: int,
  Timeout: int,
  StartPeriod: int,
  StartInterval: int,
  Retries: int,
});

/** Docker's container Config (the create body's top level). */
const containerConfig: Record<string, Check> = {
  Hostname: str,
  Domainname: str,
  User: str,
  Image: str,
  WorkingDir: str,
  StopSignal: str,
  MacAddress: str,
  AttachStdin: bool,
  AttachStdout: bool,
  AttachStderr: bool,
  Tty: bool,
  OpenStdin: bool,
  StdinOnce: bool,
  NetworkDisabled: bool,
  ArgsEscaped: bool,
  Cmd: strs,
  Entrypoint: strs,
  Env: strs,
  Shell: strs,
  OnBuild: strs,
  Labels: labels,
  Volumes: mapOf(any),
  ExposedPorts: mapOf(any),
  StopTimeout: int,
  Healthcheck: healthcheck,
};

const throttle = arrayOf(obj({ Path: str, Rate: int }));
/** docker's Resources (HostConfig's resource fields; the body of update with RestartPolicy). */
const resources: Record<string, Check> = {
  CgroupParent: str,
  CpusetCpus: str,
  CpusetMems: str,
  OomKillDisable: bool,
  CpuShares: int,
  Memory: int,
  NanoCpus: int,
  BlkioWeight: int,
  CpuPeriod: int,
  CpuQuota: int,
  CpuRealtimePeriod: int,
  CpuRealtimeRuntime: int,
  CpuCount: int,
  CpuPercent: int,
  KernelMemory: int,
  KernelMemoryTCP: int,
  MemoryReservation: int,
  MemorySwap: int,
  MemorySwappiness: int,
  PidsLimit: int,
  IOMaximumIOps: int,
  IOMaximumBandwidth: int,
  BlkioWeightDevice: arrayOf(obj({ Path: str, Weight: int })),
  BlkioDeviceReadBps: throttle,
  BlkioDeviceWriteBps: throttle,
  BlkioDeviceReadIOps: throttle,
  BlkioDeviceWriteIOps: throttle,
  Ulimits: arrayOf(obj({ Name: str, Soft: int, Hard: int })),
  Devices: arrayOf(obj({ PathOnHost: str, PathInContainer: str, CgroupPermissions: str })),
  DeviceCgroupRules: strs,
};

// HostConfig: docker's Resources plus the rest
const hostConfig = obj({
  ...resources,
  Binds: strs,
  ContainerIDFile: str,
  NetworkMode: str,
  VolumeDriver: str,
  VolumesFrom: strs,
  PortBindings: mapOf(nullable(arrayOf(obj({ HostIp: str, HostPort: str })))),
  RestartPolicy: obj({ Name: str, MaximumRetryCount: int }),
  AutoRemove: bool,
  Privileged: bool,
  PublishAllPorts: bool,
  ReadonlyRootfs: bool,
  Init: bool,
  CapAdd: strs,
  CapDrop: strs,
  Dns: strs,
  DnsOptions: strs,
  DnsSearch: strs,
  ExtraHosts: strs,
  GroupAdd: strs,
  Links: strs,
  SecurityOpt: strs,
  MaskedPaths: strs,
  ReadonlyPaths: strs,
  CgroupnsMode: str,
  IpcMode: str,
  Cgroup: str,
  PidMode: str,
  UTSMode: str,
  UsernsMode: str,
  Runtime: str,
  Isolation: str,
  StorageOpt: strMap,
  Tmpfs: strMap,
  Sysctls: strMap,
  LogConfig: obj({ Type: str, Config: strMap }),
  ConsoleSize: arrayOf(int),
  OomScoreAdj: int,
  ShmSize: int,
  Mounts: arrayOf(obj({ Target: str, Source: str, Type: str, ReadOnly: bool, Consistency: str })),
});

const endpointSettings = obj({
  Aliases: strs,
  Links: strs,
  NetworkID: str,
  MacAddress: str,
  DriverOpts: strMap,
  IPAMConfig: obj({ IPv4Address: str, IPv6Address: str, LinkLocalIPs: strs }),
});

/** The body of each JSON endpoint, by a name the handler passes to ctx.json(). */
export const BODIES = {
  containerCreate: obj({
    ...containerConfig,
    HostConfig: hostConfig,
    NetworkingConfig: obj({ EndpointsConfig: mapOf(endpointSettings) }),
  }),
  containerUpdate: obj({ ...resources, RestartPolicy: obj({ Name: str, MaximumRetryCount: int }) }),
  execCreate: obj({
    User: str,
    Privileged: bool,
    Tty: bool,
    AttachStdin: bool,
    AttachStdout: bool,
    AttachStderr: bool,
    Detach: bool,
    DetachKeys: str,
    Env: strs,
    WorkingDir: str,
    Cmd: strs,
    ConsoleSize: arrayOf(int),
  }),
  execStart: obj({ Detach: bool, Tty: bool, ConsoleSize: arrayOf(int) }),
  networkCreate: obj({
    Name: str,
    Driver: str,
    Scope: str,
    Internal: bool,
    Attachable: bool,
    Ingress: bool,
    EnableIPv6: bool,
    CheckDuplicate: bool,
    ConfigOnly: bool,
    Labels: labels,
    Options: strMap,
    IPAM: obj({
      Driver: str,
      Options: strMap,
      Config: arrayOf(obj({ Subnet: str, Gateway: str, IPRange: str, AuxiliaryAddresses: strMap })),
    }),
  }),
  networkConnect: obj({ Container: str, EndpointConfig: endpointSettings }),
  networkDisconnect: obj({ Container: str, Force: bool }),
  volumeCreate: obj({ Name: str, Driver: str, DriverOpts: strMap, Labels: labels }),
  auth: obj({ username: str, password: str, serveraddress: str, identitytoken: str, email: str, registrytoken: str }),
  /** Any object: for endpoints whose fields the engine checks itself. */
  object: obj({}),
} satisfies Record<string, Check>;

export type BodyName = keyof typeof BODIES;

/**
 * Parses a JSON request body and checks its shape. Empty text is `{}` (docker's clients send no
 * body for "no options"); anything but an object (null, arrays, numbers, strings) is refused.
 */
export function decodeBody(text: string, shape: BodyName): Record<string, unknown> {
  if (!text.trim()) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new InvalidArgument(`invalid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (v === null)
    throw new InvalidArgument(
      shape === 'containerCreate'
        ? 'config cannot be empty in order to create a container'
        : 'invalid JSON: the request body is null; a JSON object is expected',
    );
  if (kind(v) !== 'object')
    throw new InvalidArgument(
      `invalid JSON: json: cannot unmarshal ${kind(v)} into a Go value of type struct; a JSON object is expected`,
    );
  BODIES[shape](v, '');
  return v as Record<string, unknown>;
}
