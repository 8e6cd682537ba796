// Volumes: named and anonymous data directories that outlive containers (docker's `local` driver).
//
// Lifecycle: create (name or generated; plain directory, or backed by a mount: --opt type/device/o
// like docker's local driver, or --opt size=N: a loop-mounted ext4 image, a hard quota) ->
// acquire (a container starts: the backing mount is made on first use) -> copyUp (first mount over
// image content) -> release (the last running user stops: the backing mount is undone) -> remove
// (refused while any container refers to it, unless forced: then 409 still for running users).
// Records live in SQLite (table volumes); data under <data-root>/volumes/<name>/_data.
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { PRIVATE, privateDir, privateFile, tighten } from '../sys/perms.js';
import { join } from 'node:path';
import type { DaemonConfig } from '../core/config.js';
import { hostRoot } from '../core/idmap.js';
import type { DB } from '../store/db.js';
import type { EventBus } from '../core/events.js';
import { Conflict, Internal, InvalidArgument, NotFound } from '../core/errors.js';
import { validateVolumeName } from './mounts.js';
import { isMounted, unmount } from '../sys/mount.js';
import { runOk } from '../sys/exec.js';
import { parseSize } from './size.js';

export interface VolumeRecord {
  name: string;
  driver: string;
  created: string; // RFC3339 (seconds), as docker shows it
  labels: Record<string, string> | null;
  options: Record<string, string> | null;
  anonymous: boolean;
  /** copy-up of image content: null never tried, 'copying' interrupted (redo), 'done' */
  copyState: string | null;
}

export interface VolumeUsage {
  id: string;
  running: boolean;
}

export class VolumeService {
  private root: string;
  private copying = new Map<string, Promise<void>>();
  /** --userns-remap: volumes belong to the containers' root (host ids of container root). */
  private readonly rootOwner: { uid: number; gid: number };

  constructor(
    config: DaemonConfig,
    private readonly db: DB,
    private readonly events: EventBus,
    /** Which containers mount a volume (the containers side; rm conflicts, release on stop). */
    private readonly usage: (name: string) => VolumeUsage[] = () => [],
  ) {
    this.root = join(config.dataRoot, 'volumes');
    this.rootOwner = config.idMap ? hostRoot(config.idMap) : { uid: 0, gid: 0 };
    privateDir(this.root);
    // An older cocon made <name>/ 0755: tighten them (not their _data, the containers' view).
    for (const e of readdirSync(this.root, { withFileTypes: true }))
      if (e.isDirectory()) tighten(join(this.root, e.name), PRIVATE.dir);
  }

  dir(name: string): string {
    return join(this.root, name);
  }
  mountpoint(name: string): string {
    return join(this.root, name, '_data');
  }

  private row(name: string): VolumeRecord | null {
    const r = this.db.prepare('SELECT record FROM volumes WHERE name = ?').get(name) as { record: string } | undefined;
    return r ? (JSON.parse(r.record) as VolumeRecord) : null;
  }

  private save(v: VolumeRecord): void {
    this.db
      .prepare(
        'INSERT INTO volumes (name, record) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET record = excluded.record',
      )
      .run(v.name, JSON.stringify(v));
  }

  get(name: string): VolumeRecord {
    const v = this.row(name);
    if (!v) throw new NotFound(`get ${name}: no such volume`);
    return v;
  }

  tryGet(name: string): VolumeRecord | null {
    return this.row(name);
  }

  all(): VolumeRecord[] {
    return (this.db.prepare('SELECT record FROM volumes ORDER BY name').all() as Array<{ record: string }>).map(
      (r) => JSON.parse(r.record) as VolumeRecord,
    );
  }

