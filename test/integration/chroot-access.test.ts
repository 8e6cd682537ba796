// Entering a chroot without being root, through the daemon's chroot gate: a chroot created with
// --users and --groups lets those users (really other uids, made with useradd and switched to with
// setpriv) run commands in it, as themselves, with no-new-privs; everyone else is refused by what
// SO_PEERCRED says, whatever the client claims; the Docker API socket stays closed to them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { CLI_MAIN, run, useDaemon, waitFor, type RunResult } from '../helpers/daemon.js';
import { mountsAnywhere } from '../helpers/chroot.js';
import { busyboxRootTar, treeDigest } from '../helpers/busybox-root.js';
import { FRAME, FrameDecoder, encodeFrame } from '../../src/chroot/access.js';

const GATEDIR = mkdtempSync('/tmp/cocon-gate-test-');
chmodSync(GATEDIR, 0o755);
const GATE = join(GATEDIR, 'gate.sock');
const h = useDaemon({ args: ['--chroot-socket', GATE] });
const tag = (process.pid % 100000).toString(36);
const LISTED = `cga${tag}`;
const MEMBER = `cgb${tag}`;
const GROUP = `cgg${tag}`;
const made: string[] = [];

function chrootAsRoot(args: string[]): Promise<RunResult> {
  return run(process.execPath, ['--', CLI_MAIN, 'chroot', '--data-root', h.d.dataRoot, ...args]);
}
function chrootAs(user: string, args: string[], input?: string): Promise<RunResult> {
  return run(
    'setpriv',
    [
      `--reuid=${user}`,
      `--regid=${user === 'nobody' ? 'nogroup' : user}`,
      '--init-groups',
      process.execPath,
      '--',
      CLI_MAIN,
      'chroot',
      ...args,
    ],
    { env: { COCON_CHROOT_SOCKET: GATE, HOME: '/' }, input },
  );
}

before(async () => {
  await waitFor(
    'the test daemon',
    () => {
      try {
        return h.d;
      } catch {
        return undefined;
      }
    },
    60_000,
    50,
  );
  assert.equal((await run('groupadd', [GROUP])).code, 0);
  made.push(`group:${GROUP}`);
  for (const [u, extra] of [
    [LISTED, []],
    [MEMBER, ['-G', GROUP]],
  ] as const) {
    const r = await run('useradd', ['-M', '-s', '/bin/sh', ...extra, u]);
    assert.equal(r.code, 0, r.stderr);
    made.push(`user:${u}`);
  }
  const tar = busyboxRootTar(GATEDIR);
  const c = await chrootAsRoot(['create', 'shared', '--from-tar', tar, '--users', LISTED, '--groups', GROUP]);
  assert.equal(c.code, 0, c.stderr);
  assert.equal((await chrootAsRoot(['create', 'private', '--from-tar', tar])).code, 0);
  rmSync(tar);
});

after(async () => {
  for (const n of ['shared', 'private']) await chrootAsRoot(['rm', '-f', n]);
  for (const m of made.reverse()) {
    const [kind, name] = m.split(':');
    await run(kind === 'user' ? 'userdel' : 'groupdel', [name]);
  }
  const left = mountsAnywhere(h.d.dataRoot);
  rmSync(GATEDIR, { recursive: true, force: true });
  assert.deepEqual(left, []);
});

test('the gate socket is open to all, the Docker API socket is not', () => {
  assert.equal(statSync(GATE).mode & 0o777, 0o666);
  assert.equal(statSync(h.d.socket).mode & 0o777, 0o660);
});

