// docker build / docker commit / docker history with the real docker CLI 28 against cocon (legacy
// builder API: the CLI falls back to it when no buildx plugin is installed), plus the bad inputs of
// issue 11 through the API: '..' context entries, COPY out of the context, a failing RUN, a cancelled
// build, a huge context.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { pack } from 'tar-stream';
import { useDaemon, docker, cli, run, uniq, waitFor, apiCall, sleep } from '../helpers/daemon.js';

const h = useDaemon({ busybox: true });

/** A context directory with these files (string content, or {link} for a symlink); removed by the caller. */
function context(files: Record<string, string | { link: string }>): string {
  const dir = mkdtempSync(join(tmpdir(), 'cocon-build-'));
  for (const [name, v] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    if (typeof v === 'string') writeFileSync(join(dir, name), v);
    else symlinkSync(v.link, join(dir, name));
  }
  return dir;
}

/** A tar of (name, content) entries as a Buffer. */
async function tarOf(entries: Array<{ name: string; data?: string; type?: 'file' | 'directory' }>): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => {
    p.on('end', () => r());
  });
  for (const e of entries) p.entry({ name: e.name, type: e.type ?? 'file', mode: 0o644 }, e.data ?? '');
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function containerCount(): Promise<number> {
  return (await apiCall(h.d.socket, 'GET', '/containers/json?all=1')).json.length;
}

const HELLO =
  [
    'FROM busybox',
    'ENV GREETING=hello-from-build',
    'RUN echo "built at build time" | tee /built.txt',
    'COPY app.txt /app/app.txt',
    'CMD ["sh", "-c", "echo $GREETING; cat /built.txt /app/app.txt"]',
  ].join('\n') + '\n';

