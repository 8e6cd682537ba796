// Regressions found while testing volumes: copy-up confinement, concurrent copy-up, rm -f of a used volume, --mount volume options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  mkdtempSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  copyFileSync,
  chmodSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { useDaemon, uniq, run } from '../helpers/daemon.js';
import { create, start, wait, rm, logs } from '../helpers/containers.js';

const h = useDaemon({ busybox: true });

test('copy-up never follows an image symlink out of the container root (absolute and relative)', async (t) => {
  const work = mkdtempSync(join(process.env.COCON_TEST_TMP || '/tmp', 'esc-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const root = join(work, 'root');
  for (const p of ['bin', 'etc', 'tmp']) mkdirSync(join(root, p), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  for (const a of ['sh', 'ls', 'cat']) symlinkSync('busybox', join(root, 'bin', a));
  symlinkSync('/etc', join(root, 'abs')); // like Debian's /var/run -> /run
  symlinkSync('../../../../../../../../etc', join(root, 'rel'));
  const tar = join(work, 'img.tar');
  assert.equal((await run('tar', ['--numeric-owner', '-C', root, '-cf', tar, '.'])).code, 0);
  const imp = await h.d.api('POST', '/v1.41/images/create?fromSrc=-&repo=symesc&tag=1', undefined, {
    raw: readFileSync(tar),
  });
  assert.equal(imp.status, 200, imp.body);
  for (const dst of ['/abs', '/rel']) {
    const v = uniq('esc');
    const id = await create(h.d, {
      name: uniq('esc'),
      image: 'symesc:1',
      cmd: ['ls', dst],
      hostConfig: { Binds: [`${v}:${dst}`] },
    });
    await start(h.d, id);
    await wait(h.d, id);
    const got = readdirSync(join(h.d.dataRoot, 'volumes', v, '_data'));
    await rm(h.d, id, true);
    await h.d.api('DELETE', `/v1.41/volumes/${v}`);
    assert.ok(
      !got.includes('shadow'),
      `copy-up over ${dst} copied the HOST's /etc into the volume: ${got.length} entries incl. ${got.slice(0, 8).join(', ')}`,
    );
  }
});

test('volume rm -f refuses (409) a volume that a stopped container refers to, as docker does', async (t) => {
  const v = uniq('rmf');
  const id = await create(h.d, { name: uniq('rmf'), cmd: ['true'], hostConfig: { Binds: [`${v}:/data`] } });
  t.after(async () => {
    await rm(h.d, id, true);
    await h.d.api('DELETE', `/v1.41/volumes/${v}?force=1`);
  });
  const r = await h.d.api('DELETE', `/v1.41/volumes/${v}?force=1`);
  assert.equal(
    r.status,
    409,
    `rm -f answered ${r.status}; the container then cannot start: ${(await h.d.api('POST', `/v1.41/containers/${id}/start`)).body}`,
  );
});

test('containers started at the same time on one fresh named volume: one copy-up, every start succeeds', async (t) => {
  const work = mkdtempSync(join(process.env.COCON_TEST_TMP || '/tmp', 'race-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const root = join(work, 'root');
  for (const p of ['bin', 'etc', 'tmp', 'data']) mkdirSync(join(root, p), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  for (const a of ['sh', 'ls', 'wc']) symlinkSync('busybox', join(root, 'bin', a));
  for (let i = 0; i < 4000; i++) writeFileSync(join(root, 'data', `f${i}`), 'x'.repeat(2000));
  const tar = join(work, 'img.tar');
  assert.equal((await run('tar', ['-C', root, '-cf', tar, '.'])).code, 0);
  assert.equal(
    (await h.d.api('POST', '/v1.41/images/create?fromSrc=-&repo=race&tag=1', undefined, { raw: readFileSync(tar) }))
      .status,
    200,
  );
  const v = uniq('race');
  const ids = await Promise.all(
    [0, 1].map(() =>
      create(h.d, {
        name: uniq('race'),
        image: 'race:1',
        cmd: ['sh', '-c', 'ls /data | wc -l'],
        hostConfig: { Binds: [`${v}:/data`] },
      }),
    ),
  );
  t.after(async () => {
    for (const id of ids) await rm(h.d, id, true);
    await h.d.api('DELETE', `/v1.41/volumes/${v}?force=1`);
  });
  const st = await Promise.all(ids.map((id) => h.d.api('POST', `/v1.41/containers/${id}/start`)));
  assert.deepEqual(
    st.map((s) => s.status),
    [204, 204],
    st.map((s) => s.body.slice(0, 300)).join('\n'),
  );
  for (const id of ids) {
    await wait(h.d, id);
    assert.equal((await logs(h.d, id)).stdout, '4000\n');
  }
});

test('--mount type=volume with volume-label / volume-opt creates the missing volume with them', async (t) => {
  const v = uniq('mopt');
  const id = await create(h.d, {
    name: uniq('mopt'),
    cmd: ['true'],
    hostConfig: {
      Mounts: [
        {
          Type: 'volume',
          Source: v,
          Target: '/d',
          VolumeOptions: {
            Labels: { k: 'v' },
            DriverConfig: { Name: 'local', Options: { type: 'tmpfs', device: 'tmpfs' } },
          },
        },
      ],
    },
  });
  t.after(async () => {
    await rm(h.d, id, true);
    await h.d.api('DELETE', `/v1.41/volumes/${v}?force=1`);
  });
  const g = (await h.d.api('GET', `/v1.41/volumes/${v}`)).json;
  assert.deepEqual([g.Labels, g.Options], [{ k: 'v' }, { type: 'tmpfs', device: 'tmpfs' }]);
});
