// What each Dockerfile instruction does to the image being built (pure): the metadata instructions
// (ENV, ARG, LABEL, EXPOSE, VOLUME, WORKDIR, USER, STOPSIGNAL, CMD, ENTRYPOINT, SHELL, ONBUILD,
// HEALTHCHECK, MAINTAINER) change the config; RUN and COPY/ADD get their command line and words
// here and their file work in ./builder.ts. Also the history line ("created by") of each step and
// the layer cache key, as docker's legacy builder makes them.
import { parseGoDuration } from '../core/duration.js';
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { InvalidArgument } from '../core/errors.js';
import { jsonArray, parseExpose, validSignal } from '../images/changes.js';
import { canonicalJson } from '../images/canonical.js';
import type { ImageConfig } from '../images/types.js';
import { parseInstruction, type Instruction } from './dockerfile.js';
import {
  argDecl,
  argValue,
  envVars,
  keyValues,
  PREDEFINED_ARGS,
  processWord,
  processWords,
  type Vars,
} from './vars.js';

export const DEFAULT_SHELL = ['/bin/sh', '-c'];

/** The state of a stage while it is built. */
export interface StageState {
  config: ImageConfig;
  shell: string[];
  /** ARGs declared in this stage (or inherited from the meta ARGs by a bare `ARG name`), with their values. */
  args: Vars;
  /** The meta ARGs (before the first FROM), with their values. */
  metaArgs: Vars;
  escape: string;
}

/** Variables an instruction sees: the stage's ARGs, overridden by the config's ENV. */
export function visibleVars(s: StageState): Vars {
  const v: Vars = new Map(s.args);
  for (const [k, x] of envVars(s.config.Env)) v.set(k, x);
  return v;
}

/** The build args that a RUN gets in its environment and its history line (declared ones, not ENV-shadowed). */
export function runArgs(s: StageState): Vars {
  const env = envVars(s.config.Env);
  const out: Vars = new Map();
  for (const [k, v] of s.args) if (!env.has(k)) out.set(k, v);
  return out;
}

/** `ARG a=b c` in a stage (or before FROM, with `buildArgs` the request's --build-arg values). */
export function declareArgs(
  ins: Instruction,
  into: Vars,
  vars: Vars,
  buildArgs: Record<string, string | null>,
  meta?: Vars,
  esc = '\\',
): void {
  for (const [name, dflt] of argDecl(ins.rest, vars, esc)) {
    const value = argValue(name, dflt ?? meta?.get(name), buildArgs);
    if (value !== undefined) into.set(name, value);
    else into.delete(name);
  }
}

/** --build-arg names no ARG consumed: docker warns about them after the build. */
export function unusedArgs(buildArgs: Record<string, string | null>, declared: Set<string>): string[] {
  return Object.keys(buildArgs)
    .filter((k) => !declared.has(k) && !PREDEFINED_ARGS.includes(k))
    .sort();
}

function setEnv(c: ImageConfig, k: string, v: string): void {
  const env = c.Env ? [...c.Env] : [];
  const i = env.findIndex((e) => e === k || e.startsWith(k + '='));
  if (i >= 0) env[i] = `${k}=${v}`;
  else env.push(`${k}=${v}`);
  c.Env = env;
}

/** CMD/ENTRYPOINT/RUN command line: the exec form as is, the shell form through SHELL. */
export function commandLine(ins: Instruction, shell: string[]): string[] {
  if (ins.json) return ins.json;
  return ins.rest === '' ? [] : [...shell, ins.rest];
}

/** A HEALTHCHECK flag's Go duration ("30s", "1m30s") in nanoseconds; InvalidArgument when it is not one. */
export function parseDuration(s: string): number {
  const ns = parseGoDuration(s);
  if (ns === undefined) throw new InvalidArgument(`time: invalid duration "${s}"`);
  return ns;
}

/**
 * Applies a metadata instruction to the stage (config, shell, args). Returns false when `ins` is not a
 * metadata instruction (RUN, COPY, ADD, FROM are the builder's).
 */
