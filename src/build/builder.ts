// The builder: runs a Dockerfile against a build context the way dockerd's legacy builder (API 1.41
// POST /build) does, step by step, each step making an image whose parent is the previous one:
//   - metadata steps (ENV, LABEL, CMD...) make a config-only image (an empty_layer history line);
//   - RUN runs in a real container made by the containers service (the same runtime path as docker
//     run), from the previous step's image, with ENTRYPOINT cleared, the build args in its
//     environment and its output streamed; its changes (the snapshotter's diff) become the layer;
//   - COPY/ADD write into a created (never started) container's root through the safe walk
//     (./copy.ts), then the same commit;
//   - every step first looks for an image an earlier build made for the same parent and cache key
//     (./instructions.ts cacheKey) and prints ` ---> Using cache`.
// Intermediate images stay (they are the cache) but are hidden from `images` as untagged parents.
// A failed or cancelled step removes its container; nothing is tagged unless the build succeeded.
import type { IdentityMapping } from '../core/idmap.js';
import { chmodSync, createWriteStream, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { Duplex, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { join, posix } from 'node:path';
import { InvalidArgument, NotFound, messageOf } from '../core/errors.js';
import { log } from '../core/log.js';
import type { Emit } from '../images/progress.js';
import type { ImageConfig, ImageRecord } from '../images/types.js';
import { parseGroup, parsePasswd, resolveUser, UserLookupError } from '../core/users.js';
import type { CreateBody } from '../containers/config.js';
import { parseDockerfile, parseInstruction, type Instruction } from './dockerfile.js';
import { planBuild, resolveFrom, fromWords, type Plan } from './stages.js';
import { processWord, processWords, runEnv, type Vars } from './vars.js';
import {
  applyMetadata,
  cacheKey,
  commandLine,
  copyCreatedBy,
  declareArgs,
  DEFAULT_SHELL,
  nopCreatedBy,
  runArgs,
  runCreatedBy,
  sourcesDigest,
  unusedArgs,
  visibleVars,
  type SourceEntry,
  type StageState,
} from './instructions.js';
import {
  applyDockerignore,
  expandSource,
  readContextFile,
  readDockerfile,
  receiveContext,
  sourceEntries,
  statSource,
} from './context.js';
import { copyInto } from './copy.js';
import * as P from './progress.js';

export interface BuildOptions {
  /** -t names (name[:tag]), validated by the caller. */
  tags: string[];
  /** Path of the Dockerfile inside the context. */
  dockerfile: string;
  buildArgs: Record<string, string | null>;
  target?: string;
  noCache: boolean;
  /** Remove intermediate containers after a successful step (docker's rm, default true). */
  rm: boolean;
  forceRm: boolean;
  labels: Record<string, string>;
  quiet: boolean;
  pull: boolean;
  networkMode?: string;
  /** HostConfig fields for RUN containers (memory, shm size, extra hosts, cpu shares...). */
  hostConfig: Record<string, unknown>;
}

/** What the builder needs of the engine (wired in src/daemon). */
export interface BuildBackend {
  tmpRoot: string;
  /** --userns-remap: COPY/ADD write owners shifted into the daemon's range (the extractor's idMap). */
  idMap?: IdentityMapping;
  image(ref: string): ImageRecord;
  pull(ref: string, emit: Emit): Promise<ImageRecord>;
  cached(parentId: string, key: string): ImageRecord | undefined;
  commit(o: {
    parent?: ImageRecord;
    layer?: Readable;
    config: ImageConfig;
    createdBy: string;
    buildCacheKey?: string;
  }): Promise<string>;
  tag(imageId: string, name: string): Promise<string>;
  createContainer(body: CreateBody): Promise<string>;
  /**
   * Starts the container with its stdout/stderr going to `out` (demultiplexed); resolves with its exit
   * code. Once `cancel` is aborted the container is killed (also when that happens while it starts).
   */
  runContainer(id: string, out: (chunk: Buffer) => void, cancel: AbortSignal): Promise<number>;
  killContainer(id: string): Promise<void>;
  removeContainer(id: string): Promise<void>;
  /** Mounts an image's filesystem read-only (COPY --from); release() unmounts and forgets it. */
  mountImage(img: ImageRecord): Promise<{ dir: string; release: () => Promise<void> }>;
  /** Mounts the container's root for writing; release() unmounts. */
  mountContainer(id: string, writable: boolean): Promise<{ dir: string; release: () => Promise<void> }>;
  /** The container's changes as an uncompressed layer tar. */
  containerLayer(id: string): Promise<Readable>;
}

export class BuildCancelled extends Error {}

/** A RUN that exited non-zero: its message carries docker's wording, its code the exit code. */
export class StepFailed extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

interface StageResult {
  image?: ImageRecord;
  state: StageState;
}

const SCRATCH_CONFIG: ImageConfig = { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] };

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Demultiplexes docker's attach framing (8-byte headers) into payload chunks. */
class Demux {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private readonly out: (b: Buffer) => void) {}
  push(b: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, b]) : b;
    while (this.buf.length >= 8) {
      const n = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + n) break;
      this.out(this.buf.subarray(8, 8 + n));
      this.buf = this.buf.subarray(8 + n);
    }
  }
}

