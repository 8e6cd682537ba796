// Unit tests for --userns-remap's pure parts: the flag's value, /etc/subuid parsing and range choice
// (src/core/idmap.ts), owner shifting, the OCI spec's user namespace, dockerd's refusals
// (src/containers/security.ts), the daemon configuration file and `cocon check`'s userns item.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  hostRoot,
  IdMapError,
  mapFor,
  nextFreeRange,
  ociMappings,
  ownerToContainer,
  ownerToHost,
  parseRemapSpec,
  parseSubIds,
  remappedRootName,
  toContainer,
  toHost,
  type IdentityMapping,
} from '../../src/core/idmap.js';
import { buildSpec, type SpecInput } from '../../src/runtime/spec.js';
import { usesRemappedUserns, validateUsernsMode } from '../../src/containers/security.js';
import { configFileFlags, resolveConfig } from '../../src/daemon/config.js';
import { audit } from '../../src/cli/audit.js';

const M: IdentityMapping = {
  uids: [{ containerID: 0, hostID: 100000, size: 65536 }],
  gids: [{ containerID: 0, hostID: 100000, size: 65536 }],
};

test('parseRemapSpec: default is dockremap, USER[:GROUP] and UID[:GID], bad values refused', () => {
  assert.deepEqual(parseRemapSpec('default'), { isDefault: true, user: 'dockremap', group: 'dockremap' });
  assert.deepEqual(parseRemapSpec('dockremap'), { isDefault: true, user: 'dockremap', group: 'dockremap' });
  assert.deepEqual(parseRemapSpec('app'), { isDefault: false, user: 'app' });
  assert.deepEqual(parseRemapSpec('app:staff'), { isDefault: false, user: 'app', group: 'staff' });
  assert.deepEqual(parseRemapSpec('1000:1000'), { isDefault: false, user: '1000', group: '1000' });
  for (const bad of ['', 'a:', ':b', 'a:b:c'])
    assert.throws(() => parseRemapSpec(bad), IdMapError, JSON.stringify(bad));
  assert.throws(() => resolveConfig({ usernsRemap: 'a:b:c' }), /invalid --userns-remap value/);
  assert.equal(resolveConfig({ usernsRemap: 'default' }).usernsRemap, 'default');
  assert.equal(resolveConfig({}).usernsRemap, undefined);
});

test('parseSubIds: names or ids, comments and blanks skipped, malformed lines refused with their place', () => {
  const r = parseSubIds('# ranges\n\nalice:100000:65536\n1001:165536:65536\ndockremap:231072:65536\n');
  assert.deepEqual(r, [
    { owner: 'alice', start: 100000, count: 65536 },
    { owner: '1001', start: 165536, count: 65536 },
    { owner: 'dockremap', start: 231072, count: 65536 },
  ]);
  assert.throws(() => parseSubIds('alice:100000\n', '/etc/subgid'), /\/etc\/subgid:1: malformed line/);
  assert.throws(() => parseSubIds('ok:1:1\nbob:x:5\n'), /:2: malformed/);
  assert.throws(() => parseSubIds('bob:10:0\n'), /empty/);
  assert.throws(() => parseSubIds('bob:4294967290:100\n'), /beyond/);
});

test('mapFor: the owner matched by name or numeric id, ranges in file order, container ids counted on', () => {
  const r = parseSubIds('bob:200000:1000\nalice:100000:65536\n1002:300000:500\n');
  assert.deepEqual(mapFor(r, 'bob', 1002), [
    { containerID: 0, hostID: 200000, size: 1000 },
    { containerID: 1000, hostID: 300000, size: 500 },
  ]);
  assert.deepEqual(mapFor(r, 'carol', 1003), []);
});

