// Chain ids (OCI image-spec, config.md "Layer ChainID"). Pure.
//   ChainID(L0) = DiffID(L0)
//   ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))
import { createHash } from 'node:crypto';

export function chainId(parent: string | undefined, diffId: string): string {
  if (!parent) return diffId;
  return 'sha256:' + createHash('sha256').update(`${parent} ${diffId}`).digest('hex');
}

/** Chain ids of a layer stack, bottom first (same order as the diff ids). */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  let parent: string | undefined;
  for (const d of diffIds) {
    parent = chainId(parent, d);
    out.push(parent);
  }
  return out;
}
