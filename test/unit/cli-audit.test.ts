// The audit behind `cocon check` (src/cli/audit.ts): each item's pass/warn/fail from API facts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { audit, renderFindings, type ContainerFacts } from '../../src/cli/audit.js';

const own: Array<[string, string]> = [
  ['Data Root Filesystem', 'xfs on /dev/loop3'],
  ['Project Quotas', 'false'],
];
const shared: Array<[string, string]> = [
  ['Data Root Filesystem', 'shared with the host (/dev/vda)'],
  ['Project Quotas', 'false'],
];
const safe = {
  Icc: false,
  NoNewPrivileges: true,
  Socket: { Path: '/run/cocon/cocon.sock', Mode: '0660', Group: 'cocon' },
  Tcp: null,
};
const ctr = (n: string, hc: ContainerFacts['HostConfig']): ContainerFacts => ({
  Name: `/${n}`,
  HostConfig: { Memory: 1 << 26, PidsLimit: 2048, ...hc },
});
const st = (fs: ReturnType<typeof audit>, id: string) => fs.find((f) => f.id === id)?.status;

test('a hardened daemon with limited containers has no failure', () => {
  const fs = audit({ driverStatus: own, security: safe }, [ctr('a', {})]);
  assert.deepEqual(
    fs.filter((f) => f.status === 'fail'),
    [],
  );
  assert.equal(st(fs, 'data-root-fs'), 'pass');
  assert.equal(st(fs, 'container-quota'), 'warn');
  assert.match(renderFindings(fs), /0 failed\n$/);
  const bounded = audit({ driverStatus: [...own, ['Default Writable Layer Size', String(1 << 30)]], security: safe }, [
    ctr('a', {}),
  ]);
  assert.equal(st(bounded, 'container-quota'), 'pass');
});

test('each benchmark item fails or warns with its fix', () => {
  const fs = audit(
    {
      driverStatus: shared,
      security: {
        ...safe,
        Icc: true,
        NoNewPrivileges: false,
        Socket: { Path: '/s', Mode: '0666', Group: 'users' },
        Tcp: { Address: '0.0.0.0:2375', Tls: false },
      },
    },
    [
      ctr('p', { Privileged: true }),
      ctr('c', { CapAdd: ['NET_ADMIN'] }),
      ctr('u', { SecurityOpt: ['seccomp=unconfined'] }),
      ctr('m', {
        Memory: 0,
        PidsLimit: -1,
        PortBindings: {
          '80/tcp': [{ HostIp: '', HostPort: '8080' }],
          '81/tcp': [{ HostIp: '127.0.0.1', HostPort: '8081' }],
        },
      }),
    ],
  );
  const want: Record<string, string> = {
    'data-root-fs': 'fail',
    icc: 'fail',
    privileged: 'fail',
    'cap-add': 'warn',
    seccomp: 'warn',
    memory: 'warn',
    pids: 'warn',
    'no-new-privileges': 'warn',
    'userns-remap': 'warn',
    ports: 'warn',
    socket: 'fail',
    tls: 'fail',
  };
  for (const [id, s] of Object.entries(want)) assert.equal(st(fs, id), s, id);
  assert.match(fs.find((f) => f.id === 'ports')!.detail, /m 8080->80\/tcp$/);
  assert.match(fs.find((f) => f.id === 'data-root-fs')!.fix!, /--storage-size/);
  assert.match(fs.find((f) => f.id === 'privileged')!.fix!, /cocon rm -f p && cocon run --cap-add/);
  for (const f of fs) if (f.status !== 'pass') assert.ok(f.fix, `${f.id} has no fix`);
});
