// Pure path rules of the safe extractor and of docker load (issue 9): entry names, whiteouts, and the
// lexical resolution of symlinks between files of an image archive (never leaving the archive).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanEntryName, whiteoutOf } from '../../src/sys/tar/rules.js';
import { resolveArchiveName } from '../../src/images/archive.js';

test('cleanEntryName: absolute names are refused for layers and counted from the root for import/cp', () => {
  assert.throws(() => cleanEntryName('/etc/shadow'), /absolute path/);
  assert.equal(cleanEntryName('/etc/shadow', 'strip'), 'etc/shadow');
  assert.equal(cleanEntryName('//./etc//x/', 'strip'), 'etc/x');
  assert.equal(cleanEntryName('/', 'strip'), '');
  for (const mode of ['refuse', 'strip'] as const) {
    assert.throws(() => cleanEntryName('a/../b', mode), /'\.\.'/);
    assert.throws(() => cleanEntryName('..', mode), /'\.\.'/);
    assert.throws(() => cleanEntryName('../../../etc/passwd', mode), /'\.\.'/);
  }
  assert.equal(cleanEntryName('a/..b/c..'), 'a/..b/c..', "names merely containing '..' are fine");
});

test('whiteoutOf: only a non-empty name after .wh. is a whiteout', () => {
  assert.deepEqual(whiteoutOf('.wh..wh..opq'), { kind: 'opaque', dir: '' });
  assert.throws(() => whiteoutOf('a/.wh.'), /invalid whiteout/);
  assert.throws(() => whiteoutOf('a/.wh...'), /invalid whiteout/);
  assert.equal(whiteoutOf('a/x.wh.y'), undefined);
});

const deep = Array(14).fill('a').join('/');
const index = new Map<string, { type: 'file' | 'symlink' | 'directory'; linkname?: string }>([
  ['manifest.json', { type: 'file' }],
  ['blobs/sha256/aa', { type: 'file' }],
  ['1/layer.tar', { type: 'file' }],
  ['2/layer.tar', { type: 'symlink', linkname: '../1/layer.tar' }],
  ['3', { type: 'symlink', linkname: '1' }],
  ['up', { type: 'symlink', linkname: '..' }],
  ['abs', { type: 'symlink', linkname: '/etc/shadow' }],
  ['loop', { type: 'symlink', linkname: 'loop' }],
  ['dir', { type: 'directory' }],
  [`${deep}/u`, { type: 'symlink', linkname: Array(14).fill('..').join('/') }],
  [`${deep}/u/w`, { type: 'symlink', linkname: Array(15).fill('..').join('/') }],
]);

test('resolveArchiveName: links between archive files resolve inside the archive only', () => {
  assert.equal(resolveArchiveName(index, 'manifest.json'), 'manifest.json');
  assert.equal(resolveArchiveName(index, './2/layer.tar'), '1/layer.tar', 'docker save links shared layers');
  assert.equal(resolveArchiveName(index, '3/layer.tar'), '1/layer.tar', 'a linked directory');
  assert.equal(resolveArchiveName(index, `${deep}/u/manifest.json`), 'manifest.json', 'a link to the archive root');
  assert.throws(() => resolveArchiveName(index, 'up/etc/passwd'), /points outside the archive/);
  assert.throws(() => resolveArchiveName(index, 'abs'), /points outside the archive/);
  assert.throws(() => resolveArchiveName(index, '../etc/passwd'), /points outside the archive/);
  assert.throws(() => resolveArchiveName(index, '/etc/passwd'), /points outside the archive/);
  assert.throws(
    () => resolveArchiveName(index, `${deep}/u/w/etc/passwd`),
    /is missing/,
    "u/w is looked up as the archive root's w",
  );
  assert.throws(() => resolveArchiveName(index, 'w/etc/passwd'), /is missing/);
  assert.throws(() => resolveArchiveName(index, 'loop'), /too many links/);
  assert.throws(() => resolveArchiveName(index, 'dir'), /is missing/, 'a directory is not a file');
});