/** A Duplex that hands what is written to it to `sink`: the client side of an attach. */
export function sinkDuplex(sink: (b: Buffer) => void): Duplex {
  const d = new Demux(sink);
  return new Duplex({
    read() {
      /* no input */
    },
    write(chunk: Buffer, _enc, cb) {
      d.push(chunk);
      cb();
    },
    final(cb) {
      this.push(null);
      cb();
    },
  });
}

export class Builder {
  private readonly containers = new Set<string>();
  private cancelled = false;
  private readonly abort = new AbortController();
  private readonly declared = new Set<string>();
  private step = 0;
  private plan!: Plan;
  private contextDir = '';

  constructor(
    private readonly be: BuildBackend,
    private readonly o: BuildOptions,
    private readonly emit: Emit,
  ) {}

  /** Stops the build: the running step's container is killed and every build container removed. */
  async cancel(): Promise<void> {
    if (this.cancelled) return;
    this.cancelled = true;
    this.abort.abort();
    for (const id of [...this.containers]) await this.be.killContainer(id).catch(() => undefined);
  }

  private check(): void {
    if (this.cancelled) throw new BuildCancelled('build cancelled');
  }

  private out(m: Parameters<Emit>[0]): void {
    if (!this.o.quiet) this.emit(m);
  }

  /** Runs the build on a context tar stream; returns the final image id. */
  async run(context: Readable): Promise<string> {
    this.contextDir = await receiveContext(context, this.be.tmpRoot);
    try {
      this.check();
      const text = readDockerfile(this.contextDir, this.o.dockerfile);
      applyDockerignore(this.contextDir);
      const df = parseDockerfile(text);
      // --label: a LABEL step at the end of the built stage, as dockerd adds it
      this.plan = planBuild(df, this.o.target);
      const labels = Object.entries(this.o.labels);
      if (labels.length) {
        const last = this.plan.stages[this.plan.stages.length - 1];
        const line = 'LABEL ' + labels.map(([k, v]) => `${JSON.stringify(k)}=${JSON.stringify(v)}`).join(' ');
        last.commands.push(parseInstruction(line, last.from.line));
        this.plan.total++;
      }
      const meta: Vars = new Map();
      for (const ins of this.plan.metaArgs) {
        this.stepHeader(ins);
        declareArgs(ins, meta, meta, this.o.buildArgs, undefined, df.escape);
        for (const [name] of ins.rest.split(/\s+/).map((w) => w.split('='))) this.declared.add(name);
      }
      const results: StageResult[] = [];
      for (const stage of this.plan.stages) {
        this.check();
        results.push(await this.buildStage(stage.index, stage.from, stage.commands, meta, df.escape, results));
      }
      const final = results[results.length - 1].image;
      if (!final) throw new InvalidArgument('No image was generated. Is your Dockerfile empty?');
      const unused = unusedArgs(this.o.buildArgs, this.declared);
      if (unused.length)
        this.out({ stream: `[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n` });
      this.emit(P.auxId(final.id));
      this.out(P.successBuilt(final.id));
      if (this.o.quiet) this.emit({ stream: `${final.id}\n` });
      for (const t of this.o.tags) {
        const name = await this.be.tag(final.id, t);
        this.out(P.successTagged(name));
      }
      return final.id;
    } finally {
      for (const id of [...this.containers]) await this.dropContainer(id);
      await Promise.all(this.removals);
      rmSync(this.contextDir, { recursive: true, force: true });
    }
  }

  private stepHeader(ins: Instruction): void {
    this.step++;
    for (const m of P.stepMessages(this.step, this.plan.total, ins.original)) this.out(m);
  }

