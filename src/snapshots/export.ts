// Exporting a filesystem tree as a tar stream (GET /containers/{id}/export): the caller passes the
// container's root filesystem directory (its mounted overlay, or a merged view it mounts for the
// duration); whiteout devices never appear there because overlayfs hides them in a merged view.
import type { Readable } from 'node:stream';
import { tarDirectoryStream } from '../sys/tar.js';

/** An uncompressed tar of `rootfs` (numeric owners, xattrs, sorted names). Errors surface on the stream. */
export function exportTree(rootfs: string): Readable {
  return tarDirectoryStream(rootfs);
}
