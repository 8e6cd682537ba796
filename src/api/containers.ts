// Container endpoints of the Docker Engine API: create, list, inspect, start/stop/kill/restart,
// pause, remove, rename, wait, attach (hijacked), resize, logs, top, prune.
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import type { Router } from './router.js';
import type { Services } from '../daemon/services.js';
import { InvalidArgument, NotFound, NotImplemented, NotModified } from '../core/errors.js';
import type { ContainerRecord } from '../containers/types.js';
import { normLink } from '../network/links.js';
import { statusLine, type CreateBody } from '../containers/config.js';
import type { WaitCondition } from '../containers/service.js';
import { checkHealthFilter, healthFilterValue } from '../containers/healthcheck.js';
import { LogTail, logFiles, readLogFile } from '../containers/logfiles.js';
import { pipeline } from 'node:stream/promises';
import { parseFilters, labelsMatch, portFilterKeys, boolFilter, pruneFilter, prunes } from '../core/filters.js';
import { detachKeysFor } from '../runtime/detachkeys.js';
import { privilegedWarning } from '../containers/security.js';
import { ALL_CAPABILITIES } from '../runtime/caps.js';
import { K8sFileParser, encodeEntry, parseTail, selectLogs, type LogEntry } from '../runtime/logformat.js';

export function boolParam(v: string | null): boolean {
  return v !== null && ['1', 'true', 'True', 'TRUE', 'yes'].includes(v);
}

// parseFilters lives in core (one filter module for every list); re-exported for older imports.
export { parseFilters } from '../core/filters.js';

/** ps's Command: not shell quoting, docker's display rule (an argument holding a space goes in '...'). */
function commandOf(r: ContainerRecord): string {
  return [r.path, ...r.args.map((a) => (a.includes(' ') ? `'${a}'` : a))].join(' ');
}

const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

