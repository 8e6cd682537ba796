// Typed errors of the chroot manager. The CLI prints the message and exits non-zero:
// InvalidArgument/NotFound/Conflict/Unavailable/Failed -> 1 for management commands, 125 for
// `chroot run`/`shell` (whose own status is the command's).
export type ChrootErrorKind = 'InvalidArgument' | 'NotFound' | 'Conflict' | 'Unavailable' | 'Failed';

export class ChrootError extends Error {
  constructor(readonly kind: ChrootErrorKind, message: string) { super(message); }
}