export function applyMetadata(ins: Instruction, s: StageState, buildArgs: Record<string, string | null>): boolean {
  const c = s.config;
  const vars = visibleVars(s);
  const esc = s.escape;
  const words = () => processWords(ins.rest, vars, esc);
  const one = (what: string) => {
    const w = words();
    if (w.length !== 1) throw new InvalidArgument(`${what} requires exactly one argument`);
    return w[0];
  };
  switch (ins.cmd) {
    case 'env':
      for (const [k, v] of keyValues('env', ins.rest, vars, esc)) {
        setEnv(c, k, v);
        vars.set(k, v);
      }
      return true;
    case 'arg':
      declareArgs(ins, s.args, vars, buildArgs, s.metaArgs, esc);
      return true;
    case 'label': {
      const labels = { ...(c.Labels ?? {}) };
      for (const [k, v] of keyValues('label', ins.rest, vars, esc)) labels[k] = v;
      c.Labels = labels;
      return true;
    }
    case 'maintainer':
      return true; // deprecated; kept in history only
    case 'expose': {
      const ports = { ...(c.ExposedPorts ?? {}) };
      for (const p of parseExpose(words())) ports[p] = {};
      c.ExposedPorts = ports;
      return true;
    }
    case 'volume': {
      const list = ins.json ? ins.json.map((w) => processWord(w, vars, esc)) : words();
      const vols = { ...(c.Volumes ?? {}) };
      for (const v of list) {
        if (v.trim() === '') throw new InvalidArgument('VOLUME specified can not be an empty string');
        vols[v.trim()] = {};
      }
      c.Volumes = vols;
      return true;
    }
    case 'workdir': {
      const w = one('WORKDIR');
      let d = posix.isAbsolute(w) ? posix.normalize(w) : posix.join('/', c.WorkingDir || '/', w);
      if (d.length > 1) d = d.replace(/\/+$/, '');
      c.WorkingDir = d;
      return true;
    }
    case 'user':
      c.User = one('USER');
      return true;
    case 'stopsignal': {
      const sig = one('STOPSIGNAL');
      if (!validSignal(sig)) throw new InvalidArgument(`Invalid signal: ${sig}`);
      c.StopSignal = sig;
      return true;
    }
    case 'cmd':
      c.Cmd = commandLine(ins, s.shell);
      return true;
    case 'entrypoint':
      c.Entrypoint = commandLine(ins, s.shell);
      return true;
    case 'shell':
      s.shell = ins.json!;
      return true;
    case 'onbuild': {
      const inner = parseInstruction(ins.rest, ins.line);
      if (inner.cmd === 'onbuild') throw new InvalidArgument("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (inner.cmd === 'maintainer' || inner.cmd === 'from')
        throw new InvalidArgument(`${inner.cmd.toUpperCase()} isn't allowed as an ONBUILD trigger`);
      c.OnBuild = [...(c.OnBuild ?? []), ins.rest];
      return true;
    }
    case 'healthcheck': {
      const w = ins.rest.split(/\s+/);
      const kind = w[0].toUpperCase();
      if (kind === 'NONE') {
        if (w.length > 1) throw new InvalidArgument('HEALTHCHECK NONE takes no arguments');
        c.Healthcheck = { Test: ['NONE'] };
        return true;
      }
      if (kind !== 'CMD') throw new InvalidArgument(`Unknown type "${w[0]}" in HEALTHCHECK (try CMD)`);
      const rest = ins.rest.slice(w[0].length).trim();
      if (!rest) throw new InvalidArgument('Missing command after HEALTHCHECK CMD');
      const j = jsonArray(rest);
      const hc: NonNullable<ImageConfig['Healthcheck']> = { Test: j ? ['CMD', ...j] : ['CMD-SHELL', rest] };
      const f = ins.flags;
      for (const key of Object.keys(f))
        if (!['interval', 'timeout', 'start-period', 'start-interval', 'retries'].includes(key))
          throw new InvalidArgument(`Unknown flag: ${key}`);
      if (f.interval) hc.Interval = parseDuration(f.interval);
      if (f.timeout) hc.Timeout = parseDuration(f.timeout);
      if (f['start-period']) hc.StartPeriod = parseDuration(f['start-period']);
      if (f['start-interval']) hc.StartInterval = parseDuration(f['start-interval']);
      if (f.retries !== undefined && f.retries !== '') {
        const n = Number(f.retries);
        if (!Number.isInteger(n) || n < 0) throw new InvalidArgument(`invalid retries value: ${f.retries}`);
        if (n === 0) throw new InvalidArgument('--retries must be at least 1');
        hc.Retries = n;
      }
      c.Healthcheck = hc;
      return true;
    }
    default:
      return false;
  }
}

/** The history line of a metadata step: `<shell> #(nop)  <instruction>` as docker writes it. */
export function nopCreatedBy(s: StageState, ins: Instruction): string {
  return `${s.shell.join(' ')} #(nop)  ${ins.original}`;
}

/** The history line of a RUN: the command, prefixed with the build args it saw (`|2 A=1 B=2 `). */
export function runCreatedBy(cmd: string[], args: Vars): string {
  const pre = args.size ? `|${args.size} ${[...args].map(([k, v]) => `${k}=${v}`).join(' ')} ` : '';
  return pre + cmd.join(' ');
}

/** The history line of COPY/ADD: `<shell> #(nop) COPY <file|dir|multi>:<digest> in <dest> `. */
export function copyCreatedBy(s: StageState, cmd: 'copy' | 'add', sourcesDigest: string, dest: string): string {
  return `${s.shell.join(' ')} #(nop) ${cmd.toUpperCase()} ${sourcesDigest} in ${dest} `;
}

/**
 * The layer cache key of a step: its parent image, its history line (which carries the command and,
 * for COPY/ADD, the sources' checksum) and the config it produces. Equal keys -> the same image.
 */
export function cacheKey(parentId: string, createdBy: string, config: ImageConfig): string {
  return (
    'sha256:' +
    createHash('sha256')
      .update(canonicalJson({ parent: parentId, createdBy, config }))
      .digest('hex')
  );
}

/** One file or directory entry of a COPY/ADD source, for its checksum. */
export interface SourceEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  link?: string;
  digest?: string;
}

/** docker's `file:<hex>` (one file) or `dir:<hex>` (a tree) or `multi:<hex>` checksum of COPY sources. */
export function sourcesDigest(groups: SourceEntry[][]): string {
  const one = (entries: SourceEntry[]) => {
    const h = createHash('sha256');
    for (const e of [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
      h.update(
        `${e.path}\0${e.type}\0${e.mode.toString(8)}\0${e.uid}:${e.gid}\0${e.size}\0${e.link ?? ''}\0${e.digest ?? ''}\n`,
      );
    }
    return h.digest('hex');
  };
  if (groups.length === 1) {
    const g = groups[0];
    const kind = g.length === 1 && g[0].type !== 'dir' ? 'file' : 'dir';
    return `${kind}:${one(g)}`;
  }
  return `multi:${createHash('sha256').update(groups.map(one).join(',')).digest('hex')}`;
}
