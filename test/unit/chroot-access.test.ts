// Pure rules of the chroot gate: who a uid is on the host, who may enter, the request a client
// may send, and the frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FRAME,
  FrameDecoder,
  encodeFrame,
  identityOf,
  mayEnter,
  parseGateRequest,
  parseNames,
} from '../../src/chroot/access.js';
import { sshdDropIn } from '../../src/chroot/jailacct.js';
import { EngineError } from '../../src/core/errors.js';

const bad = (fn: () => unknown, re: RegExp): void => {
  assert.throws(fn, (e: unknown) => e instanceof EngineError && e.kind === 'invalid-argument' && re.test(e.message));
};
const PASSWD =
  'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/sh\n';
const GROUP = 'root:x:0:\nalice:x:1000:\nbob:x:1001:\ndevs:x:2000:bob,carol\n';

test('identityOf: name, primary group and the groups listing the user', () => {
  assert.deepEqual(identityOf(1001, PASSWD, GROUP), {
    uid: 1001,
    gid: 1001,
    name: 'bob',
    groups: ['bob', 'devs'],
    gids: [1001, 2000],
  });
  assert.equal(identityOf(4242, PASSWD, GROUP), undefined);
});

test('mayEnter: listed users, members of listed groups, root; nobody else', () => {
  const acl = { users: ['alice'], groups: ['devs'] };
  assert.equal(mayEnter(acl, identityOf(1000, PASSWD, GROUP)!), true);
  assert.equal(mayEnter(acl, identityOf(1001, PASSWD, GROUP)!), true);
  assert.equal(mayEnter(acl, identityOf(0, PASSWD, GROUP)!), true);
  assert.equal(mayEnter({}, identityOf(1000, PASSWD, GROUP)!), false);
  assert.equal(mayEnter({ users: ['bob'] }, identityOf(1000, PASSWD, GROUP)!), false);
});

test('--users/--groups names', () => {
  assert.deepEqual(parseNames(['alice,bob', 'alice', ' carol '], '--users'), ['alice', 'bob', 'carol']);
  bad(() => parseNames(['al ice'], '--users'), /--users: invalid name "al ice"/);
  bad(() => parseNames(['../x'], '--groups'), /--groups: invalid name/);
});

test('gate requests: only the known fields, of the right types; no identity can be claimed', () => {
  assert.deepEqual(
    parseGateRequest(Buffer.from(JSON.stringify({ chroot: 'dev', argv: ['id'], env: { A: 'b' }, ephemeral: true }))),
    { chroot: 'dev', argv: ['id'], env: { A: 'b' }, ephemeral: true },
  );
  bad(() => parseGateRequest(Buffer.from('{')), /not JSON/);
  bad(
    () => parseGateRequest(Buffer.from(JSON.stringify({ chroot: 'dev', argv: ['id'], uid: 0 }))),
    /unknown field uid/,
  );
  bad(() => parseGateRequest(Buffer.from(JSON.stringify({ chroot: 'dev', argv: [1] }))), /argv must be strings/);
  bad(() => parseGateRequest(Buffer.from(JSON.stringify({ chroot: 'dev', argv: [], env: { 'A=B': 'x' } }))), /env A=B/);
});

test('frames: split across chunks, several in one chunk, too large refused', () => {
  const all = Buffer.concat([encodeFrame(FRAME.STDOUT, 'hello'), encodeFrame(FRAME.EXIT, '3')]);
  const d = new FrameDecoder();
  const got = [...d.push(all.subarray(0, 3)), ...d.push(all.subarray(3, 9)), ...d.push(all.subarray(9))];
  assert.deepEqual(
    got.map((f) => [f.type, f.payload.toString()]),
    [
      [FRAME.STDOUT, 'hello'],
      [FRAME.EXIT, '3'],
    ],
  );
  const big = Buffer.alloc(5);
  big[0] = FRAME.STDIN;
  big.writeUInt32BE(2 ** 30, 1);
  bad(() => new FrameDecoder(1024).push(big), /too large/);
});

test('sshd drop-in: chroot, root-owned keys, no forwarding; sftp-only forces internal-sftp and no tty', () => {
  const s = sshdDropIn({ name: 'ftp1', jail: '/srv/j/ftp1', mode: 'sftp', keysFile: '/etc/ssh/cocon-jail-keys/ftp1' });
  assert.match(s, /^Match User ftp1$/m);
  assert.match(s, /^ {4}ChrootDirectory \/srv\/j\/ftp1$/m);
  assert.match(s, /^ {4}AuthorizedKeysFile \/etc\/ssh\/cocon-jail-keys\/ftp1$/m);
  assert.match(s, /^ {4}ForceCommand internal-sftp -d \/home\/ftp1$/m);
  assert.match(s, /^ {4}AllowTcpForwarding no$/m);
  const sh = sshdDropIn({ name: 'dev', jail: '/srv/j/dev', mode: 'shell', keysFile: '/k' });
  assert.doesNotMatch(sh, /ForceCommand|PermitTTY/);
});
