// Container records as the store keeps them and the API shows them (Docker's field names).
import type { ImageConfig } from '../images/types.js';
import type { MountPoint } from '../volumes/mounts.js';
import type { Health } from './healthcheck.js';

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  /** Present when the container has a healthcheck (containers/health.ts). */
  Health?: Health;
}

/** Docker's container Config (create body minus HostConfig/NetworkingConfig). */
export interface ContainerConfig
  extends Omit<ImageConfig, 'Cmd' | 'Entrypoint' | 'Env' | 'WorkingDir' | 'User' | 'Labels'> {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[];
  Cmd: string[] | null;
  Image: string;
  Entrypoint: string[] | null;
  WorkingDir: string;
  Labels: Record<string, string>;
  StopTimeout?: number;
  /** The primary interface's MAC address (API < 1.44; applied by the network service). */
  MacAddress?: string;
}

export interface RestartPolicy {
  Name: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure';
  MaximumRetryCount: number;
}

/** The subset of Docker's HostConfig that cocon acts on; unknown fields are kept as given. */
export interface HostConfig {
  Binds?: string[] | null;
  NetworkMode: string;
  PortBindings?: Record<string, Array<{ HostIp: string; HostPort: string }>> | null;
  RestartPolicy: RestartPolicy;
  AutoRemove: boolean;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  Privileged: boolean;
  ReadonlyRootfs: boolean;
  Init?: boolean | null;
  Memory?: number;
  /** memory + swap; -1 unlimited; 2 × Memory by default where swap is accounted */
  MemorySwap?: number;
  LogConfig?: { Type: string; Config: Record<string, string> };
  Sysctls?: Record<string, string> | null;
  NanoCpus?: number;
  CpuShares?: number;
  PidsLimit?: number | null;
  Ulimits?: Array<{ Name: string; Soft: number; Hard: number }> | null;
  SecurityOpt?: string[] | null;
  ExtraHosts?: string[] | null;
  Dns?: string[] | null;
  DnsSearch?: string[] | null;
  DnsOptions?: string[] | null;
  ConsoleSize?: [number, number];
  Runtime?: string;
  [k: string]: unknown;
}

export interface ContainerRecord {
  id: string;
  name: string; // without the leading "/"
  created: string; // RFC3339Nano
  imageId: string;
  path: string;
  args: string[];
  config: ContainerConfig;
  hostConfig: HostConfig;
  state: ContainerState;
  restartCount: number;
  /** Set by an explicit stop/kill: restart policies do not restart the container. */
  manuallyStopped: boolean;
  conmonPid: number;
  /** Bind, volume and tmpfs mounts (absent in records made before volumes existed). */
  mounts?: MountPoint[];
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function initialState(): ContainerState {
  return {
    Status: 'created',
    Running: false,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: 0,
    ExitCode: 0,
    Error: '',
    StartedAt: ZERO_TIME,
    FinishedAt: ZERO_TIME,
  };
}
