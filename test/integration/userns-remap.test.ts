// `cocon daemon --userns-remap default` for real (runc, overlayfs, the docker CLI): container root is
// uid 0 inside and a subordinate uid outside (uid_map shows the range); what it writes to a bind mount
// and a named volume belongs to that host uid; it cannot read a root-only host file bound in; exec
// joins its namespaces; --userns=host opts out; --privileged and --net=host without it are refused
// with dockerd's messages; commit, export, cp, save/load and build keep the container's ids; info,
// inspect and `cocon check` say so; a user without subordinate ranges stops the daemon clearly.
// The dockremap user and its ranges are removed afterwards when this test made them.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { useDaemon, docker, cli, run, uniq, startDaemon } from '../helpers/daemon.js';
import { mapFor, ownerToContainer, parseSubIds, type IdentityMapping } from '../../src/core/idmap.js';
import { extractTarStream } from '../../src/sys/tar/extract.js';
import { packTree } from '../../src/sys/tar/pack.js';
import { LAYER, LayerError } from '../../src/sys/tar/rules.js';
import type { Readable } from 'node:stream';
import { pack, extract, type Header } from 'tar-stream';

// What the host had before: dockremap and the subordinate id files are restored to it afterwards.
const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : null);
const before = {
  dockremap: /^dockremap:/m.test(readFileSync('/etc/passwd', 'utf8')),
  subuid: read('/etc/subuid'),
  subgid: read('/etc/subgid'),
};

const tag = 100 + (process.pid % 100);
const net = (n: number) => [
  '--bridge',
  `cun${n}${process.pid.toString(36)}`,
  '--bip',
  `10.${tag}.${110 + n}.1/24`,
  '--default-address-pool',
  `base=10.${tag}.${128 + 16 * n}.0/20,size=24`,
];
const h = useDaemon({ busybox: true, traversable: true, args: ['--userns-remap', 'default', ...net(0)] });

after(
  async () => {
    if (before.dockremap) return; // never touch an account the host had
    await run('userdel', ['dockremap']);
    await run('groupdel', ['dockremap']);
    for (const [f, text] of [
      ['/etc/subuid', before.subuid],
      ['/etc/subgid', before.subgid],
    ] as const) {
      if (text === null) rmSync(f, { force: true });
      else writeFileSync(f, text);
    }
  },
  { timeout: 60_000 },
);

/** dockremap's range as the daemon found or made it. */
function range(): { uid: number; gid: number } {
  const u = mapFor(parseSubIds(readFileSync('/etc/subuid', 'utf8')), 'dockremap');
  const g = mapFor(parseSubIds(readFileSync('/etc/subgid', 'utf8')), 'dockremap');
  assert.ok(u.length && g.length, 'dockremap has subordinate ranges');
  return { uid: u[0].hostID, gid: g[0].hostID };
}

const ok = (r: { code: number; stdout: string; stderr: string }, what: string) =>
  assert.equal(r.code, 0, `${what}: ${r.stderr}${r.stdout}`);

test('container root is 0 inside and the subordinate range outside; run and exec alike', async () => {
  const { uid } = range();
  assert.ok(uid >= 65536, `range starts at ${uid}`);
  const r = await docker(h.d, [
    'run',
    '--rm',
    'busybox',
    'sh',
    '-c',
    'id -u; cat /proc/self/uid_map; ls /sys/class/net',
  ]);
  ok(r, 'run');
  const [id, map] = r.stdout.split('\n');
  assert.equal(id, '0');
  assert.deepEqual(map.trim().split(/\s+/).map(Number), [0, uid, 65536]);
  assert.match(r.stdout, /^eth0$/m); // sysfs of its own network namespace
  const name = uniq('ux');
  ok(await docker(h.d, ['run', '-d', '--name', name, 'busybox', 'sleep', '60']), 'run -d');
  try {
    const e = await docker(h.d, ['exec', name, 'sh', '-c', 'id -u; cat /proc/self/uid_map']);
    ok(e, 'exec');
    assert.match(e.stdout, new RegExp(`^0\\n\\s*0\\s+${uid}\\s+65536`));
    // the host sees the process as the subordinate uid
    const pid = (await docker(h.d, ['inspect', '-f', '{{.State.Pid}}', name])).stdout.trim();
    assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), new RegExp(`^Uid:\\s+${uid}\\s`, 'm'));
  } finally {
    await docker(h.d, ['rm', '-f', name]);
  }
});

