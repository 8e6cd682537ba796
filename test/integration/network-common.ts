// Shared by the network test files: cleanup of what a network test daemon leaves on the host
// once it is gone (its nft table, and any link tagged with its data root).
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';

export function nftTableOf(dataRoot: string): string {
  return `cocon_${createHash('sha256').update(dataRoot).digest('hex').slice(0, 8)}`;
}

export function cleanupNet(dataRoot: string): void {
  spawnSync('nft', ['delete', 'table', 'ip', nftTableOf(dataRoot)]);
  const links = JSON.parse(spawnSync('ip', ['-j', '-d', 'link'], { encoding: 'utf8' }).stdout || '[]') as Array<{ ifname: string; ifalias?: string }>;
  for (const l of links) if (l.ifalias === `cocon:${dataRoot}`) spawnSync('ip', ['link', 'del', l.ifname]);
}
