// The host's firewall as other programs keep it: iptables (nft or legacy backend), foreign nft
// tables, firewalld; and a watch on nftables changes (`nft monitor`). cocon only ever adds its own
// chains and one tagged jump rule to them; these helpers never change a policy or another rule.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { run, runOk } from './exec.js';

/** Is `name` an executable in PATH (plus the sbin dirs, which a daemon's PATH may lack)? */
export function haveTool(name: string): boolean {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  return dirs.some((d) => d && existsSync(join(d, name)));
}

/** Base chains at the forward hook (every table), as family, table, chain and policy. */
export async function nftForwardChains(): Promise<
  Array<{ family: string; table: string; chain: string; policy?: string }>
> {
  const r = await run('nft', ['-j', 'list', 'chains']);
  if (r.code !== 0) return [];
  const j = JSON.parse(r.stdout) as {
    nftables: Array<{ chain?: { family: string; table: string; name: string; hook?: string; policy?: string } }>;
  };
  return j.nftables
    .map((e) => e.chain)
    .filter((c): c is NonNullable<typeof c> => !!c && c.hook === 'forward')
    .map((c) => ({ family: c.family, table: c.table, chain: c.name, policy: c.policy }));
}

/** Is the legacy (x_tables) filter table loaded in this namespace (ip6tables' with `v6`)? */
export function legacyFilterLoaded(v6 = false): boolean {
  try {
    return readFileSync(`/proc/net/${v6 ? 'ip6' : 'ip'}_tables_names`, 'utf8')
      .split('\n')
      .includes('filter');
  } catch {
    return false;
  }
}

/** `BIN -w ARGS`; throws with stderr on failure. */
export function iptables(bin: string, args: string[]): Promise<string> {
  return runOk(bin, ['-w', ...args]);
}

/** `BIN -w ARGS`, exit code only. */
export async function iptablesTry(bin: string, args: string[]): Promise<boolean> {
  return (await run(bin, ['-w', ...args])).code === 0;
}

/** `BIN-restore -w --noflush` with `text` on stdin (one transaction per table). */
export async function iptablesRestore(bin: string, text: string): Promise<void> {
  await runOk(`${bin}-restore`, ['-w', '--noflush'], { input: text });
}

/** Rules of one nft chain with their handles, and the chain they jump to (if any), and their comment. */
export async function nftChainRules(
  family: string,
  table: string,
  chain: string,
): Promise<Array<{ handle: number; jump?: string; comment?: string }> | null> {
  const r = await run('nft', ['-j', 'list', 'chain', family, table, chain]);
  if (r.code !== 0) return null;
  const j = JSON.parse(r.stdout) as {
    nftables: Array<{ rule?: { handle: number; comment?: string; expr?: Array<Record<string, unknown>> } }>;
  };
  return j.nftables
    .filter((e) => e.rule)
    .map((e) => {
      const jump = e.rule!.expr?.map((x) => (x.jump as { target?: string } | undefined)?.target).find((t) => t);
      return { handle: e.rule!.handle, jump, comment: e.rule!.comment };
    });
}

/** Does firewalld run (`firewall-cmd --state`)? */
export async function firewalldRunning(): Promise<boolean> {
  if (!haveTool('firewall-cmd')) return false;
  const r = await run('firewall-cmd', ['--state']);
  return r.code === 0 && r.stdout.trim() === 'running';
}

export async function firewallCmd(args: string[]): Promise<boolean> {
  return (await run('firewall-cmd', args)).code === 0;
}

/**
 * Calls `onChange` (debounced by `settleMs`) whenever nftables changes in this namespace, through
 * one long-lived `nft monitor` child. Returns a stop function. The child never keeps the daemon alive.
 */
export function watchNftables(onChange: () => void, settleMs = 250): () => void {
  let child: ChildProcess | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const start = () => {
    const c = spawn('nft', ['monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
    child = c;
    c.on('error', () => {
      /* nft missing: nothing to watch */
    });
    c.stdout!.on('data', () => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        onChange();
      }, settleMs);
      timer.unref();
    });
    c.on('exit', () => {
      if (!stopped) {
        const t = setTimeout(start, 1000);
        t.unref();
      }
    });
    c.unref();
    (c.stdout as unknown as { unref?: () => void }).unref?.();
  };
  start();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    child?.kill('SIGTERM');
  };
}

/** `nft ARGS` (one command); throws with stderr on failure. */
export async function nftRun(args: string[]): Promise<void> {
  await runOk('nft', args);
}
