import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  mkdtempSync,
  mkdirSync,
  writeFileSync,
  symlinkSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { packPath, parseTar, extractEntries, encodeHeader } from '../../src/cli/tar.js';
import { splitCpArg } from '../../src/cli/commands/cp.js';

function tree(): string {
  const d = mkdtempSync(join(tmpdir(), 'cli-tar-'));
  mkdirSync(join(d, 'src/sub'), { recursive: true });
  writeFileSync(join(d, 'src/a.txt'), 'hello\n', { mode: 0o640 });
  writeFileSync(join(d, 'src/sub/' + 'x'.repeat(120)), 'long name');
  symlinkSync('a.txt', join(d, 'src/link'));
  return d;
}

test('packPath output is read by GNU tar (long names, symlinks, modes)', () => {
  const d = tree();
  try {
    const tarFile = join(d, 'out.tar');
    writeFileSync(tarFile, Buffer.concat([...packPath(join(d, 'src'), 'src')]));
    const list = spawnSync('tar', ['-tvf', tarFile], { encoding: 'utf8' });
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /-rw-r----- .* src\/a\.txt/);
    assert.match(list.stdout, /src\/link -> a\.txt/);
    assert.match(list.stdout, new RegExp(`src/sub/${'x'.repeat(120)}`));
    mkdirSync(join(d, 'x'));
    assert.equal(spawnSync('tar', ['-xf', tarFile, '-C', join(d, 'x')]).status, 0);
    assert.equal(readFileSync(join(d, 'x/src/sub/' + 'x'.repeat(120)), 'utf8'), 'long name');
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('parseTar reads GNU tar archives; extractEntries renames the root and refuses escapes', () => {
  const d = tree();
  try {
    const tarFile = join(d, 'gnu.tar');
    assert.equal(spawnSync('tar', ['-cf', tarFile, '-C', d, 'src']).status, 0);
    const entries = parseTar(readFileSync(tarFile));
    const names = entries.map((e) => `${e.type}:${e.name}`).sort();
    assert.ok(names.includes('file:src/a.txt'));
    assert.ok(names.includes('symlink:src/link'));
    assert.ok(names.includes(`file:src/sub/${'x'.repeat(120)}`));
    const dest = join(d, 'dest');
    mkdirSync(dest);
    extractEntries(entries, dest, { fromRoot: 'src', toRoot: 'renamed' });
    assert.equal(readFileSync(join(dest, 'renamed/a.txt'), 'utf8'), 'hello\n');
    assert.equal(statSync(join(dest, 'renamed/a.txt')).mode & 0o777, 0o640);
    assert.equal(readlinkSync(join(dest, 'renamed/link')), 'a.txt');
    const evil = Buffer.concat([
      encodeHeader({ name: '../evil', type: 'file', mode: 0o644, size: 1, mtime: 0 }),
      Buffer.from('x'),
      Buffer.alloc(511),
      Buffer.alloc(1024),
    ]);
    assert.throws(() => extractEntries(parseTar(evil), dest), /outside the destination/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('cp argument split', () => {
  assert.deepEqual(splitCpArg('web:/etc/hosts'), { container: 'web', path: '/etc/hosts' });
  assert.deepEqual(splitCpArg('/tmp/a:b'), { path: '/tmp/a:b' });
  assert.deepEqual(splitCpArg('./x:y'), { path: './x:y' });
  assert.deepEqual(splitCpArg('file'), { path: 'file' });
});

import { parseDockerignore, isIgnored } from '../../src/cli/dockerignore.js';
import { contextTar } from '../../src/cli/commands/build.js';

test('.dockerignore patterns like moby', () => {
  const p = parseDockerignore('# c\nnode_modules\n*.log\n!keep.log\n/tmp/**\n**/*.bak\ndocs/?.md\n');
  assert.ok(isIgnored('node_modules', p));
  assert.ok(isIgnored('node_modules/x/y.js', p));
  assert.ok(isIgnored('a.log', p));
  assert.ok(!isIgnored('keep.log', p));
  assert.ok(!isIgnored('sub/a.log', p), '*.log matches only at the root');
  assert.ok(isIgnored('tmp/a/b', p));
  assert.ok(isIgnored('x/y/z.bak', p) && isIgnored('z.bak', p));
  assert.ok(isIgnored('docs/a.md', p) && !isIgnored('docs/ab.md', p));
  assert.ok(!isIgnored('src/main.ts', p));
});

test('build context tar honours .dockerignore and always keeps the Dockerfile', () => {
  const d = mkdtempSync(join(tmpdir(), 'cli-ctx-'));
  try {
    mkdirSync(join(d, 'sub'));
    mkdirSync(join(d, 'skip'));
    writeFileSync(join(d, 'Dockerfile'), 'FROM busybox\n');
    writeFileSync(join(d, 'a.txt'), 'a');
    writeFileSync(join(d, 'sub/b.txt'), 'b');
    writeFileSync(join(d, 'skip/c'), 'c');
    writeFileSync(join(d, '.dockerignore'), 'skip\nDockerfile\n*.txt\n');
    const names = parseTar(Buffer.concat(contextTar(d, 'Dockerfile')))
      .map((e) => e.name)
      .sort();
    assert.deepEqual(names, ['.dockerignore', 'Dockerfile', 'sub', 'sub/b.txt']);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