  private async baseImage(name: string, current: number, results: StageResult[]): Promise<ImageRecord | undefined> {
    if (name.toLowerCase() === 'scratch') return undefined;
    const r = resolveFrom(this.plan, name, current, false);
    if ('stage' in r) {
      const img = results[r.stage].image;
      if (!img) throw new InvalidArgument(`stage ${name} made no image`);
      return img;
    }
    if (!this.o.pull) {
      try {
        return this.be.image(r.image);
      } catch (e) {
        if (!(e instanceof NotFound)) throw e;
      }
    }
    return this.be.pull(r.image, (m) => this.out(m));
  }

  private async buildStage(
    index: number,
    from: Instruction,
    commands: Instruction[],
    meta: Vars,
    esc: string,
    results: StageResult[],
  ): Promise<StageResult> {
    this.stepHeader(from);
    const platform = from.flags.platform ? processWord(from.flags.platform, meta, esc) : '';
    if (platform && !/^linux(\/amd64)?$/.test(platform))
      throw new InvalidArgument(`FROM --platform=${platform}: cocon builds linux/amd64 images only`);
    const imageWord = processWord(fromWords(from).image, meta, esc);
    if (!imageWord) throw new InvalidArgument(`base name (${fromWords(from).image}) should not be blank`);
    const base = await this.baseImage(imageWord, index, results);
    const st: StageState = {
      config: clone(base?.config ?? SCRATCH_CONFIG),
      shell: [...DEFAULT_SHELL],
      args: new Map(),
      metaArgs: meta,
      escape: esc,
    };
    if (base) this.out(P.imageMessage(base.id));
    let image = base;
    // ONBUILD triggers of the base image run first; the new image does not inherit them
    const triggers = st.config.OnBuild ?? [];
    delete st.config.OnBuild;
    if (triggers.length) this.out(P.triggers(triggers.length));
    const todo: Array<{ ins: Instruction; header: boolean }> = [
      ...triggers.map((t) => ({ ins: parseInstruction(t, from.line), header: false })),
      ...commands.map((ins) => ({ ins, header: true })),
    ];
    for (const { ins, header } of todo) {
      this.check();
      if (header) this.stepHeader(ins);
      image = await this.dispatch(ins, st, image, index, results);
    }
    return { image, state: st };
  }

  /** Runs one instruction; returns the step's image. */
  private async dispatch(
    ins: Instruction,
    st: StageState,
    parent: ImageRecord | undefined,
    stage: number,
    results: StageResult[],
  ): Promise<ImageRecord | undefined> {
    if (ins.cmd === 'arg') for (const w of ins.rest.split(/\s+/)) this.declared.add(w.split('=')[0]);
    if (ins.cmd === 'run') return this.runStep(ins, st, parent);
    if (ins.cmd === 'copy' || ins.cmd === 'add') return this.copyStep(ins, st, parent, stage, results);
    if (!applyMetadata(ins, st, this.o.buildArgs))
      throw new InvalidArgument(`unknown instruction: ${ins.cmd.toUpperCase()}`);
    const createdBy = nopCreatedBy(st, ins);
    return this.commitStep(parent, st, createdBy, undefined);
  }

  /** The cached image for this step, or a new one made by `make` (a container id to commit, or none). */
  private async commitStep(
    parent: ImageRecord | undefined,
    st: StageState,
    createdBy: string,
    make: (() => Promise<string | undefined>) | undefined,
  ): Promise<ImageRecord> {
    const key = cacheKey(parent?.id ?? '', createdBy, st.config);
    if (!this.o.noCache) {
      const hit = this.be.cached(parent?.id ?? '', key);
      if (hit) {
        this.out(P.usingCache());
        this.out(P.imageMessage(hit.id));
        return hit;
      }
    }
    const container = make ? await make() : undefined;
    let id: string;
    try {
      const layer = container ? await this.be.containerLayer(container) : undefined;
      id = await this.be.commit({ parent, layer, config: clone(st.config), createdBy, buildCacheKey: key });
    } finally {
      if (container && (this.o.rm || this.o.forceRm)) {
        // removed while the next step runs; the build waits for every removal before it ends
        this.removals.push(this.dropContainer(container));
        if (this.runShown.has(container)) this.out(P.removingContainer(container));
      } else if (container) this.containers.delete(container); // --rm=false keeps it, as docker does
      if (container) this.runShown.delete(container);
    }
    this.out(P.imageMessage(id));
    return this.be.image(id);
  }

  private readonly runShown = new Set<string>();
  private readonly removals: Array<Promise<void>> = [];

  private async dropContainer(id: string): Promise<void> {
    this.containers.delete(id);
    await this.be
      .removeContainer(id)
      .catch((e: unknown) => log.warn('build container not removed', { id, error: messageOf(e) }));
  }

