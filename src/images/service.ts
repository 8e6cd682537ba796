// The image service (implements ImageStore, ./types.ts): local images.
//
// Lifecycle: an image is created by import (a rootfs tar, from the request body or a URL) or by
// bootstrapBusybox (the host's busybox-static), from layers ingested into the content store
// (src/content) and applied as snapshot directories (src/snapshots); it is named by tags (image_tags);
// it is removed by remove() (docker rmi semantics) when no container uses it, or with force.
// Image id = "sha256:" + sha256 of the canonical image configuration blob, stored in the content store.
//
// State: SQLite tables images (JSON ImageRecord), image_tags (normalised ref -> image id), layers,
// layer_holds ('image:<id>' -> its top chain id, written and deleted in the image row's transaction).
// Every change of records happens in one transaction; files are written first (blobs, layer dirs)
// and removed last, so a crash leaves at most unreferenced files, never a record without its files.
// Layer garbage collection: a layer stays while a hold (an image; a force-deleted image while
// containers use it), a pull/load in flight (pin) or another snapshot (a container's writable
// snapshot, a child layer) needs it: the snapshotter refuses to remove a layer something is built on.
//
// Errors: NotFound("No such image: <familiar ref with tag>"), InvalidArgument (bad reference, bad
// change, bad tar), Conflict (rmi of an image in use / with several tags without force),
// Internal (host lacks busybox-static).
import {
  readFileSync,
  readdirSync,
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { canonicalJson } from './canonical.js';
import type { DaemonConfig } from '../core/config.js';
import type { DB } from '../store/db.js';
import type { EventBus } from '../core/events.js';
import { Conflict, Internal, InvalidArgument, NotFound } from '../core/errors.js';
import { labelsMatch } from '../core/filters.js';
import { ContentStore } from '../content/store.js';
import { OverlaySnapshotter, type LayerRow } from '../snapshots/overlay.js';
import { chainIds as computeChainIds } from '../snapshots/chain.js';
import { applyToMounts } from '../sys/tar/extract.js';
import { packTree } from '../sys/tar/pack.js';
import { LAYER, LayerError } from '../sys/tar/rules.js';
import { decompressor, sniff } from '../sys/compress.js';
import { runOk } from '../sys/exec.js';
import type { ImageConfig, ImageHistory, ImageRecord, ImageStore, LayerBlob } from './types.js';
import { applyChanges } from './changes.js';
import {
  familiarize,
  familiarMatch,
  idPrefix,
  isIdPrefixOf,
  normalize,
  notFoundName,
  parse,
  parseNormalized,
  refString,
  shortId,
  targetReference,
  withDefaultTag,
} from './reference.js';

/** Who uses an image: container ids, optionally with their running state (running -> hard conflict). */
export type ImageUser = string | { id: string; running: boolean };
export type UsageCheck = (imageId: string) => ImageUser[];

export interface ImageSummary {
  Containers: number;
  Created: number;
  Id: string;
  Labels: Record<string, string> | null;
  ParentId: string;
  RepoDigests: string[] | null;
  RepoTags: string[] | null;
  SharedSize: number;
  Size: number;
  VirtualSize: number;
}

export interface HistoryItem {
  Comment: string;
  Created: number;
  CreatedBy: string;
  Id: string;
  Size: number;
  Tags: string[] | null;
}

export type DeleteItem = { Untagged: string } | { Deleted: string };

export interface ImportOptions {
  /** Repository (may carry :tag), e.g. "imported:v1"; no repo -> untagged image. */
  repo?: string;
  tag?: string;
  /** Dockerfile-subset change lines (CMD, ENV, ...). */
  changes?: string[];
  /** Commit message; default "Imported from <fromSrc>". */
  message?: string;
  /** "-" or the URL the tar came from (for the comment). */
  fromSrc?: string;
  platform?: string;
}

export interface CommitImageOptions {
  parent?: ImageRecord;
  /** The new layer as an uncompressed tar; absent for a config-only step (an empty_layer history line). */
  layer?: Readable;
  config: ImageConfig;
  createdBy: string;
  comment?: string;
  author?: string;
  buildCacheKey?: string;
}

export interface ListOptions {
  all?: boolean;
  filters?: Record<string, string[]>;
}

const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const ZERO_TIME = '0001-01-01T00:00:00Z';
const BUSYBOX = '/bin/busybox';

function unixSeconds(rfc3339: string): number {
  const t = Date.parse(rfc3339);
  return Number.isFinite(t) ? Math.floor(t / 1000) : 0;
}

function rfc3339(d: Date): string {
  return d.toISOString();
}

/** docker's container.Config as shown in inspect's Config / ContainerConfig. */
function dockerConfig(c: ImageConfig | null): Record<string, unknown> {
  const x = c ?? {};
  const out: Record<string, unknown> = {
    Hostname: '',
    Domainname: '',
    User: x.User ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
  };
  if (x.ExposedPorts && Object.keys(x.ExposedPorts).length) out.ExposedPorts = x.ExposedPorts;
  Object.assign(out, {
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: x.Env ?? null,
    Cmd: x.Cmd ?? null,
    Image: '',
    Volumes: x.Volumes && Object.keys(x.Volumes).length ? x.Volumes : null,
    WorkingDir: x.WorkingDir ?? '',
    Entrypoint: x.Entrypoint ?? null,
    OnBuild: x.OnBuild ?? null,
    Labels: x.Labels && Object.keys(x.Labels).length ? x.Labels : null,
  });
  if (x.StopSignal) out.StopSignal = x.StopSignal;
  return out;
}

/** Which compression a file starts with (docker import accepts all of these). */
export class ImageService implements ImageStore {
  readonly content: ContentStore;
  readonly snapshots: OverlaySnapshotter;
  private queue: Promise<unknown> = Promise.resolve();
  /** Chain ids an operation in flight (pull, load) relies on: never garbage-collected. */
  private pinned = new Map<string, number>();

  constructor(
    private readonly config: DaemonConfig,
    private readonly db: DB,
    private readonly events: EventBus,
    snapshots?: OverlaySnapshotter,
    /** Who uses an image (the containers side; rmi conflicts). */
    private readonly usage: UsageCheck = () => [],
  ) {
    this.content = new ContentStore(join(config.dataRoot, 'content'));
    this.snapshots = snapshots ?? new OverlaySnapshotter(join(config.dataRoot, 'overlay'), db);
    this.content.sweepIngests();
    this.snapshots.sweep();
    this.migrateHoldsFile();
    for (const e of readdirSync(config.dataRoot)) {
      if (
        e.startsWith('tmp-bootstrap-') ||
        e.startsWith('tmp-load-') ||
        e.startsWith('tmp-build-') ||
        e.startsWith('tmp-add-')
      )
        rmSync(join(config.dataRoot, e), { recursive: true, force: true });
    }
  }

  /** Serialises mutations (import, tag, remove) so layer sharing and tag moves never race. */
  private exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  // ---------------------------------------------------------------- reads

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM images').get() as { n: number }).n;
  }

  all(): ImageRecord[] {
    return (this.db.prepare('SELECT record FROM images').all() as Array<{ record: string }>).map(
      (r) => JSON.parse(r.record) as ImageRecord,
    );
  }

  byId(id: string): ImageRecord | undefined {
    const r = this.db.prepare('SELECT record FROM images WHERE id = ?').get(id) as { record: string } | undefined;
    return r ? (JSON.parse(r.record) as ImageRecord) : undefined;
  }

  /** Resolves like docker's GetImage; `viaId` tells whether the ref named the image by (short) id. */
  resolve(ref: string): { image: ImageRecord; viaId: boolean } {
    if (/^[a-f0-9]{64}$/.test(ref)) {
      const img = this.byId('sha256:' + ref);
      if (img) return { image: img, viaId: true };
      throw new NotFound(`No such image: sha256:${ref}`);
    }
    const parsed = parseNormalized(ref); // InvalidArgument on bad references, as docker
    const key = refString(withDefaultTag(parsed));
    const row = this.db.prepare('SELECT image_id FROM image_tags WHERE ref = ?').get(key) as
      | { image_id: string }
      | undefined;
    if (row) {
      const img = this.byId(row.image_id);
      if (img) return { image: img, viaId: false };
    }
    const prefix = idPrefix(ref);
    if (prefix !== undefined) {
      const rows = this.db.prepare('SELECT id FROM images WHERE id LIKE ?').all(`sha256:${prefix}%`) as Array<{
        id: string;
      }>;
      if (rows.length === 1) return { image: this.byId(rows[0].id)!, viaId: true };
    }
    throw new NotFound(`No such image: ${notFoundName(ref)}`);
  }

  get(ref: string): ImageRecord {
    return this.resolve(ref).image;
  }

  layerDirs(image: ImageRecord): string[] {
    return [...image.chainIds].reverse().map((c) => this.snapshots.diffDir(c));
  }

  /**
   * The top layer (chain id) of an image: of its record, or of the hold a force-deleted image that
   * containers still use left; null for an image without layers, undefined for an unknown image.
   */
  topLayer(imageId: string): string | null | undefined {
    const img = this.byId(imageId);
    if (img) return img.chainIds.length ? img.chainIds[img.chainIds.length - 1] : null;
    const row = this.db.prepare('SELECT chain_id FROM layer_holds WHERE holder = ?').get('image:' + imageId) as
      | { chain_id: string }
      | undefined;
    return row?.chain_id;
  }

  /** Fully qualified refs (docker.io/library/busybox:latest) pointing at an image, sorted. */
  private refsOf(imageId: string): string[] {
    return (
      this.db.prepare('SELECT ref FROM image_tags WHERE image_id = ? ORDER BY ref').all(imageId) as Array<{
        ref: string;
      }>
    ).map((r) => r.ref);
  }

  repoTags(imageId: string): string[] {
    return this.refsOf(imageId)
      .filter((r) => parse(r).tag !== undefined)
      .map(familiarize)
      .sort();
  }

  private repoDigests(imageId: string): string[] {
    return this.refsOf(imageId)
      .filter((r) => parse(r).digest !== undefined)
      .map(familiarize)
      .sort();
  }

  list(opts: ListOptions = {}): ImageSummary[] {
    const f = opts.filters ?? {};
    for (const k of Object.keys(f)) {
      if (!['dangling', 'label', 'before', 'since', 'reference'].includes(k))
        throw new InvalidArgument(`invalid filter '${k}'`);
    }
    let dangling: boolean | undefined;
    for (const v of f.dangling ?? []) {
      if (v.toLowerCase() === 'true' || v === '1') dangling = true;
      else if (v.toLowerCase() === 'false' || v === '0') dangling = false;
      else throw new InvalidArgument(`Invalid filter 'dangling=${v}'`);
    }
    const beforeT = f.before?.length ? Math.min(...f.before.map((r) => Date.parse(this.get(r).created))) : undefined;
    const sinceT = f.since?.length ? Math.max(...f.since.map((r) => Date.parse(this.get(r).created))) : undefined;
    const images = this.all();
    const parents = new Set(images.map((i) => i.parent).filter((p): p is string => !!p));
    const out: ImageSummary[] = [];
    for (const img of images) {
      const created = Date.parse(img.created);
      if (beforeT !== undefined && !(created < beforeT)) continue;
      if (sinceT !== undefined && !(created > sinceT)) continue;
      if (!labelsMatch(img.config.Labels, { label: f.label ?? [] })) continue;
      let tags = this.refsOf(img.id).filter((r) => parse(r).tag !== undefined);
      const digests = this.refsOf(img.id).filter((r) => parse(r).digest !== undefined);
      const isDangling = tags.length === 0 && digests.length === 0;
      if (dangling === true && !isDangling) continue;
      if (dangling === false && isDangling) continue;
      if (f.reference?.length) {
        tags = tags.filter((t) => f.reference!.some((p) => familiarMatch(p, t)));
        if (tags.length === 0) continue;
      }
      let repoTags: string[] | null = tags.map(familiarize).sort();
      let repoDigests: string[] | null = digests.map(familiarize).sort();
      if (isDangling) {
        if (!opts.all && dangling === undefined && parents.has(img.id)) continue; // intermediate layer image
        repoTags = ['<none>:<none>'];
        repoDigests = ['<none>@<none>'];
      } else {
        if (repoDigests.length === 0) repoDigests = null;
        if (repoTags.length === 0) repoTags = null;
      }
      const labels = img.config.Labels && Object.keys(img.config.Labels).length ? img.config.Labels : null;
      out.push({
        Containers: -1,
        Created: unixSeconds(img.created),
        Id: img.id,
        Labels: labels,
        ParentId: img.parent ?? '',
        RepoDigests: repoDigests,
        RepoTags: repoTags,
        SharedSize: -1,
        Size: img.size,
        VirtualSize: img.size,
      });
    }
    out.sort((a, b) => b.Created - a.Created || a.Id.localeCompare(b.Id));
    return out;
  }

  /** GET /images/{name}/json */
  inspect(ref: string): Record<string, unknown> {
    let img: ImageRecord;
    try {
      img = this.get(ref);
    } catch (e) {
      // dockerd 20.10 wraps the lookup error here (see inspect-missing.txt)
      if (e instanceof NotFound) throw new NotFound(`no such image: ${ref}: ${e.message}`);
      throw e;
    }
    const dirs = this.layerDirs(img);
    const top = img.chainIds.length ? this.snapshots.dir(img.chainIds[img.chainIds.length - 1]) : '';
    const data: Record<string, string> = {};
    if (dirs.length > 1) data.LowerDir = dirs.slice(1).join(':');
    if (top)
      Object.assign(data, { MergedDir: join(top, 'merged'), UpperDir: join(top, 'diff'), WorkDir: join(top, 'work') });
    return {
      Id: img.id,
      RepoTags: this.repoTags(img.id),
      RepoDigests: this.repoDigests(img.id),
      Parent: img.parent ?? '',
      Comment: img.comment ?? '',
      Created: img.created,
      Container: '',
      ContainerConfig: dockerConfig(null),
      DockerVersion: '',
      Author: img.author ?? '',
      Config: dockerConfig(img.config),
      Architecture: img.architecture,
      Os: img.os,
      Size: img.size,
      VirtualSize: img.size,
      GraphDriver: { Data: data, Name: 'overlay2' },
      RootFS: { Type: 'layers', Layers: [...img.diffIds] },
      Metadata: { LastTagTime: img.lastTagTime ?? ZERO_TIME },
    };
  }

  /** GET /images/{name}/history: newest first; only the top entry names the image. */
  history(ref: string): HistoryItem[] {
    const img = this.get(ref);
    const sizes = img.layerSizes ?? img.chainIds.map((c) => this.snapshots.get(c)?.size ?? 0);
    const hist: ImageHistory[] = img.history?.length ? img.history : img.diffIds.map(() => ({ created: img.created }));
    const items: HistoryItem[] = [];
    let layer = 0;
    for (const h of hist) {
      let size = 0;
      if (!h.empty_layer) {
        size = sizes[layer] ?? 0;
        layer++;
      }
      items.unshift({
        Comment: h.comment ?? '',
        Created: unixSeconds(h.created ?? img.created),
        CreatedBy: h.created_by ?? '',
        Id: '<missing>',
        Size: size,
        Tags: null,
      });
    }
    if (items.length) {
      items[0].Id = img.id;
      const tags = this.repoTags(img.id);
      items[0].Tags = tags.length ? tags : null;
    }
    return items;
  }

  // ---------------------------------------------------------------- tags

  /** POST /images/{name}/tag?repo=&tag= */
  tag(source: string, repo: string, tag?: string): Promise<void> {
    return this.exclusive(() => {
      const img = this.get(source);
      if (!repo) throw new InvalidArgument('repository name must have at least one component');
      const target = targetReference(repo, tag);
      this.setTag(refString(target), img.id);
    });
  }

  /** Points a fully qualified tag at an image (moving it from another image, which then may dangle). */
  private setTag(fullRef: string, imageId: string): void {
    const now = rfc3339(new Date());
    this.db.transaction(() => {
      this.db
        .prepare(
          'INSERT INTO image_tags (ref, image_id) VALUES (?, ?) ON CONFLICT(ref) DO UPDATE SET image_id = excluded.image_id',
        )
        .run(fullRef, imageId);
      const rec = this.byId(imageId);
      if (rec) {
        rec.lastTagTime = now;
        this.db.prepare('UPDATE images SET record = ? WHERE id = ?').run(JSON.stringify(rec), imageId);
      }
    })();
    this.events.publish('image', 'tag', imageId, { name: familiarize(fullRef) });
  }

  // ---------------------------------------------------------------- remove

  /** DELETE /images/{name}?force=&noprune= with docker's (20.10) rules and messages. */
  remove(ref: string, force = false, noprune = false): Promise<DeleteItem[]> {
    return this.exclusive(() => {
      const out = this.removeNow(ref, force, noprune);
      this.gcNow();
      return out;
    });
  }

  private users(imageId: string): Array<{ id: string; running: boolean }> {
    return this.usage(imageId).map((u) => (typeof u === 'string' ? { id: u, running: false } : u));
  }

  private removeNow(ref: string, force: boolean, noprune = false): DeleteItem[] {
    const { image } = this.resolve(ref);
    const id = image.id;
    const records: DeleteItem[] = [];
    const refs = this.refsOf(id);
    const viaId = isIdPrefixOf(id, ref) && !refs.includes(safeNormalize(ref));
    if (!viaId) {
      const key = refString(withDefaultTag(parseNormalized(ref)));
      if (!force && refs.length === 1) {
        const user = this.users(id)[0];
        if (user)
          throw new Conflict(
            `conflict: unable to remove repository reference "${ref}" (must force) - container ${shortId(user.id)} is using its referenced image ${shortId(id)}`,
          );
      }
      this.untag(key, id);
      records.push({ Untagged: familiarize(key) });
      const removed = parse(key);
      if (
        removed.digest === undefined &&
        !this.refsOf(id).some((r) => {
          const p = parse(r);
          return p.tag !== undefined && p.name === removed.name;
        })
      ) {
        // the repository's last tag is gone: its digest references go too (as dockerd does)
        for (const r of this.refsOf(id)) {
          const p = parse(r);
          if (p.digest !== undefined && p.tag === undefined && p.name === removed.name) {
            this.untag(r, id);
            records.push({ Untagged: familiarize(r) });
          }
        }
      }
      if (this.refsOf(id).length > 0) return records;
      // the last name is gone: delete the image unless it is in use (then it stays, dangling)
      const conflict = this.conflict(id, force ? 'hard' : 'all');
      if (conflict) {
        if (conflict.used) return records;
        throw new Conflict(conflict.message);
      }
      this.deleteImage(image, records, !noprune);
      return records;
    }
    // by id
    if (refs.length <= 1) {
      const c = this.conflict(id, force ? 'hard' : 'hard+stopped');
      if (c) throw new Conflict(c.message);
      for (const r of refs) {
        this.untag(r, id);
        records.push({ Untagged: familiarize(r) });
      }
    }
    const c = this.conflict(id, force ? 'hard' : 'all');
    if (c) throw new Conflict(c.message);
    for (const r of this.refsOf(id)) {
      this.untag(r, id);
      records.push({ Untagged: familiarize(r) });
    }
    this.deleteImage(image, records, !noprune);
    return records;
  }

  private conflict(id: string, mask: 'hard' | 'hard+stopped' | 'all'): { message: string; used: boolean } | undefined {
    const msg = (hard: boolean, m: string) =>
      `conflict: unable to delete ${shortId(id)} (${hard ? 'cannot be forced' : 'must be forced'}) - ${m}`;
    const children = this.all().filter((i) => i.parent === id);
    if (children.length) return { message: msg(true, 'image has dependent child images'), used: false };
    const users = this.users(id);
    const running = users.find((u) => u.running);
    if (running)
      return { message: msg(true, `image is being used by running container ${shortId(running.id)}`), used: true };
    if (mask === 'all' && this.refsOf(id).length > 0)
      return { message: msg(false, 'image is referenced in multiple repositories'), used: false };
    if (mask !== 'hard') {
      const stopped = users.find((u) => !u.running);
      if (stopped)
        return { message: msg(false, `image is being used by stopped container ${shortId(stopped.id)}`), used: true };
    }
    return undefined;
  }

  private untag(fullRef: string, imageId: string): void {
    this.db.prepare('DELETE FROM image_tags WHERE ref = ?').run(fullRef);
    this.events.publish('image', 'untag', imageId, { name: imageId });
  }

  /** Deletes the image record, its config blob and the layers no other image (or user) needs. */
  private deleteImage(image: ImageRecord, records: DeleteItem[], pruneParents = true): void {
    // A force-deleted image that a container still uses keeps its hold (and so its layers) until no
    // container uses that image id any more (then gcLayers() collects them); the containers' own
    // snapshots are built on those layers too, and the snapshotter refuses to remove them meanwhile.
    const used = this.users(image.id).length > 0;
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM image_tags WHERE image_id = ?').run(image.id);
      this.db.prepare('DELETE FROM images WHERE id = ?').run(image.id);
      if (!used) this.db.prepare('DELETE FROM layer_holds WHERE holder = ?').run('image:' + image.id);
    })();
    this.events.publish('image', 'delete', image.id, { name: image.id });
    records.push({ Deleted: image.id });
    this.content.delete(image.id);
    const stillUsed = new Set(this.all().flatMap((i) => (i.layerBlobs ?? []).map((b) => b?.digest)));
    for (const b of image.layerBlobs ?? [])
      if (b && !stillUsed.has(b.digest) && !image.diffIds.includes(b.digest)) this.content.delete(b.digest);
    const needed = this.neededLayers();
    for (const c of [...image.chainIds].reverse()) {
      if (needed.has(c)) continue;
      if (this.removeLayer(c)) records.push({ Deleted: c });
    }
    // an untagged parent nothing else uses (a build's intermediate image) goes with its last child, as docker prunes it
    const parent = pruneParents && image.parent ? this.byId(image.parent) : undefined;
    if (
      parent &&
      this.refsOf(parent.id).length === 0 &&
      !this.all().some((i) => i.parent === parent.id) &&
      this.users(parent.id).length === 0
    ) {
      this.deleteImage(parent, records);
    }
  }

  /** Removes a layer unless another snapshot is built on it (then false); its blob when no image names it. */
  private removeLayer(chainId: string): boolean {
    const row = this.snapshots.get(chainId);
    try {
      this.snapshots.removeNow(chainId);
    } catch (e) {
      if (e instanceof Conflict) return false;
      if (!(e instanceof NotFound)) throw e;
    }
    if (row && !this.all().some((i) => i.diffIds.includes(row.diffId))) this.content.delete(row.diffId);
    return true;
  }

  /**
   * Installs of before layer_holds kept the holds of force-deleted images in overlay/holds.json
   * ({image id: chain ids, bottom first}): they become rows (the top chain id holds the rest), once.
   */
  private migrateHoldsFile(): void {
    const file = join(this.snapshots.root, 'holds.json');
    if (!existsSync(file)) return;
    let holds: Record<string, unknown> = {};
    try {
      holds = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch {
      /* unreadable: nothing to keep */
    }
    const add = this.db.prepare('INSERT OR IGNORE INTO layer_holds (holder, chain_id) VALUES (?, ?)');
    this.db.transaction(() => {
      for (const [imageId, chains] of Object.entries(holds)) {
        if (Array.isArray(chains) && chains.length && typeof chains[chains.length - 1] === 'string')
          add.run('image:' + imageId, chains[chains.length - 1]);
      }
    })();
    rmSync(file, { force: true });
  }

  /**
   * Chain ids still needed: held (by an image, or by a deleted image that a container still uses),
   * pinned by an operation in flight, and every parent of those. Holds of deleted images that no
   * container uses any more are dropped here.
   */
  private neededLayers(): Set<string> {
    const roots = new Set(this.pinned.keys());
    const stale: string[] = [];
    for (const h of this.db.prepare('SELECT holder, chain_id FROM layer_holds').all() as Array<{
      holder: string;
      chain_id: string;
    }>) {
      const imageId = h.holder.startsWith('image:') ? h.holder.slice(6) : undefined;
      if (imageId && !this.byId(imageId) && this.users(imageId).length === 0) {
        stale.push(h.holder);
        continue;
      }
      roots.add(h.chain_id);
    }
    if (stale.length)
      this.db.transaction(() => {
        for (const h of stale) this.db.prepare('DELETE FROM layer_holds WHERE holder = ?').run(h);
      })();
    const parents = new Map(this.snapshots.list().map((l) => [l.chainId, l.parent]));
    const needed = new Set<string>();
    for (const r of roots) {
      for (let c: string | null | undefined = r; c && !needed.has(c); c = parents.get(c)) needed.add(c);
    }
    return needed;
  }

  /**
   * Removes layers no image and no container needs (those of force-deleted images once their
   * containers are gone, and any left by an interrupted import). Returns the removed chain ids.
   * The containers side may call it after removing a container; rmi and prune call it too.
   */
  gcLayers(): Promise<string[]> {
    return this.exclusive(() => this.gcNow());
  }

  private gcNow(): string[] {
    const needed = this.neededLayers();
    const layers = this.snapshots.list();
    const parents = new Map(layers.map((l) => [l.chainId, l.parent]));
    const depth = (c: string): number => {
      let n = 0;
      for (let p = parents.get(c); p; p = parents.get(p)) n++;
      return n;
    };
    const removed: string[] = [];
    // Children before their parents: the snapshotter refuses to remove a layer something is built on.
    for (const l of layers.filter((x) => !needed.has(x.chainId)).sort((a, b) => depth(b.chainId) - depth(a.chainId))) {
      if (this.removeLayer(l.chainId)) removed.push(l.chainId);
    }
    return removed;
  }

  /**
   * POST /images/prune: removes dangling images (or, with dangling=false, every image no container
   * uses), honouring label / label! / until filters. Returns docker's ImagesDeleted + SpaceReclaimed.
   */
  prune(
    filters: Record<string, string[]> = {},
  ): Promise<{ ImagesDeleted: DeleteItem[] | null; SpaceReclaimed: number }> {
    for (const k of Object.keys(filters)) {
      if (!['dangling', 'label', 'label!', 'until'].includes(k)) throw new InvalidArgument(`invalid filter '${k}'`);
    }
    let danglingOnly = true;
    for (const v of filters.dangling ?? []) {
      if (['false', '0'].includes(v.toLowerCase())) danglingOnly = false;
      else if (!['true', '1'].includes(v.toLowerCase())) throw new InvalidArgument(`Invalid filter 'dangling=${v}'`);
    }
    let until: number | undefined;
    for (const v of filters.until ?? []) {
      const t = /^\d+(\.\d+)?$/.test(v)
        ? Number(v) * 1000
        : /^\d+[smh]$/.test(v)
          ? Date.now() - Number(v.slice(0, -1)) * { s: 1e3, m: 6e4, h: 3.6e6 }[v.slice(-1) as 's' | 'm' | 'h']
          : Date.parse(v);
      if (!Number.isFinite(t)) throw new InvalidArgument(`invalid filter 'until=${v}'`);
      until = t;
    }
    return this.exclusive(() => {
      const deleted: DeleteItem[] = [];
      let reclaimed = 0;
      const sizes0 = new Map(this.snapshots.list().map((l) => [l.chainId, l.size]));
      for (const img of this.all()) {
        if (!this.byId(img.id)) continue;
        if (danglingOnly && this.refsOf(img.id).length > 0) continue;
        if (this.users(img.id).length > 0) continue;
        if (this.all().some((i) => i.parent === img.id)) continue;
        if (until !== undefined && !(Date.parse(img.created) < until)) continue;
        if (!labelsMatch(img.config.Labels, filters)) continue;
        for (const r of this.refsOf(img.id)) {
          this.untag(r, img.id);
          deleted.push({ Untagged: familiarize(r) });
        }
        const before = new Set(this.snapshots.list().map((l) => l.chainId));
        const sizes = new Map(this.snapshots.list().map((l) => [l.chainId, l.size]));
        this.deleteImage(img, deleted);
        for (const c of before) if (!this.snapshots.get(c)) reclaimed += sizes.get(c) ?? 0;
      }
      for (const c of this.gcNow()) reclaimed += sizes0.get(c) ?? 0;
      return { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
    });
  }

  // ---------------------------------------------------------------- create

  /**
   * Imports a rootfs tar (optionally gzip/bzip2/xz/zstd compressed) as a one-layer image.
   * Validates repo and changes before reading anything; on any failure nothing is recorded and no
   * layer or blob is left. Returns the image id.
   */
  async import(src: Readable, opts: ImportOptions = {}): Promise<string> {
    const target = opts.repo ? targetReference(opts.repo, opts.tag) : undefined;
    if (!opts.repo && opts.tag) throw new InvalidArgument('tag is specified without a repository');
    const cfg = applyChanges({}, opts.changes ?? []);
    if (opts.platform && !/^linux(\/amd64)?$/.test(opts.platform))
      throw new InvalidArgument(`image operating system/architecture "${opts.platform}" is not supported`);
    const created = rfc3339(new Date());
    const comment = opts.message || `Imported from ${opts.fromSrc ?? '-'}`;
    return this.exclusive(async () => {
      const id = await this.createFromTar(src, cfg, {
        created,
        comment,
        history: [{ created, comment }],
      });
      this.events.publish('image', 'import', id, { name: id });
      if (target) this.setTag(refString(target), id);
      return id;
    });
  }

  /** Downloads a tar from an http(s) URL and imports it (fromSrc=<url>). */
  async importUrl(url: string, opts: ImportOptions = {}): Promise<string> {
    const u = /^https?:\/\//.test(url) ? url : 'http://' + url;
    // validate before downloading
    if (opts.repo) targetReference(opts.repo, opts.tag);
    applyChanges({}, opts.changes ?? []);
    let resp: Response;
    try {
      resp = await fetch(u);
    } catch (e) {
      throw new Internal(
        `Get "${u}": ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`,
      );
    }
    if (!resp.ok || !resp.body) throw new Internal(`Get "${u}": unexpected status ${resp.status}`);
    const body = Readable.fromWeb(resp.body as import('node:stream/web').ReadableStream<Uint8Array>);
    return this.import(body, { ...opts, fromSrc: opts.fromSrc ?? u });
  }

  /** Ingests, decompresses, applies and records one layer + config. Caller holds the lock. */
  private async createFromTar(
    src: Readable,
    cfg: ImageConfig,
    meta: { created: string; comment?: string; history: ImageHistory[]; author?: string },
  ): Promise<string> {
    const raw = this.content.begin();
    let layerIngest = raw;
    let createdLayer: LayerRow | undefined;
    try {
      await raw.write(src);
      if (raw.size === 0) throw new InvalidArgument('failed to import: empty archive');
      const kind = sniff(await raw.head(6));
      if (kind !== 'none') {
        layerIngest = this.content.begin();
        const plain = (await raw.open()).pipe(decompressor(kind));
        try {
          await layerIngest.write(plain);
        } catch (e) {
          throw new InvalidArgument(`failed to import: cannot decompress ${kind} archive: ${(e as Error).message}`);
        }
        raw.abort();
      }
      const diffId = layerIngest.digest();
      const applied = await this.snapshots.apply(() => layerIngest.open(), diffId, undefined);
      if (applied.created) createdLayer = applied.layer;
      await layerIngest.commit(diffId);
      const chain = computeChainIds([diffId]);
      const id = this.recordImage({
        created: meta.created,
        architecture: 'amd64',
        os: 'linux',
        config: cfg,
        diffIds: [diffId],
        chainIds: chain,
        size: applied.layer.size,
        comment: meta.comment,
        author: meta.author,
        history: meta.history,
        layerSizes: [applied.layer.size],
      });
      return id;
    } catch (e) {
      raw.abort();
      if (layerIngest !== raw) layerIngest.abort();
      if (createdLayer && !this.all().some((i) => i.chainIds.includes(createdLayer!.chainId))) {
        try {
          this.snapshots.removeNow(createdLayer.chainId);
        } catch (err) {
          if (!(err instanceof Conflict || err instanceof NotFound)) throw err;
        }
        if (!this.all().some((i) => i.diffIds.includes(createdLayer!.diffId))) this.content.delete(createdLayer.diffId);
      }
      if (e instanceof LayerError) throw new InvalidArgument(`failed to import: invalid tar archive: ${e.message}`);
      throw e;
    }
  }

  /** Writes the config blob and the image row; returns the id. Re-recording an existing image is a no-op. */
  private recordImage(r: Omit<ImageRecord, 'id'>): string {
    const blob: Record<string, unknown> = {
      architecture: r.architecture,
      os: r.os,
      created: r.created,
      config: r.config,
      rootfs: { type: 'layers', diff_ids: r.diffIds },
      history: r.history,
    };
    if (r.comment) blob.comment = r.comment;
    if (r.author) blob.author = r.author;
    if (r.parent) blob.parent = r.parent;
    const id = this.content.putBytes(canonicalJson(blob));
    const existing = this.byId(id);
    if (!existing) this.insertImage({ id, ...r });
    return id;
  }

  /** The image row and its layer hold, in one transaction. */
  private insertImage(rec: ImageRecord): void {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO images (id, created, record) VALUES (?, ?, ?)')
        .run(rec.id, rec.created, JSON.stringify(rec));
      const top = rec.chainIds[rec.chainIds.length - 1];
      if (top)
        this.db
          .prepare('INSERT OR IGNORE INTO layer_holds (holder, chain_id) VALUES (?, ?)')
          .run('image:' + rec.id, top);
    })();
  }

  // ---------------------------------------------------------------- registry side (pull, push, load)

  /** Runs fn under the image lock (serialised with import, tag, remove, prune). */
  withLock<T>(fn: () => Promise<T> | T): Promise<T> {
    return this.exclusive(fn);
  }

  /** Keeps layers from garbage collection while an operation that will reference them runs. */
  pin(chainIds: string[]): void {
    for (const c of chainIds) this.pinned.set(c, (this.pinned.get(c) ?? 0) + 1);
  }

  unpin(chainIds: string[]): void {
    for (const c of chainIds) {
      const n = (this.pinned.get(c) ?? 0) - 1;
      if (n > 0) this.pinned.set(c, n);
      else this.pinned.delete(c);
    }
  }

  /** Collects unreferenced layers (after a failed pull/load) unless another operation is in flight. */
  gcIfIdle(): Promise<string[]> {
    return this.exclusive(() => (this.pinned.size === 0 ? this.gcNow() : []));
  }

  /** The image a fully qualified tag/digest reference points at, if any. */
  idOfRef(fullRef: string): string | undefined {
    return (
      this.db.prepare('SELECT image_id FROM image_tags WHERE ref = ?').get(fullRef) as { image_id: string } | undefined
    )?.image_id;
  }

  /** Fully qualified references of an image (tags and digests). */
  refs(imageId: string): string[] {
    return this.refsOf(imageId);
  }

  /** Points a fully qualified reference at an image (with the tag event). */
  addRef(fullRef: string, imageId: string): void {
    this.setTag(fullRef, imageId);
  }

  /** Publishes an image event (pull, push, load) as dockerd logs them. */
  imageEvent(action: string, id: string, name: string): void {
    this.events.publish('image', action, id, { name });
  }

  /** Replaces the layer blob list of an image (push records the blobs it compressed). */
  setLayerBlobs(imageId: string, blobs: Array<LayerBlob | null>): void {
    const rec = this.byId(imageId);
    if (!rec) return;
    rec.layerBlobs = blobs;
    this.db.prepare('UPDATE images SET record = ? WHERE id = ?').run(JSON.stringify(rec), imageId);
  }

  /**
   * Records an image from its exact configuration blob (pull, load): the id is the blob's digest.
   * Every layer (chain ids from the config's diff_ids) must already be applied. Then points `refs`
   * (fully qualified) at it. Caller holds the lock (withLock). Returns the id and whether it was new.
   */
  recordConfigImage(
    configBytes: Buffer,
    layerBlobs: Array<LayerBlob | null>,
    refs: string[],
  ): { id: string; created: boolean } {
    const cfg = parseImageConfig(configBytes);
    const chain = computeChainIds(cfg.diffIds);
    const sizes: number[] = [];
    for (const c of chain) {
      const row = this.snapshots.get(c);
      if (!row || !existsSync(this.snapshots.diffDir(c))) throw new Internal(`layer ${c} is missing`);
      sizes.push(row.size);
    }
    const id = this.content.putBytes(configBytes);
    let created = false;
    const existing = this.byId(id);
    if (!existing) {
      const rec: ImageRecord = {
        id,
        created: cfg.created,
        architecture: cfg.architecture,
        os: cfg.os,
        config: cfg.config,
        diffIds: cfg.diffIds,
        chainIds: chain,
        size: sizes.reduce((a, b) => a + b, 0),
        comment: cfg.comment,
        author: cfg.author,
        history: cfg.history,
        layerSizes: sizes,
        layerBlobs,
      };
      this.insertImage(rec);
      created = true;
    } else if (layerBlobs.some((b) => b) && !(existing.layerBlobs ?? []).some((b) => b)) {
      this.setLayerBlobs(id, layerBlobs);
    }
    for (const r of refs) if (this.idOfRef(r) !== id) this.setTag(r, id);
    return { id, created };
  }

  /**
   * Builds busybox:latest from the host's busybox-static, reproducibly (same host binary -> same id):
   * bin/busybox + one symlink per applet, dirs bin dev etc proc root sys tmp, /etc/passwd and
   * /etc/group with root and nobody, packed with sorted entries, owners 0:0 and the binary's mtime.
   */
  async bootstrapBusybox(name = 'busybox:latest'): Promise<string> {
    const target = targetReference(name);
    if (!existsSync(BUSYBOX)) throw new Internal('host has no /bin/busybox: apt-get install busybox-static');
    return this.exclusive(async () => {
      const mtime = Math.floor(statSync(BUSYBOX).mtimeMs / 1000);
      const created = new Date(mtime * 1000).toISOString().replace(/\.000Z$/, 'Z');
      const work = mkdtempSync(join(this.config.dataRoot, 'tmp-bootstrap-'));
      try {
        const root = join(work, 'rootfs');
        mkdirSync(root, { mode: 0o755 });
        chmodSync(root, 0o755);
        for (const d of ['bin', 'dev', 'etc', 'proc', 'root', 'sys', 'tmp']) {
          mkdirSync(join(root, d));
          chmodSync(join(root, d), d === 'tmp' ? 0o1777 : d === 'root' ? 0o700 : 0o755);
        }
        copyFileSync(BUSYBOX, join(root, 'bin/busybox'));
        chmodSync(join(root, 'bin/busybox'), 0o755);
        const applets = (await runOk(BUSYBOX, ['--list']))
          .split('\n')
          .map((a) => a.trim())
          .filter((a) => a && a !== 'busybox' && !a.includes('/'));
        for (const a of [...new Set(applets)].sort()) symlinkSync('busybox', join(root, 'bin', a));
        writeFileSync(
          join(root, 'etc/passwd'),
          'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n',
        );
        writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnobody:x:65534:\n');
        for (const f of ['etc/passwd', 'etc/group']) chmodSync(join(root, f), 0o644);
        const cfg: ImageConfig = { Env: [DEFAULT_PATH_ENV], Cmd: ['sh'] };
        // the same busybox gives the same layer digest: sorted entries, owners 0:0, every mtime the binary's
        const layer = packTree(root, { rootEntry: true, policy: { rootOwner: true, mtime: new Date(mtime * 1000) } });
        const id = await this.createFromTar(layer, cfg, {
          created,
          comment: 'busybox-static from the host',
          history: [{ created, created_by: 'cocon image bootstrap busybox', comment: 'busybox-static from the host' }],
        });
        this.setTag(refString(target), id);
        return id;
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    });
  }

  // ---------------------------------------------------------------- commit and build

  /**
   * A new image on top of `parent` (undefined = from scratch): its layers plus `layer` (an
   * uncompressed layer tar: a container's diff; none for a step that changes only the config), with
   * `config` and one more history line. The layer is extracted with the safe extractor's LAYER rules.
   * On failure nothing is recorded and no layer or blob is left. Returns the image id.
   */
  async commitImage(o: CommitImageOptions): Promise<string> {
    return this.exclusive(async () => {
      const created = new Date().toISOString();
      const parent = o.parent;
      const history: ImageHistory[] = parent
        ? parent.history?.length
          ? [...parent.history]
          : parent.diffIds.map(() => ({ created: parent.created }))
        : [];
      const entry: ImageHistory = { created, created_by: o.createdBy };
      if (o.author) entry.author = o.author;
      if (o.comment) entry.comment = o.comment;
      const diffIds = [...(parent?.diffIds ?? [])];
      const sizes = [...(parent?.layerSizes ?? parent?.chainIds.map((c) => this.snapshots.get(c)?.size ?? 0) ?? [])];
      let createdLayer: LayerRow | undefined;
      const ingest = o.layer ? this.content.begin() : undefined;
      try {
        if (o.layer && ingest) {
          await ingest.write(o.layer);
          const diffId = ingest.digest();
          const applied = await this.snapshots.applyWith(
            diffId,
            parent?.chainIds[parent.chainIds.length - 1],
            async (mounts, idMap) => applyToMounts(await ingest.open(), mounts, idMap, LAYER),
          );
          if (applied.created) createdLayer = applied.layer;
          await ingest.commit(diffId);
          diffIds.push(diffId);
          sizes.push(applied.layer.size);
        } else entry.empty_layer = true;
        history.push(entry);
        return this.recordImage({
          created,
          architecture: parent?.architecture ?? 'amd64',
          os: parent?.os ?? 'linux',
          config: o.config,
          diffIds,
          chainIds: computeChainIds(diffIds),
          size: sizes.reduce((a, b) => a + b, 0),
          parent: parent?.id,
          history,
          layerSizes: sizes,
          comment: o.comment,
          author: o.author,
          buildCacheKey: o.buildCacheKey,
        });
      } catch (e) {
        ingest?.abort();
        if (createdLayer && !this.all().some((i) => i.chainIds.includes(createdLayer!.chainId))) {
          try {
            this.snapshots.removeNow(createdLayer.chainId);
          } catch (err) {
            if (!(err instanceof Conflict || err instanceof NotFound)) throw err;
          }
          if (!this.all().some((i) => i.diffIds.includes(createdLayer!.diffId)))
            this.content.delete(createdLayer.diffId);
        }
        throw e;
      }
    });
  }

  /** The image an earlier build made for this step (same parent, same cache key), if it is still there. */
  buildCache(parentId: string, key: string): ImageRecord | undefined {
    return this.all().find((i) => (i.parent ?? '') === parentId && i.buildCacheKey === key);
  }

  /** Points a reference (name[:tag], as docker build -t takes it) at an image. */
  async tagImage(imageId: string, name: string): Promise<string> {
    const target = targetReference(name);
    await this.exclusive(() => this.setTag(refString(target), imageId));
    return familiarize(refString(target));
  }
}

