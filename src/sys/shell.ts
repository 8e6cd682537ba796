// Shell quoting, the one copy: for the few scripts cocon still hands to `sh` (the chroot runner's
// set-up script in ./chroot.ts). Everything else spawns argv directly (./exec.ts).

/** Quotes one word for POSIX sh: always single-quoted, inner quotes closed and escaped. */
export function shq(x: string): string { return `'${x.replace(/'/g, `'\\''`)}'`; }