  private async newContainer(parent: ImageRecord | undefined, body: Partial<CreateBody>): Promise<string> {
    if (!parent) throw new InvalidArgument('a RUN, COPY or ADD step needs files: FROM scratch has none yet');
    const id = await this.be.createContainer({
      Image: parent.id,
      Entrypoint: [],
      Cmd: ['/bin/sh', '-c', '#(nop)'],
      Tty: false,
      AttachStdout: true,
      AttachStderr: true,
      Labels: { 'cocon.build': 'intermediate' },
      ...body,
      HostConfig: { ...this.o.hostConfig, NetworkMode: this.o.networkMode || 'default', ...(body.HostConfig ?? {}) },
    });
    this.containers.add(id);
    return id;
  }

  private async runStep(ins: Instruction, st: StageState, parent: ImageRecord | undefined): Promise<ImageRecord> {
    for (const f of Object.keys(ins.flags))
      throw new InvalidArgument(`the --${f} option requires BuildKit; cocon's builder is the legacy one`);
    const cmd = commandLine(ins, st.shell);
    const args = runArgs(st);
    const createdBy = runCreatedBy(cmd, args);
    return this.commitStep(parent, st, createdBy, async () => {
      const id = await this.newContainer(parent, {
        Cmd: cmd,
        Env: runEnv(st.config.Env ?? [], args),
        WorkingDir: st.config.WorkingDir ?? '',
        User: st.config.User ?? '',
      });
      this.out(P.runningIn(id));
      this.runShown.add(id);
      let code: number;
      try {
        code = await this.be.runContainer(id, (b) => this.out({ stream: b.toString('utf8') }), this.abort.signal);
      } catch (e) {
        await this.dropContainer(id);
        throw e;
      }
      this.check();
      if (code !== 0) {
        await this.dropContainer(id);
        throw new StepFailed(P.runFailed(cmd, !!ins.json, code), code);
      }
      return id;
    });
  }

