// Typed engine errors. Every service throws one of these; the API server maps them to Docker's
// HTTP status codes and `{"message": ...}` bodies, and the CLI prints the message.
export class EngineError extends Error {
  constructor(public readonly status: number, message: string) {
    super(message);
    this.name = new.target.name;
  }
}
export class InvalidArgument extends EngineError { constructor(m: string) { super(400, m); } }
export class Forbidden extends EngineError { constructor(m: string) { super(403, m); } }
export class NotFound extends EngineError { constructor(m: string) { super(404, m); } }
export class Conflict extends EngineError { constructor(m: string) { super(409, m); } }
export class NotModified extends EngineError { constructor(m = '') { super(304, m); } }
export class Internal extends EngineError { constructor(m: string) { super(500, m); } }
export class Unavailable extends EngineError { constructor(m: string) { super(503, m); } }

export function statusOf(err: unknown): number {
  return err instanceof EngineError ? err.status : 500;
}
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
