// The one place where engine error kinds become HTTP status codes (Docker's codes for the same
// errors). Everything the engine throws passes through statusOf before it reaches a client.
import { kindOf, type ErrorKind } from '../core/errors.js';

export const STATUS_OF_KIND: Readonly<Record<ErrorKind, number>> = {
  'not-modified': 304,
  'invalid-argument': 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  timeout: 408,
  conflict: 409,
  'too-large': 413,
  internal: 500,
  'not-implemented': 501,
  unavailable: 503,
};

/** The status code for any thrown value; an untyped error is a 500. */
export function statusOf(err: unknown): number {
  return STATUS_OF_KIND[kindOf(err)];
}