  /** Creates a volume; an existing name with the same driver is returned as it is (docker). */
  async create(
    req: {
      Name?: string;
      Driver?: string;
      DriverOpts?: Record<string, string> | null;
      Labels?: Record<string, string> | null;
    },
    anonymous = false,
  ): Promise<VolumeRecord> {
    const name = req.Name || randomBytes(32).toString('hex');
    validateVolumeName(name);
    const driver = req.Driver || 'local';
    if (driver !== 'local')
      throw new NotFound(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    const existing = this.row(name);
    if (existing) return existing;
    const opts = req.DriverOpts && Object.keys(req.DriverOpts).length ? { ...req.DriverOpts } : null;
    validateOptions(opts);
    const v: VolumeRecord = {
      name,
      driver,
      created: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      labels: req.Labels && Object.keys(req.Labels).length ? req.Labels : null,
      options: opts,
      anonymous,
      copyState: null,
    };
    const dir = this.dir(name);
    try {
      // <name>/ is private; _data is the volume's "/" as containers see it (0755, as docker makes it).
      privateDir(dir);
      mkdirSync(join(dir, '_data'), { recursive: true, mode: 0o755 });
      // --userns-remap: the volume's "/" belongs to the containers' root, as dockerd makes it
      chownSync(join(dir, '_data'), this.rootOwner.uid, this.rootOwner.gid);
      if (opts?.size) {
        const img = join(dir, 'disk.img');
        privateFile(img);
        await runOk('truncate', ['-s', String(parseSize(opts.size)), img]);
        await runOk('mkfs.ext4', [
          '-q',
          '-F',
          '-m',
          '0',
          '-E',
          `root_owner=${this.rootOwner.uid}:${this.rootOwner.gid}`,
          img,
        ]);
      }
      this.save(v);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    this.events.publish('volume', 'create', name, { driver });
    return v;
  }

  /** Makes the volume's data available for a starting container; returns the host path. */
  async acquire(name: string): Promise<string> {
    const v = this.get(name);
    const mp = this.mountpoint(name);
    mkdirSync(mp, { recursive: true });
    if (v.options && !isMounted(mp)) {
      if (v.options.size) await runOk('mount', ['-o', 'loop', join(this.dir(name), 'disk.img'), mp]);
      else if (v.options.type || v.options.device) {
        const args = ['-t', v.options.type || 'none'];
        if (v.options.o) args.push('-o', v.options.o);
        await runOk('mount', [...args, v.options.device || v.options.type, mp]);
      }
    }
    return mp;
  }

  /** A container using it stopped: undo the backing mount when no running container needs it. */
  async release(name: string, stoppingId: string): Promise<void> {
    const v = this.row(name);
    if (!v?.options) return;
    if (this.usage(name).some((u) => u.running && u.id !== stoppingId)) return;
    await unmount(this.mountpoint(name));
  }

  /**
   * Copies image content into an empty volume the first time it is mounted over it. A copy cut
   * short by a crash is recorded as 'copying' and is wiped and redone on the next start.
   */
  copyUp(name: string, src: string): Promise<void> {
    // One copy per volume at a time: containers starting together on a fresh volume share it.
    const prev = this.copying.get(name) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(() => this.copyUpNow(name, src));
    this.copying.set(name, next);
    void next
      .finally(() => {
        if (this.copying.get(name) === next) this.copying.delete(name);
      })
      .catch(() => undefined);
    return next;
  }

  private async copyUpNow(name: string, src: string): Promise<void> {
    const v = this.get(name);
    if (v.copyState === 'done') return;
    const mp = this.mountpoint(name);
    if (v.copyState === 'copying') {
      for (const f of readdirSync(mp)) rmSync(join(mp, f), { recursive: true, force: true });
    } else if (readdirSync(mp).filter((f) => f !== 'lost+found').length > 0) {
      v.copyState = 'done';
      this.save(v);
      return;
    }
    let isDir = false;
    try {
      isDir = statSync(src).isDirectory();
    } catch {
      isDir = false;
    }
    if (isDir) {
      v.copyState = 'copying';
      this.save(v);
      try {
        await runOk('cp', ['-a', '--', `${src}/.`, `${mp}/`]);
      } catch (e) {
        throw new Internal(`copying image content into volume ${name}: ${(e as Error).message.slice(0, 500)}`);
      }
    }
    v.copyState = 'done';
    this.save(v);
  }

  async remove(name: string, force: boolean): Promise<void> {
    const v = this.row(name);
    if (!v) {
      if (force) return;
      throw new NotFound(`get ${name}: no such volume`);
    }
    // As docker: -f only forgives a missing volume; any container that refers to it keeps it.
    const users = this.usage(name);
    if (users.length) throw new Conflict(`remove ${name}: volume is in use - [${users.map((u) => u.id).join(', ')}]`);
    const mp = this.mountpoint(name);
    if (existsSync(mp)) await unmount(mp);
    rmSync(this.dir(name), { recursive: true, force: true });
    this.db.prepare('DELETE FROM volumes WHERE name = ?').run(name);
    this.events.publish('volume', 'destroy', name, { driver: v.driver });
  }

  inUse(name: string): boolean {
    return this.usage(name).length > 0;
  }

  inspect(v: VolumeRecord): Record<string, unknown> {
    return {
      CreatedAt: v.created,
      Driver: v.driver,
      Labels: v.labels,
      Mountpoint: this.mountpoint(v.name),
      Name: v.name,
      Options: v.options,
      Scope: 'local',
    };
  }
}

function validateOptions(opts: Record<string, string> | null): void {
  if (!opts) return;
  for (const k of Object.keys(opts))
    if (!['type', 'device', 'o', 'size'].includes(k)) throw new InvalidArgument(`invalid option key: "${k}"`);
  if (opts.size) {
    parseSize(opts.size);
    if (opts.type || opts.device)
      throw new InvalidArgument('the size option makes its own ext4 volume: it cannot be combined with type or device');
  }
  if (opts.type && !opts.device && opts.type !== 'tmpfs')
    throw new InvalidArgument('missing required option: "device"');
}
