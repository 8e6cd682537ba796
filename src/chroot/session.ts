// Chroot sessions, like schroot's: a throwaway run (`run --ephemeral`), and named sessions that
// keep their mounts, files and background processes between commands.
//
// Lifecycle: begin -> run (any number; processes may stay in the background) -> end. A one-shot
// ephemeral run is begin + run + end in one command.
//  - A session lives in <data-root>/chroots/.sessions/<id>/: session.json (written to a temp file
//    and renamed) and, when ephemeral, the overlay's upper/ and work/ dirs and its mount point
//    root/. The base root is only read by an ephemeral session: what the commands change lands in
//    upper/ and is removed at the end, so the base stays byte-identical.
//  - A named session's mounts live in a private mount namespace held by a holder process
//    (`unshare --mount` + sleep, in its own process session); `session run` enters it with nsenter
//    and chroots there, so a file or a background process left by one command is there for the
//    next. The record names the holder by pid and start time (pid reuse is detected) and the
//    namespace by its /proc/PID/ns/mnt identity.
//  - end: every process of the session's mount namespace (and, for an ephemeral one, every process
//    whose root is the session's root) is SIGKILLed; with the last one the namespace's mounts go;
//    then the session's directory is removed. Nothing is ever mounted in the host's namespace.
//  - A session whose owner is gone (the holder of a named session, the cocon process of a
//    one-shot run, both killed by a crash or SIGKILL) is ended by `session recover`, which every
//    `cocon chroot` command runs first.
// Errors: NotFound (no such session or chroot), Conflict (a session of another user), InvalidArgument.
import { mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Conflict, InvalidArgument, NotFound, Internal } from '../core/errors.js';
import type { ChrootManager, RunOpts } from './chroot.js';
import { BaseView, OverlayView } from '../sys/rootview.js';
import {
  processesInRoot,
  killProcessesInRoot,
  mountsUnderAnywhere,
  removeTree,
  spawnInRoot,
  type SpawnedRoot,
} from '../sys/chroot.js';
import {
  alive,
  enterSession,
  killMountNs,
  pidsInMountNs,
  procId,
  startHolder,
  type ProcId,
} from '../sys/chrootsession.js';

export interface SessionRecord {
  id: string;
  chroot: string;
  ephemeral: boolean;
  /** 'session' (named, with a holder) or 'run' (a one-shot ephemeral run). */
  kind: 'session' | 'run';
  created: string;
  /** The process whose death means the session crashed: the holder, or the cocon of a one-shot run. */
  owner: ProcId;
  /** The session's mount namespace (named sessions). */
  ns?: string;
  /** The directory the commands see as / (host path; for an ephemeral session, the overlay's mount point). */
  root: string;
  profile?: string;
  binds?: string[];
  /** The uid that began it (commands and end are refused to other non-root users). */
  uid: number;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}-[0-9a-f]{8}$/;

export class SessionManager {
  readonly dir: string;
  constructor(readonly chroots: ChrootManager) {
    this.dir = join(chroots.store.dir, '.sessions');
  }

  private sessionDir(id: string): string {
    return join(this.dir, id);
  }
  private recordFile(id: string): string {
    return join(this.dir, id, 'session.json');
  }

  private write(rec: SessionRecord): void {
    const f = this.recordFile(rec.id);
    writeFileSync(`${f}.tmp`, JSON.stringify(rec, null, 2) + '\n', { mode: 0o600 });
    renameSync(`${f}.tmp`, f);
  }