/** The fields of an image configuration blob (OCI image-spec config.md) that an ImageRecord keeps. */
export function parseImageConfig(bytes: Buffer): {
  created: string;
  architecture: string;
  os: string;
  config: ImageConfig;
  diffIds: string[];
  history?: ImageHistory[];
  author?: string;
  comment?: string;
} {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new InvalidArgument('invalid image configuration: not JSON');
  }
  const rootfs = v.rootfs as { type?: string; diff_ids?: unknown } | undefined;
  if (
    !rootfs ||
    !Array.isArray(rootfs.diff_ids) ||
    !rootfs.diff_ids.every((d) => typeof d === 'string' && /^sha256:[a-f0-9]{64}$/.test(d))
  ) {
    throw new InvalidArgument('invalid image configuration: bad rootfs.diff_ids');
  }
  return {
    created: typeof v.created === 'string' ? v.created : ZERO_TIME,
    architecture: typeof v.architecture === 'string' ? v.architecture : 'amd64',
    os: typeof v.os === 'string' ? v.os : 'linux',
    config: (v.config && typeof v.config === 'object' ? v.config : {}) as ImageConfig,
    diffIds: rootfs.diff_ids as string[],
    history: Array.isArray(v.history) ? (v.history as ImageHistory[]) : undefined,
    author: typeof v.author === 'string' ? v.author : undefined,
    comment: typeof v.comment === 'string' ? v.comment : undefined,
  };
}

function safeNormalize(ref: string): string {
  try {
    return normalize(ref);
  } catch {
    return '';
  }
}
