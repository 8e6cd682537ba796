// Unit tests for docker's mount rules: -v strings, --mount objects, --tmpfs, image VOLUMEs,
// --volumes-from, their precedence and errors, volume names, and sizes (go-units RAMInBytes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseBind,
  parseMount,
  parseTmpfs,
  containerMounts,
  fromContainer,
  validateVolumeName,
  type MountPoint,
} from '../../src/volumes/mounts.js';
import { parseSize } from '../../src/volumes/size.js';
import { InvalidArgument } from '../../src/core/errors.js';

/** Asserts fn throws docker's 400 (InvalidArgument) with a message matching re. */
function refuses(fn: () => unknown, re: RegExp | string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof InvalidArgument, `expected InvalidArgument, got ${String(e)}`);
    assert.equal(e.kind, 'invalid-argument');
    if (typeof re === 'string') assert.equal(e.message, re);
    else assert.match(e.message, re);
    return true;
  });
}

const invalidName = (n: string) =>
  `create ${n}: "${n}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`;

// ---- -v / HostConfig.Binds -----------------------------------------------------------------

test('-v /host:/ctr is a read-write bind that creates its host dir; trailing slashes are cleaned', () => {
  const m = parseBind('/srv/data:/data');
  assert.equal(m.Type, 'bind');
  assert.equal(m.Source, '/srv/data');
  assert.equal(m.Destination, '/data');
  assert.equal(m.RW, true);
  assert.equal(m.Mode, '');
  assert.equal(m.Propagation, 'rprivate');
  assert.equal(m.createHostPath, true);
  assert.ok(!m.copy, 'a bind never copies image content');
  const t = parseBind('/srv/data/:/data/');
  assert.equal(t.Source, '/srv/data');
  assert.equal(t.Destination, '/data');
  assert.equal(parseBind('/srv//x/./y:/d').Source, '/srv/x/y');
});

test('-v /host:/ctr:ro is read-only with Mode "ro"; propagation modes are kept', () => {
  const m = parseBind('/tmp/hostdir:/data:ro');
  assert.equal(m.RW, false);
  assert.equal(m.Mode, 'ro');
  assert.equal(m.Propagation, 'rprivate');
  const s = parseBind('/h:/d:rw,rshared');
  assert.equal(s.RW, true);
  assert.equal(s.Propagation, 'rshared');
  assert.equal(parseBind('/h:/d:z').RW, true);
});

test('-v name:/ctr is a named local volume (Mode "z", copy-up on); ro and nocopy', () => {
  const m = parseBind('dbdata:/var/lib/mysql');
  assert.equal(m.Type, 'volume');
  assert.equal(m.Name, 'dbdata');
  assert.equal(m.Source, '');
  assert.equal(m.Destination, '/var/lib/mysql');
  assert.equal(m.Driver, 'local');
  assert.equal(m.Mode, 'z');
  assert.equal(m.RW, true);
  assert.equal(m.copy, true);
  assert.ok(!m.anonymous);
  const ro = parseBind('dbdata:/d:ro');
  assert.equal(ro.RW, false);
  assert.equal(ro.Mode, 'ro');
  assert.equal(ro.copy, true);
  const nc = parseBind('dbdata:/d:nocopy');
  assert.equal(nc.copy, false);
  assert.equal(nc.RW, true);
  const both = parseBind('dbdata:/d:ro,nocopy');
  assert.equal(both.copy, false);
  assert.equal(both.RW, false);
});

test('-v /ctr alone is an anonymous volume with copy-up', () => {
  const m = parseBind('/data');
  assert.equal(m.Type, 'volume');
  assert.equal(m.Name, '');
  assert.equal(m.Destination, '/data');
  assert.equal(m.anonymous, true);
  assert.equal(m.copy, true);
  assert.equal(m.RW, true);
});

test("a relative host path is read as a volume name and refused with docker's words", () => {
  refuses(() => parseBind('./data:/data'), invalidName('./data'));
  refuses(() => parseBind('data/sub:/data'), invalidName('data/sub'));
  refuses(() => parseBind('../up:/data'), invalidName('../up'));
  refuses(() => parseBind('.hidden:/data'), invalidName('.hidden'));
});

test('illegal volume names are refused; legal ones pass', () => {
  for (const n of ['a@b', 'with space', '-lead', '_lead', 'x', 'é'])
    refuses(() => parseBind(`${n}:/d`), invalidName(n));
  for (const n of ['a@b', 'a/b', '-x', 'x', '']) refuses(() => validateVolumeName(n), invalidName(n));
  for (const n of ['v1', 'my_vol-1.a', '0abc', 'A.b_c-d']) assert.doesNotThrow(() => validateVolumeName(n), n);
});

