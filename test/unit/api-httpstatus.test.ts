// The API's one mapping from engine error kinds to HTTP status codes (src/api/httpstatus.ts):
// every class of src/core/errors.ts gets Docker's status for it, untyped errors are 500s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STATUS_OF_KIND, statusOf } from '../../src/api/httpstatus.js';
import {
  Conflict,
  EngineError,
  Forbidden,
  Internal,
  InvalidArgument,
  NotFound,
  NotImplemented,
  NotModified,
  TimedOut,
  TooLarge,
  Unauthorized,
  Unavailable,
  kindOf,
  messageOf,
} from '../../src/core/errors.js';

test('each typed error maps to its Docker status code', () => {
  const cases: Array<[EngineError, string, number]> = [
    [new NotModified(), 'not-modified', 304],
    [new InvalidArgument('bad'), 'invalid-argument', 400],
    [new Unauthorized('who'), 'unauthorized', 401],
    [new Forbidden('no'), 'forbidden', 403],
    [new NotFound('gone'), 'not-found', 404],
    [new TimedOut('slow'), 'timeout', 408],
    [new Conflict('busy'), 'conflict', 409],
    [new TooLarge('big'), 'too-large', 413],
    [new Internal('broke'), 'internal', 500],
    [new NotImplemented('later'), 'not-implemented', 501],
    [new Unavailable('missing'), 'unavailable', 503],
  ];
  for (const [err, kind, status] of cases) {
    assert.ok(err instanceof EngineError && err instanceof Error, err.name);
    assert.equal(err.kind, kind, err.name);
    assert.equal(statusOf(err), status, err.name);
  }
  // every kind has exactly one status, and the table covers no kind twice
  assert.equal(Object.keys(STATUS_OF_KIND).length, cases.length);
  assert.equal(new Set(Object.values(STATUS_OF_KIND)).size, cases.length);
});

test('untyped errors and non-errors are internal faults (500), never bad input', () => {
  assert.equal(statusOf(new Error('EIO: i/o error')), 500);
  assert.equal(statusOf(new TypeError('x is undefined')), 500);
  assert.equal(statusOf('a string'), 500);
  assert.equal(statusOf(undefined), 500);
  assert.equal(kindOf(new RangeError('r')), 'internal');
});

test('errors carry no HTTP: the message is the text, the name is the class', () => {
  const e = new NotFound('No such container: x');
  assert.equal(e.message, 'No such container: x');
  assert.equal(e.name, 'NotFound');
  assert.equal((e as unknown as Record<string, unknown>).status, undefined);
  assert.equal(messageOf(e), 'No such container: x');
  assert.equal(messageOf('plain'), 'plain');
  assert.equal(new NotModified().message, '');
});
