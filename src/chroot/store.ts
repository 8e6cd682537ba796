// Where chroots live and how their records are kept.
//
//   <data-root>/chroots/<name>/chroot.json   the record (written to a temp file, then renamed)
//   <data-root>/chroots/<name>/root/         the root directory
//   <data-root>/chroots/.cache/<key>.tar.zst a debootstrap result, extracted by the next create
//   <data-root>/chroots/.cache/<key>.json    what that tarball holds
//
// Creating the <name> directory (mkdir, not recursive) is the lock that makes a name taken; a
// record in state "creating" belongs to a create that is running or was killed (`chroot rm`
// removes it).
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Conflict, NotFound } from '../core/errors.js';
import { privateDir } from '../sys/perms.js';

export type ChrootKind = 'debootstrap' | 'image' | 'jail' | 'tar';

export interface ChrootRecord {
  name: string;
  kind: ChrootKind;
  state: 'creating' | 'ready';
  created: string; // ISO 8601
  arch: string; // Debian architecture of the root's programs
  // debootstrap
  suite?: string;
  variant?: string;
  include?: string[];
  mirror?: string;
  cacheKey?: string;
  fromCache?: boolean;
  /** The tool that built the root (or the cached tarball it came from); absent in older records. */
  builder?: 'mmdebstrap' | 'debootstrap';
  // image
  image?: string;
  imageId?: string;
  // tar
  tarball?: string;
  // jail
  program?: string;
  programArgs?: string[];
  user?: { name: string; uid: number; gid: number };
  copies?: string[];
  /** Profile used when a run names none (see ./profile.ts); absent = default. */
  profile?: string;
  /** Who may enter without being root (through the daemon): user names and group names. */
  users?: string[];
  groups?: string[];
  /** Seconds the create took. */
  buildSeconds?: number;
  /** Notes shown by inspect (e.g. "apt ignores Valid-Until: the mirror's sid Release expired"). */
  notes?: string[];
}

export const DEFAULT_DATA_ROOT = '/var/lib/cocon';

export class ChrootStore {
  readonly dir: string;
  readonly cacheDir: string;
  constructor(readonly dataRoot: string) {
    this.dir = join(dataRoot, 'chroots');
    this.cacheDir = join(this.dir, '.cache');
  }

  /** chroots/ and its cache are private (0700; an older cocon's 0755 is tightened): roots hold secrets too. */
  ensure(): void {
    privateDir(this.dir);
    privateDir(this.cacheDir);
  }
  chrootDir(name: string): string {
    return join(this.dir, name);
  }
  rootDir(name: string): string {
    return join(this.dir, name, 'root');
  }
  recordFile(name: string): string {
    return join(this.dir, name, 'chroot.json');
  }

  /** Takes the name: throws Conflict when it is in use. */
  claim(name: string): void {
    this.ensure();
    try {
      mkdirSync(this.chrootDir(name), { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new Conflict(`chroot "${name}" already exists`);
      throw e;
    }
  }

  write(rec: ChrootRecord): void {
    const f = this.recordFile(rec.name);
    const tmp = `${f}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(rec, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, f);
  }

  /** The record, or undefined when the name has a directory but no record yet (a create just began). */
  read(name: string): ChrootRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.recordFile(name), 'utf8')) as ChrootRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  get(name: string): ChrootRecord {
    const rec = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name) ? this.read(name) : undefined;
    if (!rec) throw new NotFound(`no such chroot: ${name}`);
    return rec;
  }

  exists(name: string): boolean {
    return existsSync(this.chrootDir(name));
  }

  /** Every chroot directory name (records may be missing for one being created). */
  names(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names.filter((n) => !n.startsWith('.')).sort();
  }

  list(): ChrootRecord[] {
    const out: ChrootRecord[] = [];
    for (const n of this.names()) {
      const r = this.read(n);
      if (r) out.push(r);
    }
    return out;
  }

  cacheTar(key: string): string {
    return join(this.cacheDir, `${key}.tar.zst`);
  }
  cacheMeta(key: string): string {
    return join(this.cacheDir, `${key}.json`);
  }
}
