import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chainId, chainIds } from '../../src/snapshots/chain.js';
import { canonicalJson } from '../../src/images/canonical.js';

const d = (s: string) => 'sha256:' + createHash('sha256').update(s).digest('hex');

test('chain id of a base layer is its diff id', () => {
  assert.equal(chainId(undefined, d('a')), d('a'));
  assert.deepEqual(chainIds([d('a')]), [d('a')]);
});

test('chain ids per OCI image-spec', () => {
  const [a, b, c] = [d('a'), d('b'), d('c')];
  const ab = 'sha256:' + createHash('sha256').update(`${a} ${b}`).digest('hex');
  const abc = 'sha256:' + createHash('sha256').update(`${ab} ${c}`).digest('hex');
  assert.deepEqual(chainIds([a, b, c]), [a, ab, abc]);
  assert.equal(chainId(ab, c), abc);
  assert.deepEqual(chainIds([]), []);
});

test('canonical JSON sorts keys and drops undefined', () => {
  assert.equal(canonicalJson({ b: 1, a: [{ d: 'x', c: null }], u: undefined }), '{"a":[{"c":null,"d":"x"}],"b":1}');
});