test('files root makes in a bind mount and a named volume belong to the subordinate uid; a root-only host file stays closed', async () => {
  const { uid, gid } = range();
  const dir = join(h.d.root, 'bind');
  mkdirSync(dir, { mode: 0o777 });
  chmodSync(dir, 0o777);
  const secret = join(h.d.root, 'secret');
  writeFileSync(secret, 'host root only\n', { mode: 0o600 });
  const vol = uniq('uv');
  try {
    const r = await docker(h.d, [
      'run',
      '--rm',
      '-v',
      `${dir}:/b`,
      '-v',
      `${vol}:/v`,
      '-v',
      `${secret}:/secret`,
      'busybox',
      'sh',
      '-c',
      'touch /b/f /v/f && cat /secret; echo "cat=$?"',
    ]);
    ok(r, 'run');
    assert.match(r.stdout, /cat=1/);
    assert.match(r.stderr, /Permission denied/);
    assert.doesNotMatch(r.stdout, /host root only/);
    const b = statSync(join(dir, 'f'));
    assert.deepEqual([b.uid, b.gid], [uid, gid]);
    assert.ok(b.uid >= 65536);
    const mp = (await docker(h.d, ['volume', 'inspect', '-f', '{{.Mountpoint}}', vol])).stdout.trim();
    const v = statSync(join(mp, 'f'));
    assert.deepEqual([v.uid, v.gid], [uid, gid]);
    assert.equal(statSync(mp).uid, uid, "the volume's root belongs to the remapped root");
  } finally {
    await docker(h.d, ['volume', 'rm', '-f', vol]);
  }
});

test('--userns=host opts out; --privileged and --net=host need it (dockerd refusals)', async () => {
  const name = uniq('uh');
  const r = await docker(h.d, ['run', '--name', name, '--userns=host', 'busybox', 'cat', '/proc/self/uid_map']);
  ok(r, 'run --userns=host');
  assert.deepEqual(r.stdout.trim().split(/\s+/).map(Number), [0, 0, 4294967295]);
  assert.equal((await docker(h.d, ['inspect', '-f', '{{.HostConfig.UsernsMode}}', name])).stdout.trim(), 'host');
  await docker(h.d, ['rm', name]);
  const p = await docker(h.d, ['run', '--rm', '--privileged', 'busybox', 'true']);
  assert.equal(p.code, 125);
  assert.match(
    p.stderr,
    /privileged mode is incompatible with user namespaces\. {2}You must run the container in the host namespace when running privileged mode/,
  );
  const n = await docker(h.d, ['run', '--rm', '--net=host', 'busybox', 'true']);
  assert.equal(n.code, 125);
  assert.match(n.stderr, /cannot share the host's network namespace when user namespaces are enabled/);
  const ph = await docker(h.d, [
    'run',
    '--rm',
    '--privileged',
    '--userns=host',
    'busybox',
    'cat',
    '/proc/self/uid_map',
  ]);
  ok(ph, 'run --privileged --userns=host');
  assert.match(ph.stdout, /^\s*0\s+0\s+4294967295/);
});

test('commit, export, cp, save/load and build keep the ids the container sees', async () => {
  const { uid } = range();
  const name = uniq('uc');
  const img = uniq('ui');
  try {
    ok(
      await docker(h.d, [
        'run',
        '--name',
        name,
        'busybox',
        'sh',
        '-c',
        'mkdir /data && echo hi > /data/x && chown 1000:1000 /data/x',
      ]),
      'run',
    );
    // the layer store holds shifted ids
    const diffDir = (await docker(h.d, ['inspect', '-f', '{{.GraphDriver.Data.UpperDir}}', name])).stdout.trim();
    if (diffDir) assert.equal(statSync(join(diffDir, 'data/x')).uid, uid + 1000);
    ok(await docker(h.d, ['commit', name, img]), 'commit');
    const ls = await docker(h.d, ['run', '--rm', img, 'stat', '-c', '%u:%g', '/data/x']);
    ok(ls, 'run committed');
    assert.equal(ls.stdout.trim(), '1000:1000');
    const ex = await run('sh', [
      '-c',
      `"$0" -H "$1" export "$2" | tar -tvf - data/x`,
      '/usr/local/bin/docker',
      h.d.host,
      name,
    ]);
    ok(ex, 'export');
    assert.match(ex.stdout, /1000\/1000/);
    const cp = await run('sh', [
      '-c',
      `"$0" -H "$1" cp "$2":/data/x - | tar -tvf -`,
      '/usr/local/bin/docker',
      h.d.host,
      name,
    ]);
    ok(cp, 'cp out');
    assert.match(cp.stdout, /1000\/1000/);
    const tarFile = join(h.d.root, 'img.tar');
    ok(await docker(h.d, ['save', '-o', tarFile, img]), 'save');
    ok(await docker(h.d, ['rmi', img]), 'rmi');
    ok(await docker(h.d, ['load', '-i', tarFile]), 'load');
    const again = await docker(h.d, ['run', '--rm', img, 'stat', '-c', '%u:%g', '/data/x']);
    assert.equal(again.stdout.trim(), '1000:1000');
    const ctx = join(h.d.root, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'f'), 'x\n');
    writeFileSync(
      join(ctx, 'Dockerfile'),
      `FROM ${img}\nCOPY --chown=7:8 f /f\nRUN stat -c %u:%g /f /data/x > /ids && id -u >> /ids\n`,
    );
    const b = await docker(h.d, ['build', '-q', '-t', `${img}:b`, ctx], {
      env: { DOCKER_BUILDKIT: '0' },
      timeoutMs: 120_000,
    });
    ok(b, 'build');
    const ids = await docker(h.d, ['run', '--rm', `${img}:b`, 'cat', '/ids']);
    assert.equal(ids.stdout, '7:8\n1000:1000\n0\n');
  } finally {
    await docker(h.d, ['rm', '-f', name]);
    await docker(h.d, ['rmi', '-f', img, `${img}:b`]);
  }
});