test("'..' in a host path or a container path is refused", () => {
  refuses(() => parseBind('/srv/../etc:/data'), /must not contain '\.\.'/);
  refuses(() => parseBind('/srv/..:/data'), /'\/srv\/\.\.'/);
  refuses(
    () => parseBind('/srv:/data/../etc'),
    /invalid volume specification: '\/srv:\/data\/\.\.\/etc'.*must not contain '\.\.'/,
  );
  refuses(() => parseBind('/data/..'), /must not contain '\.\.'/);
  // a name that merely contains dots is fine
  assert.equal(parseBind('/srv/a..b:/data').Source, '/srv/a..b');
});

test('the container path must be absolute and not /', () => {
  refuses(() => parseBind('/srv:data'), /invalid volume specification: '\/srv:data'.*mount path must be absolute/);
  refuses(() => parseBind('v1:rel/dir'), /mount path must be absolute/);
  refuses(() => parseBind('/srv:/'), /destination can't be '\/'/);
  refuses(() => parseBind('/srv://'), /destination can't be '\/'/);
});

test('mounting over /proc or /sys (or below them) is refused; look-alike paths are not', () => {
  for (const spec of [
    '/h:/proc',
    '/h:/proc/',
    '/h:/proc/sys',
    '/h:/sys',
    '/h:/sys/fs/cgroup',
    'v1:/proc',
    '/proc',
    '/sys/kernel',
  ]) {
    refuses(() => parseBind(spec), /mounting over \/(proc|sys) is not allowed/);
  }
  assert.equal(parseBind('/h:/procedures').Destination, '/procedures');
  assert.equal(parseBind('/h:/system').Destination, '/system');
  assert.equal(parseBind('/proc:/hostproc').Source, '/proc', 'a host /proc as the source is a plain bind');
});

test('malformed -v strings and unknown modes', () => {
  refuses(() => parseBind('/a:/b:ro:x'), "invalid volume specification: '/a:/b:ro:x'");
  refuses(() => parseBind('/a::ro'), "invalid volume specification: '/a::ro'");
  refuses(() => parseBind(':/b'), "invalid volume specification: ':/b'");
  refuses(() => parseBind('/a:/b:bogus'), 'invalid mode: bogus');
  refuses(() => parseBind('v1:/b:ro,bogus'), 'invalid mode: bogus');
});

// ---- --mount / HostConfig.Mounts ------------------------------------------------------------

test('--mount type=bind: read-only, propagation; never creates the host path', () => {
  const m = parseMount({ Type: 'bind', Source: '/srv/x/', Target: '/x', ReadOnly: true });
  assert.equal(m.Type, 'bind');
  assert.equal(m.Source, '/srv/x');
  assert.equal(m.Destination, '/x');
  assert.equal(m.RW, false);
  assert.equal(m.createHostPath, false);
  assert.equal(m.Propagation, 'rprivate');
  assert.equal(
    parseMount({ Type: 'bind', Source: '/s', Target: '/t', BindOptions: { Propagation: 'rslave' } }).Propagation,
    'rslave',
  );
  refuses(() => parseMount({ Type: 'bind', Target: '/x' }), /field Source must not be empty/);
  refuses(
    () => parseMount({ Type: 'bind', Source: 'rel', Target: '/x' }),
    'invalid mount config for type "bind": invalid mount path: \'rel\' mount path must be absolute',
  );
  refuses(() => parseMount({ Type: 'bind', Source: '/a/../b', Target: '/x' }), /must not contain '\.\.'/);
  refuses(() => parseMount({ Type: 'bind', Source: '/a', Target: 'x' }), /mount path must be absolute/);
});

test('--mount type=volume: named, anonymous, volume-nocopy, readonly; bad names', () => {
  const n = parseMount({ Type: 'volume', Source: 'v1', Target: '/data' });
  assert.equal(n.Type, 'volume');
  assert.equal(n.Name, 'v1');
  assert.equal(n.copy, true);
  assert.equal(n.anonymous, false);
  assert.equal(n.RW, true);
  const a = parseMount({ Type: 'volume', Target: '/data', ReadOnly: true, VolumeOptions: { NoCopy: true } });
  assert.equal(a.Name, '');
  assert.equal(a.anonymous, true);
  assert.equal(a.copy, false);
  assert.equal(a.RW, false);
  assert.equal(parseMount({ Type: 'volume', Source: 'v1', Destination: '/d' }).Destination, '/d');
  refuses(() => parseMount({ Type: 'volume', Source: 'a/b', Target: '/d' }), invalidName('a/b'));
  refuses(() => parseMount({ Type: 'volume', Source: 'v1', Target: '/proc' }), /mounting over \/proc is not allowed/);
  refuses(() => parseMount({ Type: 'volume', Source: 'v1' }), /Target must not be empty/);
});

test('--mount type=tmpfs: size and mode become mount options; a source is refused; unknown types', () => {
  const t = parseMount({ Type: 'tmpfs', Target: '/scratch', TmpfsOptions: { SizeBytes: 65536, Mode: 0o1777 } });
  assert.equal(t.Type, 'tmpfs');
  assert.equal(t.Destination, '/scratch');
  assert.deepEqual(t.tmpfsOptions, ['size=65536', 'mode=1777']);
  assert.deepEqual(parseMount({ Type: 'tmpfs', Target: '/s' }).tmpfsOptions, []);
  refuses(() => parseMount({ Type: 'tmpfs', Source: 'x', Target: '/s' }), /source must not be specified/);
  refuses(
    () => parseMount({ Type: 'npipe', Source: 'x', Target: '/s' }),
    'invalid mount config: mount type unknown: "npipe"',
  );
  refuses(() => parseMount({ Source: 'x', Target: '/s' }), /mount type unknown/);
});

// ---- --tmpfs / HostConfig.Tmpfs ----------------------------------------------------------------

test('--tmpfs /path[:opts]: ro/rw set RW, the rest are mount options', () => {
  const a = parseTmpfs('/run', 'rw,size=64m,mode=755');
  assert.equal(a.Type, 'tmpfs');
  assert.equal(a.Destination, '/run');
  assert.equal(a.RW, true);
  assert.deepEqual(a.tmpfsOptions, ['size=64m', 'mode=755']);
  const b = parseTmpfs('/cache/', 'ro');
  assert.equal(b.Destination, '/cache');
  assert.equal(b.RW, false);
  assert.deepEqual(b.tmpfsOptions, []);
  assert.deepEqual(parseTmpfs('/t', '').tmpfsOptions, []);
  refuses(() => parseTmpfs('/proc', ''), /mounting over \/proc/);
  refuses(() => parseTmpfs('tmp', ''), /must be absolute/);
});

// ---- --volumes-from ------------------------------------------------------------------------------

const SOURCE_MOUNTS: MountPoint[] = [
  {
    Type: 'volume',
    Name: 'named1',
    Source: '',
    Destination: '/data',
    Driver: 'local',
    Mode: 'z',
    RW: true,
    Propagation: '',
    copy: true,
  },
  {
    Type: 'volume',
    Name: 'a'.repeat(64),
    Source: '',
    Destination: '/anon',
    Driver: 'local',
    Mode: '',
    RW: true,
    Propagation: '',
    copy: true,
    anonymous: true,
  },
  {
    Type: 'bind',
    Source: '/srv/cfg',
    Destination: '/cfg',
    Mode: 'ro',
    RW: false,
    Propagation: 'rprivate',
    createHostPath: true,
  },
  { Type: 'tmpfs', Source: '', Destination: '/scratch', Mode: '', RW: true, Propagation: '', tmpfsOptions: [] },
];

test('--volumes-from c: the same volumes and binds at the same paths, modes kept; no tmpfs', () => {
  const m = fromContainer('c1', SOURCE_MOUNTS);
  assert.deepEqual(
    m.map((x) => [x.Type, x.Name ?? x.Source, x.Destination, x.RW]),
    [
      ['volume', 'named1', '/data', true],
      ['volume', 'a'.repeat(64), '/anon', true],
      ['bind', '/srv/cfg', '/cfg', false],
    ],
  );
  for (const x of m) {
    assert.equal(x.copy, false, `${x.Destination}: no copy-up through --volumes-from`);
    assert.equal(x.anonymous, false, `${x.Destination}: the borrower does not own (rm -v) the volume`);
    assert.equal(x.createHostPath, false);
  }
  assert.equal(SOURCE_MOUNTS[1].anonymous, true, "the source container's mounts are not modified");
});

test('--volumes-from c:ro makes every mount read-only, c:rw read-write; other modes refused', () => {
  assert.ok(fromContainer('c1:ro', SOURCE_MOUNTS).every((x) => x.RW === false));
  assert.ok(fromContainer('c1:rw', SOURCE_MOUNTS).every((x) => x.RW === true));
  refuses(() => fromContainer('c1:z', SOURCE_MOUNTS), 'invalid mode: z');
});

// ---- containerMounts: precedence and duplicates ------------------------------------------------

test('explicit mounts: a destination used twice is an error, whatever the flags', () => {
  refuses(() => containerMounts({ binds: ['/a:/data', 'v1:/data'] }), 'Duplicate mount point: /data');
  refuses(
    () => containerMounts({ binds: ['/a:/data/'], mounts: [{ Type: 'volume', Source: 'v1', Target: '/data' }] }),
    'Duplicate mount point: /data',
  );
  refuses(() => containerMounts({ binds: ['/a:/run'], tmpfs: { '/run': '' } }), 'Duplicate mount point: /run');
  refuses(
    () =>
      containerMounts({
        mounts: [
          { Type: 'tmpfs', Target: '/x' },
          { Type: 'bind', Source: '/a', Target: '/x' },
        ],
      }),
    'Duplicate mount point: /x',
  );
});

test('order: -v, then --mount, then --tmpfs, then --volumes-from, then image VOLUMEs', () => {
  const from = fromContainer('c1', SOURCE_MOUNTS);
  const all = containerMounts({
    binds: ['/h:/b'],
    mounts: [{ Type: 'volume', Source: 'm1', Target: '/m' }],
    tmpfs: { '/t': 'size=1m' },
    volumesFrom: from,
    imageVolumes: { '/img': {} },
  });
  assert.deepEqual(
    all.map((m) => m.Destination),
    ['/b', '/m', '/t', '/data', '/anon', '/cfg', '/img'],
  );
});

test('an image VOLUME gets an anonymous copy-up volume unless something else is mounted there', () => {
  const only = containerMounts({ imageVolumes: { '/var/lib/mysql': {}, '/data/': {} } });
  assert.equal(only.length, 2);
  for (const m of only) {
    assert.equal(m.Type, 'volume');
    assert.equal(m.Name, '');
    assert.equal(m.anonymous, true);
    assert.equal(m.copy, true);
  }
  assert.deepEqual(
    only.map((m) => m.Destination),
    ['/var/lib/mysql', '/data'],
  );
  // -v name over the VOLUME path: the named volume wins, no anonymous one
  const named = containerMounts({ binds: ['dbdata:/var/lib/mysql'], imageVolumes: { '/var/lib/mysql': {} } });
  assert.equal(named.length, 1);
  assert.equal(named[0].Name, 'dbdata');
  // a bind over the VOLUME path (with a trailing slash in the image config) wins too
  const bind = containerMounts({ binds: ['/srv/db:/var/lib/mysql'], imageVolumes: { '/var/lib/mysql/': {} } });
  assert.deepEqual(
    bind.map((m) => [m.Type, m.Source]),
    [['bind', '/srv/db']],
  );
  // --volumes-from over the VOLUME path wins over the image
  const vf = containerMounts({ volumesFrom: fromContainer('c1', SOURCE_MOUNTS), imageVolumes: { '/data': {} } });
  assert.deepEqual(
    vf.filter((m) => m.Destination === '/data').map((m) => m.Name),
    ['named1'],
  );
});

test('an explicit mount wins over --volumes-from at the same path (no duplicate error)', () => {
  const all = containerMounts({ binds: ['mine:/data'], volumesFrom: fromContainer('c1', SOURCE_MOUNTS) });
  const data = all.filter((m) => m.Destination === '/data');
  assert.equal(data.length, 1);
  assert.equal(data[0].Name, 'mine');
  // two --volumes-from with the same path: the first one wins
  const two = containerMounts({
    volumesFrom: [...fromContainer('c1', SOURCE_MOUNTS), ...fromContainer('c2:ro', SOURCE_MOUNTS)],
  });
  assert.equal(two.filter((m) => m.Destination === '/data').length, 1);
  assert.equal(two.find((m) => m.Destination === '/data')?.RW, true);
});

test('no mounts at all -> empty list', () => {
  assert.deepEqual(containerMounts({}), []);
  assert.deepEqual(containerMounts({ binds: null, mounts: null, tmpfs: null, imageVolumes: null }), []);
});

// ---- sizes -----------------------------------------------------------------------------------------

test('parseSize reads go-units sizes in binary units', () => {
  const cases: Array<[string, number]> = [
    ['4096', 4096],
    ['1b', 1],
    ['512k', 512 * 1024],
    ['512K', 512 * 1024],
    ['8m', 8 * 1024 ** 2],
    ['8M', 8 * 1024 ** 2],
    ['8mb', 8 * 1024 ** 2],
    ['8MiB', 8 * 1024 ** 2],
    ['1.5g', 1.5 * 1024 ** 3],
    ['2G', 2 * 1024 ** 3],
    ['1t', 1024 ** 4],
    [' 10m ', 10 * 1024 ** 2],
    ['1kb', 1024],
  ];
  for (const [s, n] of cases) assert.equal(parseSize(s), n, s);
});

test('parseSize refuses garbage, zero and negative sizes', () => {
  for (const s of ['', 'abc', '-1', '-1m', '0', '0m', '10x', 'm', '1.2.3m', '10 m b']) {
    refuses(() => parseSize(s), `invalid size: '${s}'`);
  }
});
