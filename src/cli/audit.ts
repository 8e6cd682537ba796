// `cocon check`: the audit of a daemon and its containers against the brief's three hardening
// points (data root on its own filesystem with a quota; inter-container traffic off but for links;
// no --privileged, only the capabilities needed) and the usual container-host benchmark items
// (limits, seccomp, published ports, API socket, TLS). Pure: the facts come from the API (info,
// container inspect); each finding says how to fix it. No I/O.

export type Status = 'pass' | 'warn' | 'fail';
export interface Finding {
  id: string;
  status: Status;
  title: string;
  detail: string;
  fix?: string;
}

/** What /info tells about the daemon (DriverStatus pairs and cocon's Security block). */
export interface DaemonFacts {
  driverStatus: Array<[string, string]>;
  security?: {
    Icc?: boolean;
    NoNewPrivileges?: boolean;
    DefaultPidsLimit?: number;
    UsernsRemap?: boolean;
    UsernsRemapUser?: string;
    UsernsRemapRoot?: { uid: number; gid: number };
    Socket?: { Path: string; Mode: string; Group: string } | null;
    Tcp?: { Address: string; Tls: boolean } | null;
  };
}

/** The inspect fields the audit reads. */
export interface ContainerFacts {
  Name: string;
  State?: { Running?: boolean };
  HostConfig: {
    Privileged?: boolean;
    CapAdd?: string[] | null;
    Memory?: number;
    PidsLimit?: number | null;
    SecurityOpt?: string[] | null;
    UsernsMode?: string;
    PortBindings?: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null;
  };
}