test('info, the data root layout and cocon check say the daemon is remapped', async () => {
  const { uid, gid } = range();
  const info = (await h.d.api('GET', '/info')).json;
  assert.ok(info.SecurityOptions.includes('name=userns'), JSON.stringify(info.SecurityOptions));
  assert.equal(info.DockerRootDir, join(h.d.dataRoot, `${uid}.${gid}`));
  for (const d of [h.d.dataRoot, info.DockerRootDir]) {
    const st = statSync(d);
    assert.equal(st.mode & 0o7777, 0o710, d);
    assert.deepEqual([st.uid, st.gid], [0, gid], d);
  }
  const c = await cli(h.d, ['check', '--format', 'json']);
  const item = (JSON.parse(c.stdout) as Array<{ id: string; status: string; detail: string }>).find(
    (f) => f.id === 'userns-remap',
  );
  assert.equal(item?.status, 'pass', c.stdout);
  assert.match(item!.detail, new RegExp(`host uid ${uid}`));
});

function tarOf(entries: Array<Partial<Header> & { name: string; body?: string }>): Readable {
  const p = pack();
  for (const e of entries) {
    const { body, ...h } = e;
    p.entry({ mode: 0o644, mtime: new Date(0), ...h }, body ?? '');
  }
  p.finalize();
  return p as unknown as Readable;
}

async function owners(src: Readable): Promise<string[]> {
  const out: string[] = [];
  const ex = extract();
  ex.on('entry', (h: Header, stream, next) => {
    out.push(`${h.name} ${h.uid}:${h.gid}`);
    stream.resume();
    stream.on('end', next);
  });
  src.pipe(ex);
  await new Promise<void>((r, j) => ex.on('finish', () => r()).on('error', j));
  return out;
}

test('the extractor shifts owners into the range and refuses ids beyond it; tars going out are shifted back', async () => {
  const m: IdentityMapping = {
    uids: [{ containerID: 0, hostID: 300000, size: 65536 }],
    gids: [{ containerID: 0, hostID: 400000, size: 65536 }],
  };
  const dir = mkdtempSync(join(h.d.root, 'x-'));
  const into = join(dir, 'into');
  mkdirSync(into);
  await extractTarStream(
    tarOf([
      { name: 'd/', type: 'directory', mode: 0o755, uid: 0, gid: 0 },
      { name: 'd/f', uid: 1000, gid: 50, body: 'x' },
      { name: 'd/l', type: 'symlink', linkname: 'f', uid: 65535, gid: 65535 },
    ]),
    into,
    LAYER,
    '',
    { idMap: m },
  );
  const st = (p: string) => lstatSync(join(into, p));
  assert.deepEqual([st('d').uid, st('d').gid], [300000, 400000]);
  assert.deepEqual([st('d/f').uid, st('d/f').gid], [301000, 400050]);
  assert.deepEqual([st('d/l').uid, st('d/l').gid], [365535, 465535]);
  const bad = join(dir, 'bad');
  mkdirSync(bad);
  await assert.rejects(
    extractTarStream(tarOf([{ name: 'f', uid: 65536, gid: 0 }]), bad, LAYER, '', { idMap: m }),
    (e: Error) =>
      e instanceof LayerError && /Container ID 65536 cannot be mapped to a host ID \(entry f\)/.test(e.message),
  );
  // packed with the owner map, as cp out and export do: the container's ids, 65534 beyond the maps
  writeFileSync(join(into, 'd/g'), 'y');
  chownSync(join(into, 'd/g'), 0, 400000);
  const back = (await owners(packTree(into, { owner: (u, g) => ownerToContainer(u, g, m) }))).filter((l) =>
    /^d\/[fg] /.test(l),
  );
  assert.deepEqual(back, ['d/f 1000:50', 'd/g 65534:0']);
});

test('a user without subordinate ranges, or no such user, stops the daemon with a clear error', async () => {
  assert.ok(!/^nobody:/m.test(read('/etc/subuid') ?? ''), 'nobody has no subuid range here');
  await assert.rejects(
    startDaemon({ traversable: true, args: ['--userns-remap', 'nobody', ...net(1)], readyTimeoutMs: 15_000 }),
    /no subuid ranges found for user "nobody" in \/etc\/subuid/,
  );
  await assert.rejects(
    startDaemon({ traversable: true, args: ['--userns-remap', 'no-such-user-x', ...net(1)], readyTimeoutMs: 15_000 }),
    /user no-such-user-x does not exist/,
  );
  await assert.rejects(startDaemon({ args: ['--userns-remap', 'a:b:c', ...net(1)] }), /invalid --userns-remap value/);
});
