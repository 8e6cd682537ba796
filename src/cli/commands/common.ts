// Helpers shared by the command modules: daemon error text, --format rendering, inspect output,
// busybox bootstrap. Kept apart so that each command module loads only what it needs.
import { ApiError, type Client } from '../client.js';
import { CliError } from '../context.js';
import type { Ctx } from '../context.js';
import { renderRows } from '../format.js';
import { parseTemplate, execTemplate, markStruct, TemplateError } from '../template.js';

export function daemonMsg(e: unknown): string {
  if (e instanceof ApiError) return `Error response from daemon: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

export const seg = (s: string): string => encodeURIComponent(s);

// Image references keep their slashes, colons and @ in paths (docker sends them unescaped).
export const imgPath = (s: string): string =>
  s
    .split('/')
    .map((p) => encodeURIComponent(p).replace(/%3A/gi, ':').replace(/%40/g, '@'))
    .join('/');

export async function bootstrapBusybox(client: Client): Promise<string> {
  const r = await client.json<{ Id?: string }>('POST', '/images/bootstrap', { query: { image: 'busybox' } });
  return r?.Id ?? '';
}

export function renderOrFail(
  format: string,
  rows: Record<string, unknown>[],
  headers: Record<string, unknown>,
  def: string,
): string {
  try {
    return renderRows(format, rows, headers, def);
  } catch (e) {
    if (e instanceof TemplateError) throw new CliError(`template parsing error: ${e.message}`, 1);
    throw e;
  }
}

// undefined when the daemon says 404 (the message is kept in `notFound`)
async function tryGet(client: Client, path: string, notFound: { msg?: string }): Promise<unknown | undefined> {
  try {
    return await client.json<unknown>('GET', path);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      notFound.msg = e.message;
      return undefined;
    }
    throw e;
  }
}

// docker's CLI renders templates on its typed structs, so {{json .Config}} comes out in Go field
// order whatever order the daemon used. Reorder the container Config the same way.
const CONFIG_ORDER = [
  'Hostname',
  'Domainname',
  'User',
  'AttachStdin',
  'AttachStdout',
  'AttachStderr',
  'ExposedPorts',
  'Tty',
  'OpenStdin',
  'StdinOnce',
  'Env',
  'Cmd',
  'Healthcheck',
  'ArgsEscaped',
  'Image',
  'Volumes',
  'WorkingDir',
  'Entrypoint',
  'NetworkDisabled',
  'MacAddress',
  'OnBuild',
  'Labels',
  'StopSignal',
  'StopTimeout',
  'Shell',
];
function orderKeys(o: Record<string, unknown>, order: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of order) if (k in o) out[k] = o[k];
  for (const k of Object.keys(o)) if (!(k in out)) out[k] = o[k];
  return out;
}
export function goOrdered(item: unknown): unknown {
  if (!item || typeof item !== 'object' || Array.isArray(item)) return item;
  let o = item as Record<string, unknown>;
  const cfg = o.Config;
  if (cfg && typeof cfg === 'object' && !Array.isArray(cfg) && 'Cmd' in cfg && 'Image' in cfg) {
    o = { ...o, Config: orderKeys(cfg as Record<string, unknown>, CONFIG_ORDER) };
  }
  // typed-struct pointers that the daemon omits print as <nil> in docker's templates
  const st = o.State;
  if (st && typeof st === 'object' && !Array.isArray(st) && 'Running' in st && !('Health' in st)) {
    // non-enumerable: {{json .State}} leaves it out (omitempty) while {{.State.Health}} sees nil
    o = {
      ...o,
      State: Object.defineProperty({ ...(st as Record<string, unknown>) }, 'Health', {
        value: null,
        enumerable: false,
      }),
    };
  }
  // structs print as {a b c} in templates ({{.State}}, {{.HostConfig.RestartPolicy}}, {{.Mounts}})
  const isObj = (x: unknown): x is Record<string, unknown> => !!x && typeof x === 'object' && !Array.isArray(x);
  if (isObj(o.State) && 'Running' in o.State) {
    markStruct(o.State, [
      'Status',
      'Running',
      'Paused',
      'Restarting',
      'OOMKilled',
      'Dead',
      'Pid',
      'ExitCode',
      'Error',
      'StartedAt',
      'FinishedAt',
      'Health',
    ]);
  }
  const hc = o.HostConfig;
  if (isObj(hc)) {
    if (isObj(hc.RestartPolicy)) markStruct(hc.RestartPolicy, ['Name', 'MaximumRetryCount']);
    if (isObj(hc.LogConfig)) markStruct(hc.LogConfig, ['Type', 'Config']);
  }
  if (isObj(o.RootFS) && 'Layers' in o.RootFS) markStruct(o.RootFS, ['Type', 'Layers']);
  if (Array.isArray(o.Mounts) && 'State' in o) {
    for (const m of o.Mounts)
      if (isObj(m)) markStruct(m, ['Type', 'Name', 'Source', 'Destination', 'Driver', 'Mode', 'RW', 'Propagation']);
  }
  return o;
}

const goJson = (v: unknown): string =>
  JSON.stringify(v).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');

export function printInspect(ctx: Ctx, items: unknown[], format: string): void {
  if (!format) {
    ctx.out(items.length ? `${JSON.stringify(items, null, 4)}\n` : '[]\n');
    return;
  }
  if (format === 'json') {
    ctx.out(`${goJson(items)}\n`);
    return;
  }
  let t;
  try {
    t = parseTemplate(format.replace(/\\t/g, '\t').replace(/\\n/g, '\n'));
  } catch (e) {
    throw new CliError(`template parsing error: ${(e as Error).message}`, 1);
  }
  for (const it of items) {
    try {
      ctx.out(`${execTemplate(t, goOrdered(it))}\n`);
    } catch (e) {
      throw new CliError(`template: ${(e as Error).message}`, 1);
    }
  }
}

export async function inspectObjects(
  ctx: Ctx,
  names: string[],
  kind: string,
  format: string,
  size = false,
): Promise<number> {
  const client = await ctx.client();
  const found: unknown[] = [];
  const errors: string[] = [];
  for (const n of names) {
    let obj: unknown;
    const nf: { msg?: string } = {};
    if (kind === '' || kind === 'container')
      obj = await tryGet(client, `/containers/${seg(n)}/json${size ? '?size=1' : ''}`, nf);
    if (obj === undefined && (kind === '' || kind === 'image'))
      obj = await tryGet(client, `/images/${imgPath(n)}/json`, nf);
    if (obj === undefined && (kind === 'network' || kind === '')) obj = await tryGet(client, `/networks/${seg(n)}`, nf);
    if (obj === undefined && (kind === 'volume' || kind === '')) obj = await tryGet(client, `/volumes/${seg(n)}`, nf);
    if (obj === undefined) {
      errors.push(
        kind === ''
          ? `Error: No such object: ${n}`
          : `Error response from daemon: ${nf.msg ?? `No such ${kind}: ${n}`}`,
      );
    } else found.push(obj);
  }
  if (found.length || !format) printInspect(ctx, found, format);
  if (errors.length) {
    for (const e of errors) ctx.err(`${e}\n`);
    return 1;
  }
  return 0;
}
