// Container endpoints of the Docker Engine API: create, list, inspect, start/stop/kill/restart,
// pause, remove, rename, wait, attach (hijacked), resize, logs, top, prune.
import { createReadStream, statSync, watch } from 'node:fs';
import type { Router } from './router.js';
import type { Services } from '../daemon/services.js';
import { InvalidArgument, NotImplemented, NotModified } from '../core/errors.js';
import type { ContainerRecord } from '../containers/types.js';
import { statusLine, type CreateBody } from '../containers/config.js';
import type { WaitCondition } from '../containers/service.js';
import { pipeline } from 'node:stream/promises';
import { tarDirectoryStream } from '../sys/tar.js';
import { privilegedWarning } from '../containers/security.js';
import { ALL_CAPABILITIES } from '../runtime/caps.js';
import { K8sFileParser, encodeEntry, parseTail, selectLogs, type LogEntry } from '../runtime/logformat.js';

export function boolParam(v: string | null): boolean {
  return v !== null && ['1', 'true', 'True', 'TRUE', 'yes'].includes(v);
}

/** Docker's filters query: {"name":{"web":true}} or the legacy {"name":["web"]}. */
export function parseFilters(raw: string | null): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!raw) return out;
  let j: unknown;
  try { j = JSON.parse(raw); } catch { throw new InvalidArgument(`invalid filter: ${raw}`); }
  for (const [k, v] of Object.entries(j as Record<string, unknown>)) {
    if (Array.isArray(v)) out.set(k, v.map(String));
    else if (v && typeof v === 'object') out.set(k, Object.entries(v as Record<string, unknown>).filter(([, b]) => b).map(([x]) => x));
  }
  return out;
}

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
      case 'name': if (!any((v) => new RegExp(v.replace(/^\//, '')).test(r.name))) return false; break;
      case 'id': if (!any((v) => r.id.startsWith(v))) return false; break;
      case 'status':
        for (const v of values) if (!STATUSES.includes(v)) throw new InvalidArgument(`invalid filter 'status=${v}'`);
        if (!any((v) => r.state.Status === v)) return false; break;
      case 'label': if (!any((v) => { const [k, ...rest] = v.split('='); return rest.length ? r.config.Labels?.[k] === rest.join('=') : k in (r.config.Labels ?? {}); })) return false; break;
      case 'ancestor': if (!any((v) => { if (r.config.Image === v) return true; try { return s.images.get(v).id === r.imageId; } catch { return false; } })) return false; break;
      case 'exited': if (r.state.Status !== 'exited' || !any((v) => Number(v) === r.state.ExitCode)) return false; break;
      case 'before': case 'since': {
        const ref = s.containers.tryLookup(values[0]);
        if (!ref) throw new InvalidArgument(`No such container: ${values[0]}`);
        if (key === 'before' ? r.created >= ref.created : r.created <= ref.created) return false;
        break;
      }
      case 'network': case 'volume': case 'publish': case 'expose': case 'health': case 'isolation': case 'is-task': break;
      default: throw new InvalidArgument(`invalid filter '${key}'`);
    }
  }
  return true;
}

/** Mounts as docker's inspect shows them. */
export function mountsOf(r: ContainerRecord, s: Services): Array<Record<string, unknown>> {
  return (r.mounts ?? []).map((m) => m.Type === 'volume'
    ? { Type: 'volume', Name: m.Name, Source: s.volumes.mountpoint(m.Name ?? ''), Destination: m.Destination, Driver: m.Driver ?? 'local', Mode: m.Mode, RW: m.RW, Propagation: '' }
    : { Type: m.Type, Source: m.Source, Destination: m.Destination, Mode: m.Mode, RW: m.RW, Propagation: m.Type === 'bind' ? m.Propagation : '' });
}

export function summary(r: ContainerRecord, s: Services): Record<string, unknown> {
  const net = s.containers.network.settings(r);
  return {
    Id: r.id, Names: ['/' + r.name], Image: r.config.Image, ImageID: r.imageId, Command: commandOf(r),
    Created: Math.floor(Date.parse(r.created) / 1000), Ports: net.ports, Labels: r.config.Labels ?? {},
    State: r.state.Status, Status: statusLine(r.state), HostConfig: { NetworkMode: r.hostConfig.NetworkMode },
    NetworkSettings: { Networks: net.networkSettings.Networks }, Mounts: mountsOf(r, s),
  };
}

export async function inspect(r: ContainerRecord, s: Services): Promise<Record<string, unknown>> {
  const data = s.containers.paths.data(r.id);
  const graph = await s.containers.graphDriver(r.id);
  return {
    Id: r.id, Created: r.created, Path: r.path, Args: r.args, State: r.state, Image: r.imageId,
    ResolvConfPath: `${data}/resolv.conf`, HostnamePath: `${data}/hostname`, HostsPath: `${data}/hosts`, LogPath: r.hostConfig.LogConfig?.Type === 'none' ? '' : `${data}/ctr.log`,
    Name: '/' + r.name, RestartCount: r.restartCount, Driver: 'overlay2', Platform: 'linux', MountLabel: '', ProcessLabel: '', AppArmorProfile: '',
    ExecIDs: s.execs.idsOf(r.id),
    HostConfig: {
      Binds: null, ContainerIDFile: '', LogConfig: { Type: 'k8s-file', Config: {} }, PortBindings: {}, VolumeDriver: '', VolumesFrom: null,
      CapAdd: null, CapDrop: null, CgroupnsMode: 'host', Dns: [], DnsOptions: [], DnsSearch: [], ExtraHosts: null, GroupAdd: null, IpcMode: 'private',
      Cgroup: '', Links: null, OomScoreAdj: 0, PidMode: '', PublishAllPorts: false, SecurityOpt: null, UTSMode: '', UsernsMode: '',
      ShmSize: 67108864, ConsoleSize: [0, 0], Isolation: '', CpuShares: 0, Memory: 0, NanoCpus: 0, CgroupParent: '', PidsLimit: null, Ulimits: [],
      Init: null, Devices: [],
      ...r.hostConfig,
      MaskedPaths: r.hostConfig.Privileged ? [] : ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap'],
      ReadonlyPaths: r.hostConfig.Privileged ? [] : ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
    GraphDriver: { Name: 'overlay2', Data: { LowerDir: graph.LowerDir ?? '', UpperDir: graph.UpperDir ?? '', WorkDir: graph.WorkDir ?? '', MergedDir: graph.MergedDir } },
    Mounts: mountsOf(r, s),
    Config: { ...r.config, OnBuild: null },
    NetworkSettings: s.containers.network.settings(r).networkSettings,
  };
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
    let list = c.all().filter((x) => (all || limit > 0 || f.has('status') || f.has('exited') ? true : x.state.Running || x.state.Status === 'restarting'));
    list = list.filter((x) => matches(x, f, s));
    if (limit > 0) list = list.slice(0, limit);
    ctx.send(200, list.map((x) => summary(x, s)));
  });

  r.get('/containers/:id/json', async (ctx) => { ctx.send(200, await inspect(c.lookup(ctx.params.id), s)); });

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
    await c.restart(ctx.params.id, optTimeout(ctx.query.get('t')));
    ctx.send(204);
  });
  r.post('/containers/:id/kill', async (ctx) => {
    await c.kill(ctx.params.id, ctx.query.get('signal') || 'KILL');
    ctx.send(204);
  });
  r.post('/containers/:id/pause', async (ctx) => { await c.pause(ctx.params.id); ctx.send(204); });
  r.post('/containers/:id/unpause', async (ctx) => { await c.unpause(ctx.params.id); ctx.send(204); });

  r.delete('/containers/:id', async (ctx) => {
    await c.remove(ctx.params.id, boolParam(ctx.query.get('force')), boolParam(ctx.query.get('v')));
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
    if (!['not-running', 'next-exit', 'removed'].includes(cond)) throw new InvalidArgument(`invalid condition: "${cond}"`);
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
    const opts = { stdin: boolParam(q.get('stdin')), stdout: boolParam(q.get('stdout')), stderr: boolParam(q.get('stderr')) };
    const sock = ctx.hijack();
    if (!stream) { sock.end(); return; }
    await c.attach(rec.id, sock, opts);
  });

  r.post('/containers/:id/resize', (ctx) => {
    c.resize(ctx.params.id, Number(ctx.query.get('h') ?? 0), Number(ctx.query.get('w') ?? 0));
    ctx.res.writeHead(200, { 'Content-Length': '0' });
    ctx.res.end();
  });

  r.get('/containers/:id/top', async (ctx) => { ctx.send(200, await c.top(ctx.params.id, ctx.query.get('ps_args') ?? '')); });

  r.get('/containers/:id/logs', async (ctx) => {
    const rec = c.lookup(ctx.params.id);
    if (rec.hostConfig.LogConfig?.Type === 'none') throw new NotImplemented('configured logging driver does not support reading');
    const q = ctx.query;
    const stdout = boolParam(q.get('stdout')), stderr = boolParam(q.get('stderr'));
    if (!stdout && !stderr) throw new InvalidArgument('Bad parameters: you must choose at least one stream');
    const follow = boolParam(q.get('follow'));
    const timestamps = boolParam(q.get('timestamps'));
    let tail: number | 'all';
    try { tail = parseTail(q.get('tail')); } catch (e) { throw new InvalidArgument((e as Error).message); }
    const sel = { tail, since: q.get('since') || undefined, until: q.get('until') || undefined, stdout, stderr };
    const path = c.logPath(rec.id);
    const res = ctx.stream(200, null);
    const parser = new K8sFileParser();
    const emit = (entries: LogEntry[], first: boolean) => {
      const picked = first ? selectLogs(entries, sel) : selectLogs(entries, { ...sel, tail: 'all' });
      for (const e of picked) res.write(encodeEntry(e, { timestamps, tty: rec.config.Tty }));
    };
    let offset = 0;
    const readMore = () => new Promise<void>((resolve) => {
      let size = 0;
      try { size = statSync(path).size; } catch { return resolve(); }
      // --log-opt max-size: conmon started the file afresh; read the new one from its start.
      if (size < offset) offset = 0;
      if (size <= offset) return resolve();
      const entries: LogEntry[] = [];
      const rs = createReadStream(path, { start: offset, end: size - 1 });
      rs.on('data', (b) => entries.push(...parser.push(b as Buffer)));
      rs.on('end', () => { offset = size; emit(entries, false); resolve(); });
      rs.on('error', () => resolve());
    });
    // First pass: everything present, with tail applied to the whole.
    await new Promise<void>((resolve) => {
      const entries: LogEntry[] = [];
      let size = 0;
      try { size = statSync(path).size; } catch { /* no log yet */ }
      if (!size) return resolve();
      const rs = createReadStream(path, { start: 0, end: size - 1 });
      rs.on('data', (b) => entries.push(...parser.push(b as Buffer)));
      rs.on('end', () => { offset = size; if (!follow || !c.tryLookup(rec.id)?.state.Running) entries.push(...parser.end()); emit(entries, true); resolve(); });
      rs.on('error', () => resolve());
    });
    const running = () => { const cur = c.tryLookup(rec.id); return !!cur && (cur.state.Running || cur.state.Status === 'restarting'); };
    if (!follow || !running()) { res.end(); return; }
    let busy = false, done = false;
    const finish = () => { if (done) return; done = true; watcher.close(); clearInterval(timer); const rest = parser.end(); emit(rest, false); res.end(); };
    const tick = async () => {
      if (busy || done) return;
      busy = true;
      await readMore();
      busy = false;
      if (!running()) { await readMore(); finish(); }
    };
    const watcher = watch(path, () => void tick());
    watcher.on('error', () => undefined);
    const timer = setInterval(() => void tick(), 250);
    ctx.req.socket.once('close', () => { done = true; watcher.close(); clearInterval(timer); });
  });

  r.get('/containers/:id/changes', async (ctx) => {
    const list = await c.changes(ctx.params.id);
    ctx.send(200, list.length ? list : null);
  });

  r.get('/containers/:id/export', async (ctx) => {
    const root = await c.exportRoot(ctx.params.id);
    try {
      const tar = tarDirectoryStream(root.dir);
      const res = ctx.stream(200, 'application/x-tar');
      await pipeline(tar, res).catch(() => res.destroy());
    } finally {
      await root.release();
    }
  });

  r.post('/containers/prune', async (ctx) => {
    const f = parseFilters(ctx.query.get('filters'));
    const deleted: string[] = [];
    for (const rec of c.all()) {
      if (rec.state.Running || rec.state.Status === 'restarting' || rec.state.Paused) continue;
      const labels = f.get('label') ?? [];
      if (labels.length && !matches(rec, new Map([['label', labels]]), s)) continue;
      await c.remove(rec.id, false).catch((e) => { if (!(e instanceof NotModified)) throw e; });
      deleted.push(rec.id);
    }
    ctx.send(200, { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: 0 });
  });
}