function matches(r: ContainerRecord, f: Map<string, string[]>, s: Services): boolean {
  for (const [key, values] of f) {
    if (!values.length) continue;
    const any = (pred: (v: string) => boolean) => values.some(pred);
    switch (key) {
      case 'name':
        if (!any((v) => new RegExp(v.replace(/^\//, '')).test(r.name))) return false;
        break;
      case 'id':
        if (!any((v) => r.id.startsWith(v))) return false;
        break;
      case 'status':
        for (const v of values) if (!STATUSES.includes(v)) throw new InvalidArgument(`invalid filter 'status=${v}'`);
        if (!any((v) => r.state.Status === v)) return false;
        break;
      case 'label':
        if (!labelsMatch(r.config.Labels, f)) return false;
        break; // all labels must hold
      case 'ancestor':
        if (
          !any((v) => {
            if (r.config.Image === v) return true;
            try {
              return s.images.get(v).id === r.imageId;
            } catch {
              return false;
            }
          })
        )
          return false;
        break;
      case 'exited':
        if (r.state.Status !== 'exited' || !any((v) => Number(v) === r.state.ExitCode)) return false;
        break;
      case 'before':
      case 'since': {
        const ref = s.containers.tryLookup(values[0]);
        if (!ref) throw new InvalidArgument(`No such container: ${values[0]}`);
        if (key === 'before' ? r.created >= ref.created : r.created <= ref.created) return false;
        break;
      }
      case 'network': {
        // a network's name or id
        const nets = (s.networks.settings(r).networkSettings.Networks ?? {}) as Record<string, { NetworkID?: string }>;
        if (!any((v) => Object.entries(nets).some(([n, e]) => n === v || (!!e.NetworkID && e.NetworkID === v))))
          return false;
        break;
      }
      case 'volume':
        if (!any((v) => (r.mounts ?? []).some((m) => m.Name === v || m.Destination === v))) return false;
        break;
      case 'publish':
      case 'expose': {
        const keys = portFilterKeys(key, values);
        const have = Object.keys((key === 'publish' ? r.hostConfig.PortBindings : r.config.ExposedPorts) ?? {});
        if (!have.some((k) => keys.has(k.includes('/') ? k : `${k}/tcp`))) return false;
        break;
      }
      case 'is-task':
        if (boolFilter(key, values) === true) return false;
        break; // no swarm tasks here
      case 'health':
        values.forEach(checkHealthFilter);
        if (!any((v) => healthFilterValue(r.state.Health) === v)) return false;
        break;
      case 'isolation':
        break;
      default:
        throw new InvalidArgument(`invalid filter '${key}'`);
    }
  }
  return true;
}

/** Mounts as docker's inspect shows them. */
export function mountsOf(r: ContainerRecord, s: Services): Array<Record<string, unknown>> {
  return (r.mounts ?? []).map((m) =>
    m.Type === 'volume'
      ? {
          Type: 'volume',
          Name: m.Name,
          Source: s.volumes.mountpoint(m.Name ?? ''),
          Destination: m.Destination,
          Driver: m.Driver ?? 'local',
          Mode: m.Mode,
          RW: m.RW,
          Propagation: '',
        }
      : {
          Type: m.Type,
          Source: m.Source,
          Destination: m.Destination,
          Mode: m.Mode,
          RW: m.RW,
          Propagation: m.Type === 'bind' ? m.Propagation : '',
        },
  );
}

export function summary(r: ContainerRecord, s: Services): Record<string, unknown> {
  const net = s.networks.settings(r);
  return {
    Id: r.id,
    Names: ['/' + r.name],
    Image: r.config.Image,
    ImageID: r.imageId,
    Command: commandOf(r),
    Created: Math.floor(Date.parse(r.created) / 1000),
    Ports: net.ports,
    Labels: r.config.Labels ?? {},
    State: r.state.Status,
    Status: statusLine(r.state),
    HostConfig: { NetworkMode: r.hostConfig.NetworkMode },
    NetworkSettings: { Networks: net.networkSettings.Networks },
    Mounts: mountsOf(r, s),
  };
}

export async function inspect(r: ContainerRecord, s: Services): Promise<Record<string, unknown>> {
  const data = s.containers.paths.data(r.id);
  const graph = await s.containers.graphDriver(r.id);
  return {
    Id: r.id,
    Created: r.created,
    Path: r.path,
    Args: r.args,
    State: r.state,
    Image: r.imageId,
    ResolvConfPath: `${data}/resolv.conf`,
    HostnamePath: `${data}/hostname`,
    HostsPath: `${data}/hosts`,
    LogPath: r.hostConfig.LogConfig?.Type === 'none' ? '' : `${data}/ctr.log`,
    Name: '/' + r.name,
    RestartCount: r.restartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: s.execs.idsOf(r.id),
    HostConfig: {
      Binds: null,
      ContainerIDFile: '',
      LogConfig: { Type: 'json-file', Config: {} },
      PortBindings: {},
      VolumeDriver: '',
      VolumesFrom: null,
      CapAdd: null,
      CapDrop: null,
      CgroupnsMode: 'host',
      Dns: [],
      DnsOptions: [],
      DnsSearch: [],
      ExtraHosts: null,
      GroupAdd: null,
      IpcMode: 'private',
      Cgroup: '',
      OomScoreAdj: 0,
      PidMode: '',
      PublishAllPorts: false,
      SecurityOpt: null,
      UTSMode: '',
      UsernsMode: '',
      ShmSize: 67108864,
      ConsoleSize: [0, 0],
      Isolation: '',
      CpuShares: 0,
      Memory: 0,
      NanoCpus: 0,
      CgroupParent: '',
      PidsLimit: null,
      Ulimits: [],
      Init: null,
      Devices: [],
      ...r.hostConfig,
      // docker shows legacy links as "/target:/self/alias" (the record keeps "target:alias")
      Links: Array.isArray(r.hostConfig.Links)
        ? (r.hostConfig.Links as string[]).map((l) => {
            const [target, alias] = normLink(l).split(':');
            return `/${target}:/${r.name}/${alias}`;
          })
        : (r.hostConfig.Links ?? null),
      MaskedPaths: r.hostConfig.Privileged
        ? []
        : [
            '/proc/asound',
            '/proc/acpi',
            '/proc/kcore',
            '/proc/keys',
            '/proc/latency_stats',
            '/proc/timer_list',
            '/proc/timer_stats',
            '/proc/sched_debug',
            '/proc/scsi',
            '/sys/firmware',
            '/sys/devices/virtual/powercap',
          ],
      ReadonlyPaths: r.hostConfig.Privileged
        ? []
        : ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
    GraphDriver: {
      Name: 'overlay2',
      Data: {
        LowerDir: graph.LowerDir ?? '',
        UpperDir: graph.UpperDir ?? '',
        WorkDir: graph.WorkDir ?? '',
        MergedDir: graph.MergedDir,
      },
    },
    Mounts: mountsOf(r, s),
    Config: { ...r.config, OnBuild: null },
    NetworkSettings: s.networks.settings(r).networkSettings,
  };
}

/** attach?logs=1: what the container wrote so far, framed as the attach stream is. */
function attachLogs(path: string, o: { stdout: boolean; stderr: boolean }, tty: boolean): Buffer {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch {
    return Buffer.alloc(0);
  }
  const p = new K8sFileParser();
  const entries = [...p.push(raw), ...p.end()].filter((e) => (e.stream === 'stdout' ? o.stdout : o.stderr));
  return Buffer.concat(entries.map((e) => encodeEntry(e, { timestamps: false, tty })));
}

export function registerContainerRoutes(r: Router, s: Services): void {
  const c = s.containers;

  r.post('/containers/create', async (ctx) => {
    const body = await ctx.json<CreateBody>('containerCreate');
    const rec = await c.create(body, ctx.query.get('name'));
    ctx.send(201, { Id: rec.id, Warnings: rec.hostConfig.Privileged ? [privilegedWarning(ALL_CAPABILITIES)] : [] });
  });

  r.get('/containers/json', (ctx) => {
    const all = boolParam(ctx.query.get('all'));
    const f = parseFilters(ctx.query.get('filters'));
    let limit = Number(ctx.query.get('limit') ?? -1);
    if (boolParam(ctx.query.get('latest'))) limit = 1;
    let list = c
      .all()
      .filter((x) =>
        all || limit > 0 || f.has('status') || f.has('exited')
          ? true
          : x.state.Running || x.state.Status === 'restarting',
      );
    list = list.filter((x) => matches(x, f, s));
    if (limit > 0) list = list.slice(0, limit);
    ctx.send(
      200,
      list.map((x) => summary(x, s)),
    );
  });

  r.get('/containers/:id/json', async (ctx) => {
    ctx.send(200, await inspect(c.lookup(ctx.params.id), s));
  });

  r.post('/containers/:id/start', async (ctx) => {
    await c.start(ctx.params.id);
    ctx.send(204);
  });

  const optTimeout = (v: string | null) => (v === null || v === '' ? undefined : Number(v));
  r.post('/containers/:id/stop', async (ctx) => {
    await c.stop(ctx.params.id, optTimeout(ctx.query.get('t')), ctx.query.get('signal') || undefined);
    ctx.send(204);
  });
  r.post('/containers/:id/restart', async (ctx) => {
    await c.restart(ctx.params.id, optTimeout(ctx.query.get('t')), ctx.query.get('signal') || undefined); // signal: API 1.42
    ctx.send(204);
  });
  r.post('/containers/:id/kill', async (ctx) => {
    await c.kill(ctx.params.id, ctx.query.get('signal') || 'KILL');
    ctx.send(204);
  });
  r.post('/containers/:id/pause', async (ctx) => {
    await c.pause(ctx.params.id);
    ctx.send(204);
  });
  r.post('/containers/:id/unpause', async (ctx) => {
    await c.unpause(ctx.params.id);
    ctx.send(204);
  });

  r.delete('/containers/:id', async (ctx) => {
    if (boolParam(ctx.query.get('link'))) {
      await c.removeLink(ctx.params.id);
      ctx.send(204);
      return;
    }
    await c.remove(ctx.params.id, boolParam(ctx.query.get('force')), boolParam(ctx.query.get('v')));
    ctx.send(204);
  });

  // docker rm --link PARENT/ALIAS (the CLI trims the slashes around the name)
  r.delete('/containers/:parent/:alias', async (ctx) => {
    const name = `${ctx.params.parent}/${ctx.params.alias}`;
    if (!boolParam(ctx.query.get('link'))) throw new NotFound(`No such container: ${name}`);
    await c.removeLink(name);
    ctx.send(204);
  });

  r.post('/containers/:id/rename', (ctx) => {
    const name = ctx.query.get('name');
    if (!name) throw new InvalidArgument('Neither old nor new names may be empty');
    c.rename(ctx.params.id, name);
    ctx.send(204);
  });

  r.post('/containers/:id/wait', (ctx) => {
    const cond = (ctx.query.get('condition') || 'not-running') as WaitCondition;
    if (!['not-running', 'next-exit', 'removed'].includes(cond))
      throw new InvalidArgument(`invalid condition: "${cond}"`);
    const w = c.wait(ctx.params.id, cond);
    const res = ctx.stream(200);
    const onClose = () => w.cancel();
    ctx.req.socket.once('close', onClose);
    void w.promise.then((code) => {
      ctx.req.socket.off('close', onClose);
      res.end(JSON.stringify({ Error: null, StatusCode: code }) + '\n');
    });
  });

  r.post('/containers/:id/attach', async (ctx) => {
    const rec = c.lookup(ctx.params.id);
    const q = ctx.query;
    const stream = boolParam(q.get('stream'));
    const opts = {
      stdin: boolParam(q.get('stdin')),
      stdout: boolParam(q.get('stdout')),
      stderr: boolParam(q.get('stderr')),
      detachKeys: detachKeysFor(q.get('detachKeys')),
    };
    const sock = ctx.hijack(rec.config.Tty);
    if (boolParam(q.get('logs')) && rec.hostConfig.LogConfig?.Type !== 'none')
      sock.write(attachLogs(c.logPath(rec.id), opts, rec.config.Tty));
    if (!stream) {
      sock.end();
      return;
    }
    await c.attach(rec.id, sock, opts);
  });

  r.post('/containers/:id/resize', (ctx) => {
    c.resize(ctx.params.id, Number(ctx.query.get('h') ?? 0), Number(ctx.query.get('w') ?? 0));
    ctx.res.writeHead(200, { 'Content-Length': '0' });
    ctx.res.end();
  });

  r.get('/containers/:id/top', async (ctx) => {
    ctx.send(200, await c.top(ctx.params.id, ctx.query.get('ps_args') ?? ''));
  });

  r.get('/containers/:id/logs', async (ctx) => {
    const rec = c.lookup(ctx.params.id);
    if (rec.hostConfig.LogConfig?.Type === 'none')
      throw new NotImplemented('configured logging driver does not support reading');
    const q = ctx.query;
    const stdout = boolParam(q.get('stdout')),
      stderr = boolParam(q.get('stderr'));
    if (!stdout && !stderr) throw new InvalidArgument('Bad parameters: you must choose at least one stream');
    const follow = boolParam(q.get('follow'));
    const timestamps = boolParam(q.get('timestamps'));
    let tail: number | 'all';
    try {
      tail = parseTail(q.get('tail'));
    } catch (e) {
      throw new InvalidArgument((e as Error).message);
    }
    const sel = { tail, since: q.get('since') || undefined, until: q.get('until') || undefined, stdout, stderr };
    const tailer = new LogTail(c.logPath(rec.id));
    const rotated = logFiles(c.paths.data(rec.id));
    const res = ctx.stream(200, null);
    const parser = new K8sFileParser();
    let gone = false;
    const write = (b: Buffer) => {
      if (!gone && !res.destroyed && !res.writableEnded) res.write(b);
    };
    res.on('error', () => {
      gone = true;
    });
    let busy = false,
      done = false;
    let watcher: FSWatcher | null = null,
      timer: NodeJS.Timeout | null = null;
    const stop = () => {
      done = true;
      watcher?.close();
      if (timer) clearInterval(timer);
      void tailer.close();
    };
    // A client that goes away (docker logs -f, then ^C) ends the follow, whenever it happens.
    ctx.req.socket.once('close', () => {
      gone = true;
      stop();
    });
    const emit = (entries: LogEntry[], first: boolean) => {
      const picked = first ? selectLogs(entries, sel) : selectLogs(entries, { ...sel, tail: 'all' });
      for (const e of picked) write(encodeEntry(e, { timestamps, tty: rec.config.Tty }));
    };
    const running = () => {
      const cur = c.tryLookup(rec.id);
      return !!cur && (cur.state.Running || cur.state.Status === 'restarting');
    };
    // First pass: the rotated files oldest first, then ctr.log, with tail applied to the whole.
    const entries: LogEntry[] = [];
    for (const f of rotated) entries.push(...parser.push(await readLogFile(f)));
    entries.push(...parser.push(await tailer.read()));
    if (!follow || !running()) entries.push(...parser.end());
    emit(entries, true);
    if (!follow || !running() || gone) {
      stop();
      if (!gone) res.end();
      return;
    }
    const finish = () => {
      if (done) return;
      stop();
      emit(parser.end(), false);
      if (!gone) res.end();
    };
    const tick = async () => {
      if (busy || done) return;
      busy = true;
      try {
        emit(parser.push(await tailer.read()), false);
        if (!running()) {
          emit(parser.push(await tailer.read()), false);
          finish();
        }
      } catch {
        /* the client went away and the tail was closed under the read */
      } finally {
        busy = false;
      }
    };
    watcher = watch(c.paths.data(rec.id), () => void tick());
    watcher.on('error', () => undefined);
    timer = setInterval(() => void tick(), 250);
  });

  r.get('/containers/:id/changes', async (ctx) => {
    const list = await c.changes(ctx.params.id);
    ctx.send(200, list.length ? list : null);
  });

  r.get('/containers/:id/export', async (ctx) => {
    const tar = await s.archive.export(ctx.params.id);
    const res = ctx.stream(200, 'application/x-tar');
    await pipeline(tar, res).catch(() => res.destroy());
  });

  r.post('/containers/prune', async (ctx) => {
    const pf = pruneFilter(parseFilters(ctx.query.get('filters')));
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const rec of c.all()) {
      if (rec.state.Running || rec.state.Status === 'restarting' || rec.state.Paused) continue;
      if (!prunes(pf, Date.parse(rec.created), rec.config.Labels)) continue;
      const size = await c.diskUsage(rec.id);
      try {
        await c.remove(rec.id, false);
      } catch (e) {
        if (!(e instanceof NotModified)) throw e;
      }
      deleted.push(rec.id);
      reclaimed += size;
    }
    ctx.send(200, { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed });
  });
}
