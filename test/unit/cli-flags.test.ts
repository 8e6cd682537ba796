import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags, FlagError, Opts } from '../../src/cli/flags.js';
import type { FlagDef } from '../../src/cli/flags.js';
import {
  RUN_FLAGS,
  buildCreateRequest,
  parsePortSpec,
  parseRestart,
  parseMount,
  ConfigError,
} from '../../src/cli/runconfig.js';
import { parseEnvFile, resolveEnvArg, EnvFileError } from '../../src/cli/envfile.js';
import { buildFilters, filtersParam, FilterError } from '../../src/cli/filters.js';

const defs: FlagDef[] = [
  { long: 'detach', short: 'd', type: 'bool' },
  { long: 'interactive', short: 'i', type: 'bool' },
  { long: 'tty', short: 't', type: 'bool' },
  { long: 'env', short: 'e', type: 'list' },
  { long: 'name', type: 'string' },
  { long: 'time', short: 'n', type: 'int' },
];

test('long flags: --x v, --x=v, bools, --x=false', () => {
  const p = parseFlags(['--name', 'web', '--env=A=1', '--detach', '--tty=false', 'img'], defs);
  assert.equal(p.values.get('name'), 'web');
  assert.deepEqual(p.values.get('env'), ['A=1']);
  assert.equal(p.values.get('detach'), true);
  assert.equal(p.values.get('tty'), false);
  assert.deepEqual(p.positionals, ['img']);
});

test('short flags: combined -dit, -e=X, -eX, -e X, value flag ending a group', () => {
  const p = parseFlags(['-dit', '-e=A=1', '-eB=2', '-e', 'C=3', '-tie', 'D=4', 'img'], defs);
  assert.equal(p.values.get('detach'), true);
  assert.equal(p.values.get('interactive'), true);
  assert.equal(p.values.get('tty'), true);
  assert.deepEqual(p.values.get('env'), ['A=1', 'B=2', 'C=3', 'D=4']);
});

test('interspersed false stops at the first positional; -- ends flags', () => {
  const p = parseFlags(['-d', 'busybox', 'sh', '-c', 'echo --name x'], defs, { interspersed: false });
  assert.deepEqual(p.positionals, ['busybox', 'sh', '-c', 'echo --name x']);
  assert.equal(p.values.has('name'), false);
  const q = parseFlags(['a', '-d', 'b'], defs);
  assert.deepEqual(q.positionals, ['a', 'b']);
  assert.equal(q.values.get('detach'), true);
  const r = parseFlags(['-d', '--', '-x', '--name'], defs);
  assert.deepEqual(r.positionals, ['-x', '--name']);
  assert.deepEqual(parseFlags(['-'], defs).positionals, ['-']);
});

test('errors like pflag', () => {
  assert.throws(
    () => parseFlags(['--foo'], defs),
    (e: Error) => e instanceof FlagError && e.message === 'unknown flag: --foo',
  );
  assert.throws(() => parseFlags(['-x'], defs), /unknown shorthand flag: 'x' in -x/);
  assert.throws(() => parseFlags(['--name'], defs), /flag needs an argument: --name/);
  assert.throws(() => parseFlags(['-e'], defs), /flag needs an argument: 'e' in -e/);
  assert.throws(
    () => parseFlags(['-n', 'abc'], defs),
    /invalid argument "abc" for "-n, --time" flag: strconv.ParseInt/,
  );
  assert.throws(() => parseFlags(['--detach=maybe'], defs), /strconv.ParseBool/);
  assert.equal(parseFlags(['--help'], defs).values.get('help'), true);
});

test('Opts accessors and defaults', () => {
  const o = new Opts(parseFlags(['-n', '5'], [...defs, { long: 'tail', type: 'string', default: 'all' }]), [
    ...defs,
    { long: 'tail', type: 'string', default: 'all' },
  ]);
  assert.equal(o.num('time'), 5);
  assert.equal(o.str('tail'), 'all');
  assert.equal(o.bool('detach'), false);
  assert.deepEqual(o.list('env'), []);
});

const env = {
  readFile: (p: string): string => {
    if (p === 'e.env') return '# c\n\nA=1\n  B=two words\nHOMEVAR\nMISSING\n';
    throw new Error(`open ${p}: no such file or directory`);
  },
  lookupEnv: (k: string) => (k === 'HOMEVAR' ? 'h' : k === 'X' ? 'x' : undefined),
};

function req(args: string[], isRun = true) {
  const p = parseFlags(args, RUN_FLAGS, { interspersed: false });
  return buildCreateRequest(new Opts(p, RUN_FLAGS), { ...env, consoleSize: [30, 100] }, isRun);
}