test('docker build (no DOCKER_BUILDKIT set): steps, RUN output, tags; the image runs; a rebuild uses the cache for every step', async () => {
  const dir = context({ Dockerfile: HELLO, 'app.txt': 'app file content\n' });
  const t = uniq('hello');
  try {
    const r = await docker(h.d, ['build', '-t', t, '-t', `${t}:v2`, dir], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Step 1\/5 : FROM busybox\n ---> [0-9a-f]{12}\n/);
    assert.match(
      r.stdout,
      /Step 3\/5 : RUN echo "built at build time" \| tee \/built.txt\n ---> Running in [0-9a-f]{12}\nbuilt at build time\nRemoving intermediate container [0-9a-f]{12}\n ---> [0-9a-f]{12}\n/,
    );
    assert.match(
      r.stdout,
      /Successfully built [0-9a-f]{12}\nSuccessfully tagged .*:latest\nSuccessfully tagged .*:v2\n/,
    );
    const run = await docker(h.d, ['run', '--rm', t]);
    assert.equal(run.stdout, 'hello-from-build\nbuilt at build time\napp file content\n', run.stderr);
    // cached: every step after FROM
    const again = await docker(h.d, ['build', '-t', t, dir], { env: { DOCKER_BUILDKIT: '0' } });
    assert.equal(again.code, 0, again.stderr);
    assert.equal((again.stdout.match(/ ---> Using cache\n/g) ?? []).length, 4, again.stdout);
    assert.equal(again.stdout.includes('Running in'), false);
    const id1 = /Successfully built ([0-9a-f]{12})/.exec(r.stdout)![1];
    assert.equal(/Successfully built ([0-9a-f]{12})/.exec(again.stdout)![1], id1);
    // --no-cache runs everything again
    const fresh = await docker(h.d, ['build', '--no-cache', '-q', dir]);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.match(fresh.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
    assert.notEqual(fresh.stdout.trim().slice(7, 19), id1);
    // intermediate images are hidden from `images`, shown with -a; no build container is left
    const imgs = (await docker(h.d, ['images', '-q'])).stdout.trim().split('\n');
    const all = (await docker(h.d, ['images', '-a', '-q'])).stdout.trim().split('\n');
    assert.ok(all.length > imgs.length, `${all.length} > ${imgs.length}`);
    assert.equal(await containerCount(), 0);
    // history: created-by lines of every step
    const hist = await docker(h.d, ['history', '--no-trunc', '--format', '{{.CreatedBy}}', t]);
    const lines = hist.stdout.trim().split('\n');
    assert.match(
      lines[0],
      /^\/bin\/sh -c #\(nop\) {2}CMD \["sh", "-c", "echo \$GREETING; cat \/built.txt \/app\/app.txt"\]$/,
    );
    assert.match(lines[1], /^\/bin\/sh -c #\(nop\) COPY file:[0-9a-f]{64} in \/app\/app.txt $/);
    assert.equal(lines[2], '/bin/sh -c echo "built at build time" | tee /built.txt');
    assert.equal(lines[3], '/bin/sh -c #(nop)  ENV GREETING=hello-from-build');
    // rmi of the tags removes the intermediate images with it
    await docker(h.d, ['rmi', `${t}:v2`]);
    const rmi = await docker(h.d, ['rmi', t]);
    assert.equal(rmi.code, 0, rmi.stderr);
    assert.ok((rmi.stdout.match(/Deleted: sha256:/g) ?? []).length >= 4, rmi.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('multi-stage: ARG before FROM, --build-arg, --target, COPY --from, ADD of a tar, .dockerignore, --chown/--chmod, WORKDIR, USER, globs', async () => {
  const tarDir = mkdtempSync(join(tmpdir(), 'cocon-addtar-'));
  mkdirSync(join(tarDir, 'pkg/sub'), { recursive: true });
  writeFileSync(join(tarDir, 'pkg/sub/inner.txt'), 'from the tar\n');
  const dir = context({
    Dockerfile: [
      'ARG BASE=busybox',
      'FROM ${BASE} AS builder',
      'ARG FLAVOR=plain',
      'WORKDIR /src',
      'RUN echo "flavor=$FLAVOR" > out.txt && mkdir -p /out && cp out.txt /out/',
      'FROM busybox AS final',
      'COPY --from=builder /out/out.txt /opt/',
      'ADD pkg.tar.gz /opt/pkg/',
      'COPY --chown=65534:65534 --chmod=0640 *.conf /etc/app/',
      'COPY dir/ /data/',
      'USER nobody',
      'WORKDIR /opt',
      'LABEL stage=final',
      'CMD ["sh", "-c", "cat /opt/out.txt /opt/pkg/pkg/sub/inner.txt; ls /etc/app; ls /data; id -u; pwd; stat -c \'%u:%g %a\' /etc/app/a.conf"]',
      'FROM final AS extra',
      'RUN false',
    ].join('\n'),
    'a.conf': 'a\n',
    'b.conf': 'b\n',
    'secret.conf.bak': 'no\n',
    'dir/keep.txt': 'k\n',
    'dir/ignored.log': 'no\n',
    'dir/nested/x.log': 'no\n',
    '.dockerignore': '**/*.log\n*.bak\n',
  });
  spawnSync('tar', ['-czf', join(dir, 'pkg.tar.gz'), '-C', tarDir, 'pkg']);
  const t = uniq('multi');
  try {
    const r = await docker(
      h.d,
      ['build', '--build-arg', 'FLAVOR=spicy', '--target', 'final', '--label', 'from=cli', '-t', t, dir],
      { timeoutMs: 120_000 },
    );
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Step 1\/15 : ARG BASE=busybox/); // 1 meta ARG + 2 FROM + 11 commands + the --label step
    assert.doesNotMatch(r.stdout, /RUN false/);
    const run = await docker(h.d, ['run', '--rm', t]);
    assert.equal(
      run.stdout,
      'flavor=spicy\nfrom the tar\na.conf\nb.conf\nkeep.txt\nnested\n65534\n/opt\n65534:65534 640\n',
      run.stderr,
    );
    const labels = JSON.parse((await docker(h.d, ['inspect', '-f', '{{json .Config.Labels}}', t])).stdout) as Record<
      string,
      string
    >;
    assert.deepEqual(labels, { stage: 'final', from: 'cli' });
    assert.equal(
      (await docker(h.d, ['inspect', '-f', '{{.Config.User}} {{.Config.WorkingDir}}', t])).stdout.trim(),
      'nobody /opt',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(tarDir, { recursive: true, force: true });
    await docker(h.d, ['rmi', t]);
  }
});

test("a failing RUN: docker's message and exit code, nothing tagged, no container left", async () => {
  const dir = context({ Dockerfile: 'FROM busybox\nRUN echo about to fail && exit 3\n' });
  const t = uniq('fail');
  try {
    const r = await docker(h.d, ['build', '-t', t, dir]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout, /about to fail\n/);
    assert.match(r.stderr, /The command '\/bin\/sh -c echo about to fail && exit 3' returned a non-zero code: 3/);
    assert.notEqual((await docker(h.d, ['image', 'inspect', t])).code, 0);
    assert.equal(await containerCount(), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad Dockerfiles: syntax error and unknown instruction with their line, missing stage, missing target, COPY of a missing file', async () => {
  const cases: Array<[string, RegExp, string[]?]> = [
    ['FROM busybox\n\nFOO bar\n', /Dockerfile parse error line 3: unknown instruction: FOO/],
    ['FROM busybox\nENV A=1 B\n', /can't find = in "B"/],
    ['FROM busybox\nSHELL /bin/sh\n', /Dockerfile parse error line 2: SHELL requires the arguments to be in JSON form/],
    ['FROM busybox\nCOPY --from=nope /x /y\n', /invalid from flag value nope/],
    ['FROM busybox AS a\nRUN true\n', /failed to reach build target nope in Dockerfile/, ['--target', 'nope']],
    [
      'FROM busybox\nCOPY missing.txt /x\n',
      /file not found in build context or excluded by \.dockerignore: stat missing\.txt/,
    ],
    ['FROM busybox\nRUN --mount=type=cache,target=/x true\n', /requires BuildKit/],
  ];
  for (const [df, re, extra] of cases) {
    const dir = context({ Dockerfile: df });
    try {
      const r = await docker(h.d, ['build', ...(extra ?? []), dir]);
      assert.notEqual(r.code, 0, df);
      assert.match(r.stderr, re, df);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  assert.equal(await containerCount(), 0);
});

test('COPY never reads outside the context: ../ paths refused, symlinks resolved inside the context', async () => {
  const secret = mkdtempSync(join(tmpdir(), 'cocon-secret-'));
  writeFileSync(join(secret, 'host-secret.txt'), 'HOST SECRET\n');
  const cases: Array<[Record<string, string | { link: string }>, RegExp]> = [
    [{ Dockerfile: 'FROM busybox\nCOPY ../host-secret.txt /x\n' }, /forbidden path outside the build context/],
    [
      { Dockerfile: 'FROM busybox\nCOPY evil /x\n', evil: { link: join(secret, 'host-secret.txt') } },
      /file not found in build context/,
    ],
    [
      { Dockerfile: 'FROM busybox\nCOPY evil/host-secret.txt /x\n', evil: { link: secret } },
      /file not found in build context/,
    ],
    [
      {
        Dockerfile: 'FROM busybox\nCOPY evil /x\n',
        evil: { link: '../../../../../../' + secret.slice(1) + '/host-secret.txt' },
      },
      /file not found in build context/,
    ],
  ];
  try {
    for (const [files, re] of cases) {
      const dir = context(files);
      try {
        const r = await docker(h.d, ['build', dir]);
        assert.notEqual(r.code, 0, JSON.stringify(files));
        assert.match(r.stderr, re, JSON.stringify(files));
        assert.doesNotMatch(r.stdout + r.stderr, /HOST SECRET/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    // a symlink that stays inside the context is followed
    const ok = context({
      Dockerfile: 'FROM busybox\nCOPY link /x\nCMD ["cat", "/x"]\n',
      'real.txt': 'inside\n',
      link: { link: 'real.txt' },
    });
    const t = uniq('link');
    try {
      assert.equal((await docker(h.d, ['build', '-t', t, ok])).code, 0);
      assert.equal((await docker(h.d, ['run', '--rm', t])).stdout, 'inside\n');
    } finally {
      rmSync(ok, { recursive: true, force: true });
      await docker(h.d, ['rmi', t]);
    }
  } finally {
    rmSync(secret, { recursive: true, force: true });
  }
});

test('a context tar with ../ entries is refused (400) and leaves nothing behind', async () => {
  const tar = await tarOf([
    { name: 'Dockerfile', data: 'FROM busybox\n' },
    { name: '../escape.txt', data: 'x' },
  ]);
  const r = await apiCall(h.d.socket, 'POST', '/v1.41/build?t=esc', undefined, {
    raw: tar,
    headers: { 'Content-Type': 'application/x-tar' },
  });
  assert.equal(r.status, 400, r.body);
  assert.match(r.json.message, /'\.\.'/);
  assert.equal(existsSync(join(h.d.dataRoot, '..', 'escape.txt')), false);
  const leftovers = spawnSync('sh', ['-c', `ls -d ${h.d.dataRoot}/tmp-build-* 2>/dev/null | wc -l`])
    .stdout.toString()
    .trim();
  assert.equal(leftovers, '0');
});

test('a gzip context from stdin with -f, and a Dockerfile elsewhere in the context', async () => {
  const dir = context({
    'sub/other.Dockerfile': 'FROM busybox AS builder\nRUN echo gz > /gz.txt\nFROM builder\nCMD ["cat", "/gz.txt"]\n',
  });
  const t = uniq('gz');
  try {
    const tgz = spawnSync('tar', ['-czf', '-', '-C', dir, '.']).stdout;
    const r = await docker(h.d, ['build', '-f', 'sub/other.Dockerfile', '--target', 'builder', '-t', t, '-'], {
      input: tgz,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await docker(h.d, ['run', '--rm', t, 'cat', '/gz.txt'])).stdout, 'gz\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await docker(h.d, ['rmi', t]);
  }
});

test('a build cancelled by the client closing the connection stops and removes its RUN container', async () => {
  const tar = await tarOf([{ name: 'Dockerfile', data: 'FROM busybox\nRUN echo started; sleep 60\n' }]);
  const seen = await new Promise<string>((resolve, reject) => {
    const req = request(
      {
        socketPath: h.d.socket,
        method: 'POST',
        path: '/v1.41/build?t=cancelled',
        headers: { 'Content-Type': 'application/x-tar', 'Content-Length': String(tar.length) },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
          if (text.includes('{"stream":"started')) {
            req.destroy();
            resolve(text);
          }
        });
        res.on('error', () => undefined);
      },
    );
    req.on('error', () => undefined);
    setTimeout(() => {
      req.destroy();
      reject(new Error('the RUN never started'));
    }, 60_000);
    req.end(tar);
  });
  assert.match(seen, /Running in/);
  await waitFor('build container removed', async () => (await containerCount()) === 0, 30_000);
  assert.notEqual((await docker(h.d, ['image', 'inspect', 'cancelled'])).code, 0);
});

test('a huge context is streamed to disk, not held in memory', async () => {
  const dir = context({ Dockerfile: 'FROM busybox\nCOPY big /big\nRUN test "$(wc -c < /big)" = 314572800\n' });
  const t = uniq('big');
  spawnSync('truncate', ['-s', '300M', join(dir, 'big')]);
  const hwm = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${h.d.pid}/status`, 'utf8'))![1]) * 1024;
  const before = hwm();
  try {
    const r = await docker(h.d, ['build', '-t', t, dir], { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const grew = hwm() - before;
    assert.ok(grew < 150 * 1024 * 1024, `daemon peak memory grew by ${grew} bytes`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await docker(h.d, ['rmi', t]);
  }
});

test("docker commit: -c, -m, -a, a layer from the container's changes, history", async () => {
  const name = uniq('cm');
  const img = `${uniq('committed')}:snap`;
  assert.equal(
    (await docker(h.d, ['run', '--name', name, 'busybox', 'sh', '-c', 'echo data > /committed; rm /etc/group'])).code,
    0,
  );
  try {
    const c = await docker(h.d, [
      'commit',
      '-c',
      'CMD ["cat", "/committed"]',
      '-c',
      'ENV MODE=snap',
      '-m',
      'a message',
      '-a',
      'someone',
      name,
      img,
    ]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
    assert.equal((await docker(h.d, ['run', '--rm', img])).stdout, 'data\n');
    assert.equal(
      (await docker(h.d, ['run', '--rm', img, 'sh', '-c', 'echo $MODE; test -e /etc/group || echo gone'])).stdout,
      'snap\ngone\n',
    );
    assert.equal(
      (await docker(h.d, ['inspect', '-f', '{{.Author}}|{{.Comment}}|{{.Parent}}', img])).stdout
        .trim()
        .split('|')
        .slice(0, 2)
        .join('|'),
      'someone|a message',
    );
    const hist = await docker(h.d, ['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Comment}}', img]);
    assert.equal(hist.stdout.split('\n')[0], 'sh -c echo data > /committed; rm /etc/group|a message');
    // bad input
    assert.match((await docker(h.d, ['commit', 'no-such-container'])).stderr, /No such container: no-such-container/);
    assert.match((await docker(h.d, ['commit', '-c', 'FROM x', name])).stderr, /from is not a valid change command/);
  } finally {
    await docker(h.d, ['rm', '-f', name]);
    await docker(h.d, ['rmi', img]);
  }
});

test('docker commit of a running container pauses it and keeps it running', async () => {
  const name = uniq('live');
  assert.equal(
    (await docker(h.d, ['run', '-d', '--name', name, 'busybox', 'sh', '-c', 'echo live > /state; sleep 60'])).code,
    0,
  );
  const img = uniq('liveimg');
  try {
    await waitFor('state file', async () => (await docker(h.d, ['exec', name, 'cat', '/state'])).stdout === 'live\n');
    const c = await docker(h.d, ['commit', name, img]);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(
      (await docker(h.d, ['inspect', '-f', '{{.State.Running}} {{.State.Paused}}', name])).stdout.trim(),
      'true false',
    );
    assert.equal((await docker(h.d, ['run', '--rm', img, 'cat', '/state'])).stdout, 'live\n');
  } finally {
    await docker(h.d, ['rm', '-f', name]);
    await docker(h.d, ['rmi', img]);
  }
});

test('cocon build: same flags and output as docker build', async () => {
  const dir = context({ Dockerfile: HELLO, 'app.txt': 'app file content\n' });
  const t = uniq('cocon');
  try {
    const r = await cli(h.d, ['build', '-t', t, dir], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Step 5\/5 : CMD/);
    assert.match(r.stdout, new RegExp(`Successfully tagged ${t}:latest`));
    const bad = context({ Dockerfile: 'FROM busybox\nRUN exit 7\n' });
    try {
      const f = await cli(h.d, ['build', bad]);
      assert.equal(f.code, 7, f.stderr);
      assert.match(f.stderr, /returned a non-zero code: 7/);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await docker(h.d, ['rmi', t]);
  }
  void sleep;
});

test("docker-compose build (Debian's 1.29, docker-py's build call) builds the services' images", async () => {
  const dir = context({
    'docker-compose.yml':
      'version: "3"\nservices:\n  web:\n    build:\n      context: ./web\n      args:\n        WHO: compose\n    image: composed-web:1\n',
    'web/Dockerfile': 'FROM busybox\nARG WHO=nobody\nRUN echo "built by $WHO" > /who\nCMD ["cat", "/who"]\n',
  });
  const project = uniq('proj');
  try {
    const env = {
      DOCKER_HOST: h.d.host,
      COMPOSE_PROJECT_NAME: project,
      DOCKER_CONFIG: join(h.d.root, 'docker-config'),
    };
    const r = await runIn(dir, 'docker-compose', ['build'], env);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout + r.stderr, /Successfully tagged composed-web:1/);
    assert.equal((await docker(h.d, ['run', '--rm', 'composed-web:1'])).stdout, 'built by compose\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await docker(h.d, ['rmi', 'composed-web:1']);
  }
});

function runIn(
  cwd: string,
  cmd: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(cmd, args, { cwd, env, timeoutMs: 120_000 });
}

test('ADD of a URL: downloaded by the daemon, mode 0600, mtime from Last-Modified, not extracted; a bad URL fails the step', async () => {
  const server = createServer((req, res) => {
    if (req.url === '/files/data.txt') {
      res.writeHead(200, { 'Last-Modified': 'Wed, 21 Oct 2015 07:28:00 GMT' });
      res.end('downloaded\n');
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const dir = context({
    Dockerfile: `FROM busybox\nADD http://127.0.0.1:${port}/files/data.txt /srv/\nADD http://127.0.0.1:${port}/files/data.txt /srv/renamed\nCMD ["sh", "-c", "cat /srv/data.txt; stat -c '%a %Y' /srv/data.txt /srv/renamed"]\n`,
  });
  const bad = context({ Dockerfile: `FROM busybox\nADD http://127.0.0.1:${port}/missing /x\n` });
  const t = uniq('url');
  try {
    const r = await docker(h.d, ['build', '-t', t, dir]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal((await docker(h.d, ['run', '--rm', t])).stdout, 'downloaded\n600 1445412480\n600 1445412480\n');
    const f = await docker(h.d, ['build', bad]);
    assert.notEqual(f.code, 0);
    assert.match(f.stderr, /unexpected status code 404/);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(bad, { recursive: true, force: true });
    await docker(h.d, ['rmi', t]);
  }
});