  private read(id: string): SessionRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.recordFile(id), 'utf8')) as SessionRecord;
    } catch {
      return undefined;
    }
  }

  get(id: string): SessionRecord {
    const rec = ID_RE.test(id) ? this.read(id) : undefined;
    if (!rec) throw new NotFound(`no such chroot session: ${id}`);
    return rec;
  }

  list(): SessionRecord[] {
    let ids: string[] = [];
    try {
      ids = readdirSync(this.dir);
    } catch {
      return [];
    }
    return ids
      .sort()
      .map((i) => this.read(i))
      .filter((r): r is SessionRecord => !!r);
  }

  /** Sessions that use chroot `name`. */
  of(name: string): SessionRecord[] {
    return this.list().filter((s) => s.chroot === name);
  }

  /** Makes the session directory and its first record (owner: this process until a holder exists). */
  private open(name: string, ephemeral: boolean, kind: 'session' | 'run', uid: number, o: RunOpts): SessionRecord {
    this.chroots.store.ensure();
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const id = `${name}-${randomBytes(4).toString('hex')}`;
    const dir = this.sessionDir(id);
    mkdirSync(dir, { mode: 0o700 });
    const root = ephemeral ? join(dir, 'root') : this.chroots.store.rootDir(name);
    if (ephemeral) for (const d of ['upper', 'work', 'root']) mkdirSync(join(dir, d), { mode: 0o755 });
    const rec: SessionRecord = {
      id,
      chroot: name,
      ephemeral,
      kind,
      created: new Date().toISOString(),
      owner: procId(process.pid)!,
      root,
      uid,
      ...(o.profile ? { profile: o.profile } : {}),
      ...(o.binds?.length ? { binds: o.binds } : {}),
    };
    this.write(rec);
    return rec;
  }

  private views(rec: SessionRecord): {
    view: BaseView | OverlayView;
    overlay?: { lower: string; upper: string; work: string };
  } {
    const base = this.chroots.store.rootDir(rec.chroot);
    if (!rec.ephemeral) return { view: new BaseView(base) };
    const dir = this.sessionDir(rec.id);
    return {
      view: new OverlayView(base, join(dir, 'upper'), rec.root),
      overlay: { lower: base, upper: join(dir, 'upper'), work: join(dir, 'work') },
    };
  }

  /** `chroot run --ephemeral`: the command runs on a throwaway overlay; everything is removed when it exits. */
  async runEphemeral(name: string, o: RunOpts, uid = 0): Promise<SpawnedRoot & { id: string }> {
    await this.recover();
    const r = this.chroots.readyRecord(name);
    if (r.kind === 'jail')
      throw new InvalidArgument('--ephemeral is for chroots, not jails (a jail runs as an unprivileged user already)');
    const rec = this.open(name, true, 'run', uid, o);
    let spawned: SpawnedRoot;
    try {
      const { view, overlay } = this.views(rec);
      const { plan, argv } = await this.chroots.prepare(r, o, { view, setup: true });
      spawned = spawnInRoot({ ...plan, overlay }, argv, o.stdio ?? 'inherit');
    } catch (e) {
      await this.end(rec.id);
      throw e;
    }
    const exited = spawned.exited.then(
      async (code) => {
        await this.end(rec.id);
        return code;
      },
      async (e: unknown) => {
        await this.end(rec.id);
        throw e;
      },
    );
    return { ...spawned, exited, id: rec.id };
  }

  /** `chroot session begin`: prints an id; the mounts stay until `session end`. */
  async begin(
    name: string,
    o: { ephemeral?: boolean; profile?: string; binds?: string[] },
    uid = 0,
  ): Promise<SessionRecord> {
    await this.recover();
    const r = this.chroots.readyRecord(name);
    if (r.kind === 'jail') throw new InvalidArgument('sessions are for chroots, not jails');
    const rec = this.open(name, !!o.ephemeral, 'session', uid, { argv: [], profile: o.profile, binds: o.binds });
    try {
      const { view, overlay } = this.views(rec);
      const { plan } = await this.chroots.prepare(
        r,
        { argv: [], profile: o.profile, binds: o.binds },
        { view, setup: true },
      );
      let started;
      try {
        started = await startHolder({ ...plan, overlay });
      } catch (e) {
        throw new Internal(`session ${rec.id}: ${(e as Error).message}`);
      }
      rec.owner = started.holder;
      rec.ns = started.ns;
      this.write(rec);
      return rec;
    } catch (e) {
      await this.end(rec.id);
      throw e;
    }
  }

  /** `chroot session run ID -- CMD`: runs in the session's namespace and root. */
  async run(id: string, o: RunOpts, uid = 0): Promise<SpawnedRoot> {
    await this.recover();
    const rec = this.get(id);
    this.checkOwner(rec, uid);
    if (rec.kind !== 'session' || !rec.ns) throw new Conflict(`session ${id} is a one-shot run`);
    if (!alive(rec.owner))
      throw new Conflict(`session ${id} has lost its holder (run \`cocon chroot session recover\`)`);
    const r = this.chroots.store.get(rec.chroot);
    // the session's root as the holder sees it (through its namespace): users added to passwd land there
    const view = new BaseView(`/proc/${rec.owner.pid}/root${rec.root}`);
    const { plan, argv } = await this.chroots.prepare(
      r,
      { ...o, profile: rec.profile },
      { view, setup: false, planRoot: rec.root },
    );
    return enterSession(rec.owner.pid, plan, argv, o.stdio ?? 'inherit');
  }

  /** Refuses a non-root caller acting on another user's session. */
  checkOwner(rec: SessionRecord, uid: number): void {
    if (uid !== 0 && rec.uid !== uid) throw new NotFound(`no such chroot session: ${rec.id}`);
  }

  /** Ends a session: kills its processes (its mounts go with the last one), removes its files. */
  async end(id: string, uid = 0): Promise<void> {
    const rec = this.read(id);
    if (!rec) {
      if (!ID_RE.test(id)) throw new NotFound(`no such chroot session: ${id}`);
      const dir = this.sessionDir(id);
      try {
        readdirSync(dir);
      } catch {
        throw new NotFound(`no such chroot session: ${id}`);
      }
      await this.removeDir(dir);
      return;
    }
    this.checkOwner(rec, uid);
    if (rec.ns) await killMountNs(rec.ns);
    if (rec.ephemeral) await killProcessesInRoot(rec.root);
    await this.removeDir(this.sessionDir(id));
  }

  private async removeDir(dir: string): Promise<void> {
    const left = mountsUnderAnywhere(dir);
    if (left.length) {
      // a process we could not name still holds the namespace: find it by its root and kill it
      await killProcessesInRoot(join(dir, 'root'));
      await new Promise((r) => setTimeout(r, 50));
      if (mountsUnderAnywhere(dir).length)
        throw new Conflict(`session directory ${dir} still has mounts: ${mountsUnderAnywhere(dir).join(', ')}`);
    }
    await removeTree(dir);
  }

  /**
   * Ends every session whose owner is gone (crash, SIGKILL) and removes directories left without a
   * record for more than a minute. Returns the ids cleaned.
   */
  async recover(): Promise<string[]> {
    let ids: string[] = [];
    try {
      ids = readdirSync(this.dir);
    } catch {
      return [];
    }
    const cleaned: string[] = [];
    for (const id of ids) {
      const rec = this.read(id);
      if (rec ? alive(rec.owner) : !this.stale(id)) continue;
      try {
        await this.end(id);
        cleaned.push(id);
      } catch {
        /* left for the next recover */
      }
    }
    return cleaned;
  }

  private stale(id: string): boolean {
    try {
      return Date.now() - statSync(this.sessionDir(id)).mtimeMs > 60_000;
    } catch {
      return true;
    }
  }

  /** The pids running commands in a session (its holder left out), for ls. */
  processes(rec: SessionRecord): number[] {
    const pids = rec.ns ? pidsInMountNs(rec.ns) : processesInRoot(rec.root);
    return pids.filter((p) => p !== rec.owner.pid);
  }

  /** Removes every session of a chroot (chroot rm -f). */
  async endAllOf(name: string): Promise<void> {
    for (const s of this.of(name)) await this.end(s.id);
  }
}
