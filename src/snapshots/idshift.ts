// --userns-remap: a tar stream read from a remapped daemon's files by GNU tar (docker export) carries
// host ids shifted into the subordinate range; the client must get the ids the container sees. shiftTarToContainer re-packs the stream entry by entry with the owners shifted
// back (src/core/idmap.ts ownerToContainer: ids beyond the maps become 65534, as inside). The source
// must carry ids of any size (GNU tar does; tar-stream's pack writes at most 2^18-1, so tars packed
// here shift before packing: src/sys/tarstream.ts packLocated's owner map, ./diff.ts layerTar). The
// other direction (a tar written into the store) is the extractor's `idMap` option (./apply.ts).
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, pack, type Header } from 'tar-stream';
import { ownerToContainer, type IdentityMapping } from '../core/idmap.js';

/** `src` with every entry's uid/gid shifted from host ids to the container's (unchanged without a map). */
export function shiftTarToContainer(src: Readable, idMap: IdentityMapping | undefined): Readable {
  if (!idMap) return src;
  const ex = extract();
  const p = pack();
  const out = new PassThrough();
  ex.on('entry', (h: Header, stream, next) => {
    const shifted = { ...h, ...ownerToContainer(h.uid ?? 0, h.gid ?? 0, idMap) };
    const sink = p.entry(shifted, (err) => (err ? next(err) : next()));
    stream.pipe(sink as unknown as NodeJS.WritableStream);
  });
  const fail = (e: Error) => {
    src.destroy();
    p.destroy(e);
    out.destroy(e);
  };
  pipeline(src, ex).then(() => p.finalize(), fail);
  p.on('error', fail);
  p.pipe(out);
  // the consumer going away releases the source (its release hooks run on close)
  out.once('close', () => src.destroy());
  return out;
}