test('nextFreeRange: the first 65536 ids at or above 100000 that overlap no range', () => {
  assert.equal(nextFreeRange([]), 100000);
  assert.equal(nextFreeRange(parseSubIds('a:100000:65536\n')), 165536);
  assert.equal(nextFreeRange(parseSubIds('a:165536:65536\nb:100000:65536\n')), 231072);
  // a gap too small for a whole range is skipped; one below 100000 does not count
  assert.equal(nextFreeRange(parseSubIds('a:100000:1000\nb:110000:65536\n')), 175536);
  assert.equal(nextFreeRange(parseSubIds('a:10000:65536\n')), 100000);
  assert.equal(nextFreeRange(parseSubIds('a:0:100001\n')), 100001);
  assert.throws(() => nextFreeRange(parseSubIds('a:100000:4294867000\n')), /no free/);
});

test('owner shifting: container ids into the range and back; ids beyond the range refused or shown as 65534', () => {
  const two: IdentityMapping = {
    uids: [
      { containerID: 0, hostID: 100000, size: 1000 },
      { containerID: 1000, hostID: 300000, size: 1000 },
    ],
    gids: M.gids,
  };
  assert.equal(toHost(0, two.uids), 100000);
  assert.equal(toHost(999, two.uids), 100999);
  assert.equal(toHost(1000, two.uids), 300000);
  assert.equal(toHost(2000, two.uids), undefined);
  assert.equal(toContainer(300001, two.uids), 1001);
  assert.equal(toContainer(0, two.uids), undefined);
  assert.deepEqual(ownerToHost(1000, 50, two), { uid: 300000, gid: 100050 });
  assert.throws(() => ownerToHost(65536, 0, M), /Container ID 65536 cannot be mapped to a host ID/);
  assert.throws(() => ownerToHost(0, 70000, M), /Container ID 70000 cannot be mapped/);
  assert.deepEqual(ownerToContainer(101000, 100000, M), { uid: 1000, gid: 0 });
  assert.deepEqual(ownerToContainer(0, 5, M), { uid: 65534, gid: 65534 });
  assert.deepEqual(hostRoot(M), { uid: 100000, gid: 100000 });
  assert.equal(remappedRootName(M), '100000.100000');
  assert.throws(() => hostRoot({ uids: [{ containerID: 1, hostID: 5, size: 1 }], gids: M.gids }), /container root/);
});

function input(over: Partial<SpecInput> = {}): SpecInput {
  return {
    args: ['sh'],
    env: [],
    cwd: '/',
    user: { uid: 0, gid: 0, additionalGids: [] },
    terminal: false,
    hostname: 'h',
    rootfsPath: '/r',
    readonlyRootfs: false,
    privileged: false,
    capAdd: [],
    capDrop: [],
    networkMode: 'netns',
    netnsPath: '/run/cocon/netns/sb-1',
    mounts: [],
    cgroupsPath: '/cocon/x',
    rlimitNofileHard: 1024,
    noNewPrivileges: false,
    seccomp: true,
    ...over,
  };
}

test('spec: a remapped container joins the daemon user namespace by path, with its mappings', () => {
  const s = buildSpec(input({ userns: { path: '/run/cocon/userns', idMap: M } }));
  assert.deepEqual(
    s.linux.namespaces.find((n) => n.type === 'user'),
    { type: 'user', path: '/run/cocon/userns' },
  );
  assert.deepEqual(s.linux.uidMappings, [{ containerID: 0, hostID: 100000, size: 65536 }]);
  assert.deepEqual(s.linux.gidMappings, [{ containerID: 0, hostID: 100000, size: 65536 }]);
  // the spec owns copies of the maps
  s.linux.uidMappings![0].size = 1;
  assert.equal(M.uids[0].size, 65536);
  assert.deepEqual(ociMappings(M).gidMappings, M.gids);
  // both bounds of ping_group_range must be mapped gids inside the user namespace
  assert.equal(s.linux.sysctl?.['net.ipv4.ping_group_range'], '0 65535');
  // sysfs is mounted as usual: the network namespace belongs to the same user namespace
  assert.equal(s.mounts.find((m) => m.destination === '/sys')?.type, 'sysfs');
  const plain = buildSpec(input());
  assert.equal(
    plain.linux.namespaces.some((n) => n.type === 'user'),
    false,
  );
  assert.equal(plain.linux.uidMappings, undefined);
  assert.equal(plain.linux.sysctl?.['net.ipv4.ping_group_range'], '0 2147483647');
});

