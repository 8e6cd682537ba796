// core/filters.ts: docker's `filters` query in both JSON forms, label filters ANDed, key checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseFilters,
  labelsMatch,
  labelMatches,
  checkFilterKeys,
  boolFilter,
  filtersRecord,
  portFilterKeys,
} from '../../src/core/filters.js';
import { kindOf } from '../../src/core/errors.js';

const is400 = (fn: () => unknown, msg: RegExp) =>
  assert.throws(fn, (e: unknown) => kindOf(e) === 'invalid-argument' && msg.test((e as Error).message));

test('both JSON forms give the same filters', () => {
  const a = parseFilters('{"label":{"a":true,"b=x":true},"name":{"web":true}}');
  const b = parseFilters('{"label":["a","b=x"],"name":["web"]}');
  assert.deepEqual(
    [...a],
    [
      ['label', ['a', 'b=x']],
      ['name', ['web']],
    ],
  );
  assert.deepEqual([...a], [...b]);
  assert.deepEqual(filtersRecord(a), { label: ['a', 'b=x'], name: ['web'] });
});

test('no filters: null, empty string, {}', () => {
  assert.equal(parseFilters(null).size, 0);
  assert.equal(parseFilters('').size, 0);
  assert.equal(parseFilters('{}').size, 0);
});

test('malformed filters are 400s', () => {
  for (const raw of ['{bad', '[]', '"label"', '{"label":"a"}', '{"label":[1]}', '{"label":{"a":"yes"}}', 'null']) {
    is400(() => parseFilters(raw), /invalid filter/);
  }
});

test('several label filters are ANDed', () => {
  const f = parseFilters('{"label":{"a":true,"b=x":true}}');
  assert.equal(labelsMatch({ a: '1', b: 'x' }, f), true);
  assert.equal(labelsMatch({ a: '1' }, f), false, 'only a: must not match a AND b=x');
  assert.equal(labelsMatch({ a: '1', b: 'y' }, f), false);
  assert.equal(labelsMatch({ b: 'x' }, f), false);
  assert.equal(labelsMatch(null, f), false);
  assert.equal(labelsMatch(null, new Map()), true, 'no label filter matches everything');
});

test('label! excludes, label=value needs the exact value, empty values count', () => {
  const f = { label: ['a'], 'label!': ['tmp'] };
  assert.equal(labelsMatch({ a: '' }, f), true);
  assert.equal(labelsMatch({ a: '', tmp: '1' }, f), false);
  assert.equal(labelMatches({ k: '' }, 'k='), true);
  assert.equal(labelMatches({ k: 'v=w' }, 'k=v=w'), true);
  assert.equal(labelMatches({ k: 'v' }, 'k=v=w'), false);
  assert.equal(labelMatches({}, 'toString'), false, 'no prototype keys');
});

test("unknown keys are refused with docker's message; bool values checked", () => {
  is400(() => checkFilterKeys(parseFilters('{"nope":["1"]}'), ['label']), /^invalid filter 'nope'$/);
  checkFilterKeys({ label: ['a'] }, ['label']);
  assert.equal(boolFilter('dangling', ['true']), true);
  assert.equal(boolFilter('dangling', ['0']), false);
  assert.equal(boolFilter('dangling', []), undefined);
  is400(() => boolFilter('dangling', ['maybe']), /^Invalid filter 'dangling=maybe'$/);
});

test('publish/expose values: a port, a protocol, a range; tcp by default; bad values are 400s', () => {
  assert.deepEqual([...portFilterKeys('publish', ['80'])], ['80/tcp']);
  assert.deepEqual(
    [...portFilterKeys('expose', ['53/udp', '8000-8002/tcp'])],
    ['53/udp', '8000/tcp', '8001/tcp', '8002/tcp'],
  );
  for (const bad of ['x', '0', '70000', '90-80', '80/icmp', ''])
    is400(() => portFilterKeys('publish', [bad]), /^invalid filter 'publish=/);
});