test('a listed user enters as itself, with no-new-privs; stdin, stderr and the exit status pass', async () => {
  const uid = Number((await run('id', ['-u', LISTED])).stdout.trim());
  const r = await chrootAs(
    LISTED,
    ['run', 'shared', '--', 'sh', '-c', 'id -u; grep NoNewPrivs /proc/self/status; cat; echo oops >&2; exit 4'],
    'from stdin\n',
  );
  assert.equal(r.code, 4, r.stderr);
  assert.equal(r.stdout, `${uid}\nNoNewPrivs:\t1\nfrom stdin\n`);
  assert.equal(r.stderr, 'oops\n');
  // a member of a listed group, on a throwaway overlay: the base stays as it was
  const before = treeDigest(join(h.d.dataRoot, 'chroots', 'shared', 'root'));
  const g = await chrootAs(MEMBER, [
    'run',
    '--ephemeral',
    '--profile',
    'minimal',
    'shared',
    '--',
    'sh',
    '-c',
    `id -un; echo x > /tmp/x-${tag} && echo wrote`,
  ]);
  assert.equal(g.code, 0, g.stderr);
  assert.equal(g.stdout, `${MEMBER}\nwrote\n`);
  assert.equal(treeDigest(join(h.d.dataRoot, 'chroots', 'shared', 'root')), before);
  assert.equal(existsSync(`/tmp/x-${tag}`), false, 'the minimal profile binds no host /tmp');
});

test('anyone else is refused, and so are root-only options', async () => {
  const r = await chrootAs('nobody', ['run', 'shared', '--', 'touch', '/pwned']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /user nobody may not enter chroot shared/);
  const p = await chrootAs(LISTED, ['run', 'private', '--', 'true']);
  assert.equal(p.code, 125);
  assert.match(p.stderr, new RegExp(`user ${LISTED} may not enter chroot private`));
  const b = await chrootAs(LISTED, ['run', '--bind', '/etc:/mnt', 'shared', '--', 'true']);
  assert.equal(b.code, 125);
  assert.match(b.stderr, /--bind needs root/);
  const u = await chrootAs(LISTED, ['run', '--user', 'root', 'shared', '--', 'true']);
  assert.equal(u.code, 125);
  assert.match(u.stderr, /--user needs root/);
  const f = await chrootAs(LISTED, ['run', '--profile', '/etc/passwd', 'shared', '--', 'true']);
  assert.equal(f.code, 125);
  assert.match(f.stderr, /profile files are for root/);
});

test('a raw client cannot lie about who it is: the gate believes SO_PEERCRED only', async () => {
  // the request has no identity field at all; an unknown field is refused outright
  const res = await run('setpriv', [
    '--reuid=nobody',
    '--regid=nogroup',
    '--clear-groups',
    process.execPath,
    '-e',
    `
    const net = require('node:net');
    const s = net.connect(${JSON.stringify(GATE)});
    const req = Buffer.from(JSON.stringify({ chroot: 'shared', argv: ['id'], uid: 0, user: ${JSON.stringify(LISTED)} }));
    const h = Buffer.alloc(5); h[0] = ${FRAME.REQUEST}; h.writeUInt32BE(req.length, 1);
    s.write(Buffer.concat([h, req]));
    let out = Buffer.alloc(0);
    s.on('data', (d) => { out = Buffer.concat([out, d]); });
    s.on('close', () => { process.stdout.write(out.subarray(5).toString()); });
  `,
  ]);
  assert.match(res.stdout, /unknown field uid/);
  // a well-formed request from nobody
  const dec = new FrameDecoder();
  const frames = await new Promise<{ type: number; payload: Buffer }[]>((resolve, reject) => {
    const got: { type: number; payload: Buffer }[] = [];
    const s = connect(GATE);
    s.on('error', reject);
    s.on('data', (d) => got.push(...dec.push(d)));
    s.on('close', () => resolve(got));
    s.write(encodeFrame(FRAME.REQUEST, JSON.stringify({ chroot: 'private', argv: ['id', '-u'] })));
  });
  // this test runs as root: root may enter any chroot through the gate too
  assert.deepEqual(
    frames.map((f) => [f.type, f.payload.toString()]),
    [
      [FRAME.STDOUT, '0\n'],
      [FRAME.EXIT, '0'],
    ],
  );
});
