// Typed engine errors, shared by every room. Each carries a kind saying what went wrong, never an
// HTTP status: the API maps kinds to status codes in one place (src/api/httpstatus.ts), the CLI and
// the chroot manager print the message. Engine code throws InvalidArgument for bad input and
// Internal (or lets an untyped Error through, which counts as internal) for its own faults.
export type ErrorKind =
  | 'invalid-argument' // the request is malformed or asks for something impossible
  | 'unauthorized' // credentials missing or refused (a registry's 401)
  | 'forbidden' // understood but not allowed (e.g. writing to a read-only rootfs)
  | 'not-found' // the object named does not exist
  | 'conflict' // the object's state forbids it (running, in use, name taken)
  | 'not-modified' // already in the state asked for (start a running container)
  | 'internal' // the engine or the host failed
  | 'not-implemented' // a Docker feature cocon does not have
  | 'too-large' // a request body over its limit
  | 'timeout' // a request that did not arrive in time
  | 'unavailable'; // a tool or facility this host lacks

export class EngineError extends Error {
  constructor(
    public readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
export class InvalidArgument extends EngineError {
  constructor(m: string) {
    super('invalid-argument', m);
  }
}
export class Unauthorized extends EngineError {
  constructor(m: string) {
    super('unauthorized', m);
  }
}
export class Forbidden extends EngineError {
  constructor(m: string) {
    super('forbidden', m);
  }
}
export class NotFound extends EngineError {
  constructor(m: string) {
    super('not-found', m);
  }
}
export class Conflict extends EngineError {
  constructor(m: string) {
    super('conflict', m);
  }
}
export class NotModified extends EngineError {
  constructor(m = '') {
    super('not-modified', m);
  }
}
export class Internal extends EngineError {
  constructor(m: string) {
    super('internal', m);
  }
}
export class NotImplemented extends EngineError {
  constructor(m: string) {
    super('not-implemented', m);
  }
}
export class Unavailable extends EngineError {
  constructor(m: string) {
    super('unavailable', m);
  }
}
export class TooLarge extends EngineError {
  constructor(m: string) {
    super('too-large', m);
  }
}
export class TimedOut extends EngineError {
  constructor(m: string) {
    super('timeout', m);
  }
}

/** The kind of any thrown value: untyped errors are internal faults. */
export function kindOf(err: unknown): ErrorKind {
  return err instanceof EngineError ? err.kind : 'internal';
}
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