test('create body: defaults like docker run', () => {
  const r = req(['busybox', 'echo', 'hi']);
  const b = r.body as Record<string, any>;
  assert.equal(b.Image, 'busybox');
  assert.deepEqual(b.Cmd, ['echo', 'hi']);
  assert.equal(b.AttachStdout, true);
  assert.equal(b.AttachStderr, true);
  assert.equal(b.AttachStdin, false);
  assert.equal(b.Tty, false);
  assert.equal(b.OpenStdin, false);
  assert.equal(b.StdinOnce, false);
  assert.equal(b.Env, null);
  assert.equal(b.Entrypoint, null);
  assert.equal(b.HostConfig.NetworkMode, 'default');
  assert.deepEqual(b.HostConfig.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
  assert.deepEqual(b.HostConfig.ConsoleSize, [0, 0]);
  assert.equal(b.HostConfig.AutoRemove, false);
  assert.equal('Init' in b.HostConfig, false);
});

test('create body: -dit, --rm, -e/--env-file, labels, ports, volumes, entrypoint', () => {
  const r = req([
    '-ti',
    '--rm',
    '--name',
    'x',
    '--env-file',
    'e.env',
    '-e',
    'X',
    '-e',
    'Y',
    '-e',
    'Z=1',
    '-l',
    'a=b',
    '-l',
    'c',
    '-p',
    '8080:80',
    '-p',
    '127.0.0.1:53:53/udp',
    '-v',
    '/data',
    '-v',
    'v1:/v:ro',
    '--entrypoint',
    '',
    '--init',
    '--stop-timeout',
    '5',
    '--restart',
    'no',
    '--memory',
    '512m',
    '--cpus',
    '1.5',
    '--pids-limit',
    '100',
    '--ulimit',
    'nofile=10:20',
    '--tmpfs',
    '/run:size=1m',
    '--cap-add',
    'NET_ADMIN',
    '--add-host',
    'h:1.2.3.4',
    '--dns',
    '8.8.8.8',
    '--network',
    'none',
    'busybox',
  ]);
  const b = r.body as Record<string, any>;
  assert.equal(r.name, 'x');
  assert.equal(r.tty, true);
  assert.equal(r.attachStdin, true);
  assert.equal(r.autoRemove, true);
  assert.equal(b.AttachStdin, true);
  assert.equal(b.OpenStdin, true);
  assert.equal(b.StdinOnce, true);
  assert.equal(b.Tty, true);
  assert.deepEqual(b.Env, ['A=1', 'B=two words', 'HOMEVAR=h', 'X=x', 'Y', 'Z=1']);
  assert.deepEqual(b.Labels, { a: 'b', c: '' });
  assert.deepEqual(b.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
  assert.deepEqual(b.HostConfig.PortBindings, {
    '80/tcp': [{ HostIp: '', HostPort: '8080' }],
    '53/udp': [{ HostIp: '127.0.0.1', HostPort: '53' }],
  });
  assert.deepEqual(b.Volumes, { '/data': {} });
  assert.deepEqual(b.HostConfig.Binds, ['v1:/v:ro']);
  assert.deepEqual(b.Entrypoint, ['']);
  assert.equal(b.HostConfig.Init, true);
  assert.equal(b.StopTimeout, 5);
  assert.equal(b.HostConfig.Memory, 512 * 1024 * 1024);
  assert.equal(b.HostConfig.NanoCpus, 1.5e9);
  assert.equal(b.HostConfig.PidsLimit, 100);
  assert.deepEqual(b.HostConfig.Ulimits, [{ Name: 'nofile', Soft: 10, Hard: 20 }]);
  assert.deepEqual(b.HostConfig.Tmpfs, { '/run': 'size=1m' });
  assert.deepEqual(b.HostConfig.CapAdd, ['NET_ADMIN']);
  assert.deepEqual(b.HostConfig.ExtraHosts, ['h:1.2.3.4']);
  assert.deepEqual(b.HostConfig.Dns, ['8.8.8.8']);
  assert.equal(b.HostConfig.NetworkMode, 'none');
  assert.deepEqual(b.HostConfig.ConsoleSize, [30, 100]);
  assert.equal(b.HostConfig.AutoRemove, true);
});

test('create body: -d turns attach off but keeps OpenStdin; -a picks streams', () => {
  const b = req(['-d', '-i', 'busybox']).body as Record<string, any>;
  assert.equal(b.AttachStdin, false);
  assert.equal(b.AttachStdout, false);
  assert.equal(b.OpenStdin, true);
  assert.equal(b.StdinOnce, false);
  const a = req(['-a', 'stdout', 'busybox']).body as Record<string, any>;
  assert.equal(a.AttachStdout, true);
  assert.equal(a.AttachStderr, false);
  assert.throws(() => req(['-d', '-a', 'stdout', 'busybox']), /Conflicting options: -a and -d/);
  assert.throws(
    () => req(['-a', 'foo', 'busybox']),
    (e: Error) => e instanceof ConfigError && e.flag === '-a, --attach',
  );
  // create: -i attaches stdin (no -d there)
  const c = req(['-i', 'busybox'], false).body as Record<string, any>;
  assert.equal(c.AttachStdin, true);
  assert.equal(c.StdinOnce, true);
});

test('create body: bad values', () => {
  assert.throws(() => req(['--env-file', 'nope', 'busybox']), /open nope: no such file or directory/);
  assert.throws(() => req(['-m', '12q', 'busybox']), /invalid suffix: 'q'/);
  assert.throws(() => req(['--restart', 'always', '--rm', 'busybox']), /Conflicting options: --restart and --rm/);
  assert.throws(() => req(['-p', 'abc', 'busybox']), /invalid containerPort: abc/);
});

test('relative bind sources resolve against the current directory', () => {
  const p = parseFlags(
    ['-v', './data:/data:ro', '-v', 'named:/n', '--mount', 'type=bind,src=sub,dst=/s', 'busybox'],
    RUN_FLAGS,
    { interspersed: false },
  );
  const b = buildCreateRequest(new Opts(p, RUN_FLAGS), { ...env, cwd: '/home/u' }, true).body as Record<string, any>;
  assert.deepEqual(b.HostConfig.Binds, ['/home/u/data:/data:ro', 'named:/n']);
  assert.equal(b.HostConfig.Mounts[0].Source, '/home/u/sub');
});

test('ports, restart, mounts', () => {
  assert.deepEqual(parsePortSpec('80'), [{ port: '80/tcp', binding: { HostIp: '', HostPort: '' } }]);
  assert.deepEqual(
    parsePortSpec('8000-8001:80-81').map((x) => [x.port, x.binding.HostPort]),
    [
      ['80/tcp', '8000'],
      ['81/tcp', '8001'],
    ],
  );
  assert.deepEqual(parsePortSpec('[::1]:8080:80')[0].binding, { HostIp: '::1', HostPort: '8080' });
  assert.deepEqual(parsePortSpec('127.0.0.1::80')[0].binding, { HostIp: '127.0.0.1', HostPort: '' });
  assert.deepEqual(parseRestart('on-failure:3'), { Name: 'on-failure', MaximumRetryCount: 3 });
  assert.deepEqual(parseRestart('unless-stopped'), { Name: 'unless-stopped', MaximumRetryCount: 0 });
  assert.throws(() => parseRestart('bogus'));
  assert.throws(() => parseRestart('always:3'));
  assert.deepEqual(parseMount('type=bind,source=/a,target=/b,readonly'), {
    Type: 'bind',
    Source: '/a',
    Target: '/b',
    ReadOnly: true,
  });
  assert.deepEqual(parseMount('type=tmpfs,dst=/t,tmpfs-size=1m'), {
    Type: 'tmpfs',
    Target: '/t',
    TmpfsOptions: { SizeBytes: 1048576 },
  });
  assert.throws(() => parseMount('foo'), /must be a key=value pair/);
});

test('env files like docker', () => {
  assert.deepEqual(
    parseEnvFile('\ufeffA=1\r\n# x\n\n   B=2\nC\n', 'f', (k) => (k === 'C' ? 'c' : undefined)),
    ['A=1', 'B=2', 'C=c'],
  );
  assert.deepEqual(parseEnvFile('D\n', 'f'), []);
  assert.throws(
    () => parseEnvFile('=x\n', 'f'),
    (e: Error) => e instanceof EnvFileError && /no variable name/.test(e.message),
  );
  assert.throws(() => parseEnvFile('A B=1\n', 'f'), /contains whitespaces/);
  assert.equal(
    resolveEnvArg('K', () => 'v'),
    'K=v',
  );
  assert.equal(
    resolveEnvArg('K', () => undefined),
    'K',
  );
  assert.throws(() => resolveEnvArg('=v', () => undefined), /invalid environment variable/);
});

test('filters', () => {
  assert.equal(
    filtersParam(buildFilters(['name=web', 'label=a=b', 'status=exited', 'status=created'])),
    '{"name":{"web":true},"label":{"a=b":true},"status":{"exited":true,"created":true}}',
  );
  assert.equal(filtersParam(buildFilters([])), undefined);
  assert.throws(
    () => buildFilters(['bogus']),
    (e: Error) => e instanceof FilterError && /bad format of filter/.test(e.message),
  );
});