test("validateUsernsMode: only '' and host; under remap privileged, host network and host pid need --userns=host", () => {
  assert.doesNotThrow(() => validateUsernsMode('', {}, false));
  assert.doesNotThrow(() => validateUsernsMode('host', { Privileged: true }, true));
  assert.doesNotThrow(() => validateUsernsMode(undefined, { Privileged: true }, false));
  assert.throws(() => validateUsernsMode('private', {}, true), /invalid USERNS mode: private/);
  assert.throws(
    () => validateUsernsMode('', { Privileged: true }, true),
    (e: Error) =>
      /^privileged mode is incompatible with user namespaces\. {2}You must run the container in the host namespace when running privileged mode$/.test(
        e.message,
      ),
  );
  assert.throws(
    () => validateUsernsMode(null, { NetworkMode: 'host' }, true),
    /cannot share the host's network namespace when user namespaces are enabled/,
  );
  assert.throws(
    () => validateUsernsMode('', { PidMode: 'host' }, true),
    /cannot share the host PID namespace when user namespaces are enabled/,
  );
  assert.equal(usesRemappedUserns('', true), true);
  assert.equal(usesRemappedUserns('host', true), false);
  assert.equal(usesRemappedUserns('', false), false);
});

test('configFileFlags: dockerd keys (userns-remap among them), unknown keys and flag conflicts refused', () => {
  assert.deepEqual(
    configFileFlags({ 'userns-remap': 'default', 'insecure-registries': ['a:5000', 'b'], icc: false }, { host: 'x' }),
    { host: 'x', usernsRemap: 'default', insecureRegistry: 'a:5000,b', icc: 'false' },
  );
  assert.deepEqual(configFileFlags({ 'log-opts': { 'max-size': '1m', 'max-file': '2' } }, {}), {
    logOpt: 'max-size=1m\nmax-file=2',
  });
  assert.throws(() => configFileFlags({ 'no-such': 1 }, {}), /key cocon does not read: no-such/);
  assert.throws(
    () => configFileFlags({ 'userns-remap': 'default' }, { usernsRemap: 'app' }),
    /specified both as a flag and in the configuration file: userns-remap: \(from flag: app, from file: default\)/,
  );
  assert.throws(() => configFileFlags([], {}), /JSON object/);
});

test('cocon check: userns-remap passes when on, warns when off or when a container opted out', () => {
  const facts = (sec: object) => ({ driverStatus: [] as Array<[string, string]>, security: sec });
  const c = (n: string, UsernsMode = '') => ({ Name: `/${n}`, HostConfig: { UsernsMode } });
  const on = {
    UsernsRemap: true,
    UsernsRemapUser: 'dockremap:dockremap',
    UsernsRemapRoot: { uid: 100000, gid: 100000 },
  };
  const f = (sec: object, cs: ReturnType<typeof c>[]) => audit(facts(sec), cs).find((x) => x.id === 'userns-remap')!;
  const pass = f(on, [c('a')]);
  assert.equal(pass.status, 'pass');
  assert.match(pass.detail, /host uid 100000 \(dockremap:dockremap\)/);
  const opted = f(on, [c('a'), c('b', 'host')]);
  assert.equal(opted.status, 'warn');
  assert.match(opted.detail, /b opted out with --userns=host/);
  const off = f({ UsernsRemap: false }, [c('a')]);
  assert.equal(off.status, 'warn');
  assert.equal(off.fix, 'cocon daemon --userns-remap default');
});
