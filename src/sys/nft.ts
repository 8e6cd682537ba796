// nftables through nft(8): whole scripts applied as one transaction (`nft -f -`), listing in
// JSON (`nft -j`). cocon only ever touches its own tables.
import { runOk, run } from './exec.js';

/** Applies an nft script atomically (`nft -f -`, the script on stdin), on the host or inside a network namespace (file path). */
export async function nftApply(script: string, netns?: string): Promise<void> {
  if (netns) await runOk('nsenter', [`--net=${netns}`, 'nft', '-f', '-'], { input: script });
  else await runOk('nft', ['-f', '-'], { input: script });
}

/** The host's tables as family + name. */
export async function nftTables(): Promise<Array<{ family: string; name: string }>> {
  const out = await runOk('nft', ['-j', 'list', 'tables']);
  const j = JSON.parse(out) as { nftables: Array<{ table?: { family: string; name: string } }> };
  return j.nftables.filter((e) => e.table).map((e) => ({ family: e.table!.family, name: e.table!.name }));
}

/** The comment of one table ('' when it has none or does not exist). */
export async function nftTableComment(family: string, name: string): Promise<string> {
  // nft 1.0.6 leaves table comments out of its JSON: read the text form.
  const r = await run('nft', ['list', 'table', family, name]);
  if (r.code !== 0) return '';
  return /^\s*comment "([^"]*)"/m.exec(r.stdout)?.[1] ?? '';
}

export async function nftDeleteTable(family: string, name: string): Promise<void> {
  await run('nft', ['delete', 'table', family, name]);
}