  private async copyStep(
    ins: Instruction,
    st: StageState,
    parent: ImageRecord | undefined,
    stage: number,
    results: StageResult[],
  ): Promise<ImageRecord> {
    const name = ins.cmd.toUpperCase();
    for (const f of Object.keys(ins.flags)) {
      if (!['from', 'chown', 'chmod'].includes(f) || (f === 'from' && ins.cmd === 'add')) {
        throw new InvalidArgument(
          f === 'link' || f === 'parents' || f === 'exclude' || f === 'checksum' || f === 'keep-git-dir'
            ? `the --${f} option requires BuildKit; cocon's builder is the legacy one`
            : `Unknown flag: ${f}`,
        );
      }
    }
    const vars = visibleVars(st);
    const words = ins.json
      ? ins.json.map((w) => processWord(w, vars, st.escape))
      : processWords(ins.rest, vars, st.escape);
    if (words.length < 2)
      throw new InvalidArgument(
        `${name} requires at least two arguments, but only one was provided. Destination could not be determined.`,
      );
    const rawDest = words[words.length - 1];
    const wd = st.config.WorkingDir || '/';
    let dest = posix.isAbsolute(rawDest)
      ? rawDest
      : posix.join(wd, rawDest) + (rawDest.endsWith('/') || rawDest === '.' ? '/' : '');
    if (dest.endsWith('//')) dest = dest.replace(/\/+$/, '/');
    const chmod = ins.flags.chmod ? Number.parseInt(ins.flags.chmod, 8) : undefined;
    if (ins.flags.chmod && (!/^[0-7]{3,4}$/.test(ins.flags.chmod) || Number.isNaN(chmod)))
      throw new InvalidArgument(`invalid chmod parameter: ${ins.flags.chmod}`);
    // the sources' root: the context, or another stage's / an image's filesystem
    let srcRoot = this.contextDir;
    let fromMount: { dir: string; release: () => Promise<void> } | undefined;
    let fromLabel = '';
    let downloads: string | undefined;
    try {
      if (ins.flags.from) {
        const ref = processWord(ins.flags.from, visibleVars(st), st.escape);
        const r = resolveFrom(this.plan, ref, stage, true);
        let img: ImageRecord | undefined;
        if ('stage' in r) img = results[r.stage].image;
        else {
          try {
            img = this.be.image(r.image);
          } catch (e) {
            if (!(e instanceof NotFound)) throw e;
            try {
              img = await this.be.pull(r.image, (m) => this.out(m));
            } catch (e2) {
              throw new InvalidArgument(`invalid from flag value ${ref}: ${messageOf(e2)}`);
            }
          }
        }
        if (!img) throw new InvalidArgument(`invalid from flag value ${ref}: the stage has no filesystem`);
        fromLabel = img.id;
        fromMount = await this.be.mountImage(img);
        srcRoot = fromMount.dir;
      }
      const sources: string[] = [];
      const urls = ins.cmd === 'add' ? words.slice(0, -1).filter((w) => /^https?:\/\//.test(w)) : [];
      if (urls.length) {
        if (urls.length !== words.length - 1)
          throw new InvalidArgument('ADD: URLs and local sources cannot be mixed in one instruction');
        if (fromMount) throw new InvalidArgument('ADD of a URL takes no --from');
        downloads = mkdtempSync(join(this.be.tmpRoot, 'tmp-add-'));
        srcRoot = downloads;
        const dirDest = dest.endsWith('/') || urls.length > 1;
        for (const u of urls) sources.push(await download(u, downloads, dirDest ? undefined : posix.basename(dest)));
      }
      for (const w of urls.length ? [] : words.slice(0, -1)) {
        const found = expandSource(srcRoot, w);
        if (!found.length) throw new InvalidArgument(`${name} failed: no source files were specified`);
        for (const f of found) {
          if (!statSource(srcRoot, f))
            throw new InvalidArgument(
              `${name} failed: file not found in build context or excluded by .dockerignore: stat ${w}: file does not exist`,
            );
        }
        sources.push(...found);
      }
      const groups: SourceEntry[][] = [];
      for (const s of sources) groups.push(await sourceEntries(srcRoot, s));
      const digest = sourcesDigest(groups);
      const createdBy =
        copyCreatedBy(st, ins.cmd as 'copy' | 'add', fromLabel ? `${digest} from ${fromLabel}` : digest, dest) +
        (ins.flags.chown ? `--chown=${ins.flags.chown} ` : '') +
        (ins.flags.chmod ? `--chmod=${ins.flags.chmod} ` : '');
      return await this.commitStep(parent, st, createdBy, async () => {
        const id = await this.newContainer(parent, {});
        const m = await this.be.mountContainer(id, true);
        try {
          let owner = { uid: 0, gid: 0 };
          if (ins.flags.chown) {
            const spec = processWord(ins.flags.chown, visibleVars(st), st.escape);
            const passwd = parsePasswd(readContextFile(m.dir, 'etc/passwd')?.toString('utf8') ?? '');
            const group = parseGroup(readContextFile(m.dir, 'etc/group')?.toString('utf8') ?? '');
            // docker: --chown=name alone means name:name
            try {
              const u = resolveUser(spec.includes(':') ? spec : `${spec}:${spec}`, passwd, group);
              owner = { uid: u.uid, gid: u.gid };
            } catch (e) {
              if (e instanceof UserLookupError) throw new InvalidArgument(`${name} --chown=${spec}: ${e.message}`);
              throw e;
            }
          }
          // a downloaded file is copied as it is, never extracted
          await copyInto({
            srcRoot,
            sources,
            destRoot: m.dir,
            dest,
            owner,
            chmod,
            add: ins.cmd === 'add' && !downloads,
            tmpRoot: this.be.tmpRoot,
            idMap: this.be.idMap,
          });
        } finally {
          await m.release();
        }
        return id;
      });
    } finally {
      if (fromMount) await fromMount.release().catch(() => undefined);
      if (downloads) rmSync(downloads, { recursive: true, force: true });
    }
  }
}

/**
 * ADD <url>: downloads into `dir` as `name` (default: the URL's last path segment), mode 0600 and the
 * mtime of Last-Modified, as docker does. Returns the file's name.
 */
async function download(url: string, dir: string, name?: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (e) {
    const cause = (e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : messageOf(e);
    throw new InvalidArgument(`ADD failed: Get "${url}": ${cause}`);
  }
  if (!res.ok || !res.body) throw new InvalidArgument(`ADD failed: Get "${url}": unexpected status code ${res.status}`);
  const file = name || decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).pop() ?? '') || 'download';
  if (file.includes('/') || file === '..' || file === '.')
    throw new InvalidArgument(`ADD failed: cannot name a file after ${url}`);
  const path = join(dir, file);
  await pipeline(
    Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>),
    createWriteStream(path, { mode: 0o600 }),
  );
  chmodSync(path, 0o600);
  const lm = Date.parse(res.headers.get('last-modified') ?? '');
  if (Number.isFinite(lm)) utimesSync(path, lm / 1000, lm / 1000);
  return file;
}