const name = (c: ContainerFacts) => c.Name.replace(/^\//, '');

export function audit(d: DaemonFacts, containers: ContainerFacts[]): Finding[] {
  const out: Finding[] = [];
  const ds = Object.fromEntries(d.driverStatus);
  const sec = d.security ?? {};
  // 1. The data root on its own filesystem, with a quota.
  const own =
    (ds['Data Root Filesystem'] ?? '').length > 0 && !/^shared with the host/.test(ds['Data Root Filesystem'] ?? '');
  out.push(
    own
      ? {
          id: 'data-root-fs',
          status: 'pass',
          title: 'data root on its own filesystem',
          detail: `${ds['Data Root Filesystem']}${ds['Data Root Size'] ? `, ${ds['Data Root Size']} bytes` : ''}`,
        }
      : {
          id: 'data-root-fs',
          status: 'fail',
          title: 'data root on its own filesystem',
          detail: `the data root shares the host's filesystem (${ds['Data Root Filesystem'] ?? 'unknown'}): a container or a malicious image can fill the host's root`,
          fix: 'cocon daemon --storage-size 20G   (or --storage-device /dev/VG/LV)',
        },
  );
  const layerDefault = Number(ds['Default Writable Layer Size'] ?? 0);
  out.push(
    layerDefault > 0
      ? {
          id: 'container-quota',
          status: 'pass',
          title: 'writable layers bounded by default',
          detail: `every container's writable layer is at most ${layerDefault} bytes unless it asks for its own --storage-opt size=`,
        }
      : {
          id: 'container-quota',
          status: 'warn',
          title: 'writable layers bounded by default',
          detail:
            'no default --storage-opt size=: a container without its own can fill the whole data root (not the host)',
          fix: 'cocon daemon --storage-opt size=10G   (or docker run --storage-opt size=N per container)',
        },
  );
  // 2. Inter-container communication off, links only.
  out.push(
    sec.Icc === false
      ? {
          id: 'icc',
          status: 'pass',
          title: 'inter-container traffic off but for links',
          detail: 'icc=false on the default bridge',
        }
      : {
          id: 'icc',
          status: 'fail',
          title: 'inter-container traffic off but for links',
          detail: 'icc is on: every container on the default bridge reaches every other',
          fix: 'cocon daemon --icc=false   (and --link for the containers that must talk)',
        },
  );
  // 3. Least privilege.
  const priv = containers.filter((c) => c.HostConfig.Privileged);
  out.push(
    priv.length
      ? {
          id: 'privileged',
          status: 'fail',
          title: 'no privileged containers',
          detail: `privileged: ${priv.map(name).join(', ')}`,
          fix: priv.map((c) => `cocon rm -f ${name(c)} && cocon run --cap-add <only what it needs> ...`).join('; '),
        }
      : {
          id: 'privileged',
          status: 'pass',
          title: 'no privileged containers',
          detail: `${containers.length} container(s) checked`,
        },
  );
  const caps = containers.filter((c) => !c.HostConfig.Privileged && (c.HostConfig.CapAdd ?? []).length);
  out.push(
    caps.length
      ? {
          id: 'cap-add',
          status: 'warn',
          title: 'no added capabilities',
          detail: caps.map((c) => `${name(c)}: ${(c.HostConfig.CapAdd ?? []).join(',')}`).join('; '),
          fix: 'check that each added capability is needed; recreate without the others',
        }
      : {
          id: 'cap-add',
          status: 'pass',
          title: 'no added capabilities',
          detail: 'containers run with the default set or less',
        },
  );
  const unconfined = containers.filter(
    (c) => !c.HostConfig.Privileged && (c.HostConfig.SecurityOpt ?? []).some((o) => /^seccomp[=:]unconfined$/.test(o)),
  );
  out.push(
    unconfined.length
      ? {
          id: 'seccomp',
          status: 'warn',
          title: 'seccomp profile on every container',
          detail: `seccomp=unconfined: ${unconfined.map(name).join(', ')}`,
          fix: 'recreate them without --security-opt seccomp=unconfined (or with a profile of their own: seccomp=profile.json)',
        }
      : {
          id: 'seccomp',
          status: 'pass',
          title: 'seccomp profile on every container',
          detail: 'default or custom profiles only',
        },
  );
  const noMem = containers.filter((c) => !c.HostConfig.Memory);
  out.push(
    noMem.length
      ? {
          id: 'memory',
          status: 'warn',
          title: 'memory limits',
          detail: `no memory limit: ${noMem.map(name).join(', ')}`,
          fix: 'cocon update --memory 512m NAME   (or run with -m)',
        }
      : { id: 'memory', status: 'pass', title: 'memory limits', detail: 'every container has one' },
  );
  const noPids = containers.filter((c) => !c.HostConfig.PidsLimit || c.HostConfig.PidsLimit < 0);
  out.push(
    noPids.length
      ? {
          id: 'pids',
          status: 'warn',
          title: 'pids limits',
          detail: `no pids limit: ${noPids.map(name).join(', ')}`,
          fix: 'recreate with --pids-limit N (the daemon default is --default-pids-limit 2048)',
        }
      : { id: 'pids', status: 'pass', title: 'pids limits', detail: 'every container has one' },
  );
  out.push(
    sec.NoNewPrivileges
      ? {
          id: 'no-new-privileges',
          status: 'pass',
          title: 'no-new-privileges by default',
          detail: 'set on every new container',
        }
      : {
          id: 'no-new-privileges',
          status: 'warn',
          title: 'no-new-privileges by default',
          detail: 'setuid programs in containers can gain privileges',
          fix: 'cocon daemon --no-new-privileges',
        },
  );
  const hostUserns = containers.filter((c) => c.HostConfig.UsernsMode === 'host').map(name);
  const remapRoot = sec.UsernsRemapRoot ? `host uid ${sec.UsernsRemapRoot.uid}` : 'an unprivileged host user';
  out.push(
    !sec.UsernsRemap
      ? {
          id: 'userns-remap',
          status: 'warn',
          title: 'user namespace remapping',
          detail: 'container root is host root: a process that escapes a container is root on the host',
          fix: 'cocon daemon --userns-remap default',
        }
      : hostUserns.length
        ? {
            id: 'userns-remap',
            status: 'warn',
            title: 'user namespace remapping',
            detail: `on (${sec.UsernsRemapUser ?? 'remapped'}: container root is ${remapRoot}), but ${hostUserns.join(', ')} opted out with --userns=host: root there is host root`,
            fix: 'recreate them without --userns=host (and without --privileged)',
          }
        : {
            id: 'userns-remap',
            status: 'pass',
            title: 'user namespace remapping',
            detail: `container root is ${remapRoot} (${sec.UsernsRemapUser ?? 'remapped'})`,
          },
  );
  const open: string[] = [];
  for (const c of containers) {
    for (const [port, binds] of Object.entries(c.HostConfig.PortBindings ?? {})) {
      for (const b of binds ?? [])
        if (!b.HostIp || b.HostIp === '0.0.0.0' || b.HostIp === '::')
          open.push(`${name(c)} ${b.HostPort || '?'}->${port}`);
    }
  }
  out.push(
    open.length
      ? {
          id: 'ports',
          status: 'warn',
          title: 'published ports bound to an address',
          detail: `on every host address: ${open.join(', ')}`,
          fix: 'publish on one address: -p 127.0.0.1:HOSTPORT:PORT',
        }
      : {
          id: 'ports',
          status: 'pass',
          title: 'published ports bound to an address',
          detail: 'no port published on 0.0.0.0',
        },
  );
  // The API: whoever reaches it is root on the host.
  const sock = sec.Socket;
  if (sock) {
    const mode = parseInt(sock.Mode, 8);
    const okMode = (mode & 0o007) === 0;
    const okGroup = sock.Group === 'root' || sock.Group === 'cocon' || sock.Group === '0';
    out.push(
      okMode && okGroup
        ? {
            id: 'socket',
            status: 'pass',
            title: 'API socket mode and group',
            detail: `${sock.Path} ${sock.Mode} root:${sock.Group}`,
          }
        : {
            id: 'socket',
            status: 'fail',
            title: 'API socket mode and group',
            detail: `${sock.Path} is ${sock.Mode} root:${sock.Group}: users outside root/cocon can drive the daemon`,
            fix: `chmod 0660 ${sock.Path} && chgrp cocon ${sock.Path}   (the daemon does it at start)`,
          },
    );
  }
  const tcp = sec.Tcp;
  out.push(
    !tcp
      ? { id: 'tls', status: 'pass', title: 'TLS on TCP', detail: 'the API is not served over TCP' }
      : tcp.Tls
        ? { id: 'tls', status: 'pass', title: 'TLS on TCP', detail: `${tcp.Address} with mutual TLS` }
        : {
            id: 'tls',
            status: 'fail',
            title: 'TLS on TCP',
            detail: `${tcp.Address} without TLS: anyone reaching it is root`,
            fix: 'serve the API on its unix socket only (cocon itself refuses -H tcp://)',
          },
  );
  return out;
}

/** The table `cocon check` prints. */
export function renderFindings(fs: Finding[]): string {
  let s = '';
  for (const f of fs) {
    s += `[${f.status.toUpperCase()}] ${f.title}: ${f.detail}\n`;
    if (f.fix && f.status !== 'pass') s += `       fix: ${f.fix}\n`;
  }
  const n = (st: Status) => fs.filter((f) => f.status === st).length;
  s += `\n${n('pass')} passed, ${n('warn')} warning(s), ${n('fail')} failed\n`;
  return s;
}
