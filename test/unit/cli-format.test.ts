import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderTemplate, parseFormat, goFormat, TemplateError } from '../../src/cli/template.js';
import {
  humanDuration,
  humanSize,
  bytesSize,
  formatG,
  ramInBytes,
  truncateId,
  ellipsis,
  goQuote,
  goTimeString,
  getTimestamp,
} from '../../src/cli/humanize.js';
import { tabwrite } from '../../src/cli/table.js';
import { goDurationMs as parseGoDuration } from '../../src/core/duration.js';
import {
  displayablePorts,
  containerRow,
  imageRows,
  renderRows,
  PS_HEADERS,
  PS_DEFAULT_TABLE,
  IMAGE_HEADERS,
  IMAGES_DEFAULT_TABLE,
} from '../../src/cli/format.js';
import { FrameDemuxer, encodeFrame, DetachMatcher, parseDetachKeys } from '../../src/cli/streams.js';
import { parseRef, normalizedName, familiarString, isBusybox, splitRepoTag } from '../../src/cli/refs.js';
import { encodeQuery } from '../../src/cli/client.js';

test('templates: fields, json, methods, functions, control flow', () => {
  const data = {
    State: { Status: 'running', Pid: 42, Running: true },
    Id: 'abc',
    Config: { Cmd: ['sleep', '600'], Labels: { b: '2', a: '1' }, Env: null },
    Name: '/web',
  };
  assert.equal(renderTemplate('{{.State.Status}} {{.Id}}', data), 'running abc');
  assert.equal(renderTemplate('{{json .Config.Cmd}}', data), '["sleep","600"]');
  assert.equal(
    renderTemplate('{{.Config.Cmd}} {{.Config.Labels}} {{.State.Pid}} {{.State.Running}}', data),
    '[sleep 600] map[a:1 b:2] 42 true',
  );
  assert.equal(renderTemplate('{{.Missing}}', data), '<no value>');
  assert.equal(renderTemplate('{{.Config.Env}}', data), '<nil>');
  assert.equal(renderTemplate('{{index .Config.Labels "a"}}', data), '1');
  assert.equal(renderTemplate('{{if .State.Running}}up{{else}}down{{end}}', data), 'up');
  assert.equal(
    renderTemplate('{{if eq .State.Status "exited"}}x{{else if eq .State.Status "running"}}r{{end}}', data),
    'r',
  );
  assert.equal(renderTemplate('{{range .Config.Cmd}}[{{.}}]{{end}}', data), '[sleep][600]');
  assert.equal(renderTemplate('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}', data), 'a=1;b=2;');
  assert.equal(renderTemplate('{{with .State}}{{.Pid}}{{end}}', data), '42');
  assert.equal(
    renderTemplate('{{.Name | upper}} {{lower "AB"}} {{join .Config.Cmd ","}} {{len .Config.Cmd}}', data),
    '/WEB ab sleep,600 2',
  );
  assert.equal(renderTemplate('{{printf "%s-%d" .Id .State.Pid}}', data), 'abc-42');
  assert.equal(renderTemplate('a {{- " b " -}} c', data), 'a b c');
  assert.equal(renderTemplate('{{/* comment */}}x', data), 'x');
  assert.equal(renderTemplate('{{json .}}', { a: '<none>' }), '{"a":"\\u003cnone\\u003e"}');
  const row = Object.defineProperty({ Names: 'web' }, 'Label', {
    value: (k: string) => (k === 'k' ? 'v' : ''),
    enumerable: false,
  });
  assert.equal(renderTemplate('{{.Names}} {{.Label "k"}}', row), 'web v');
  assert.throws(() => renderTemplate('{{.Foo', data), TemplateError);
  assert.throws(() => renderTemplate('{{nosuchfunc .}}', data), /not defined/);
  assert.equal(goFormat(1.5), '1.5');
});

test('format strings: table prefix, \\t escapes, json', () => {
  assert.deepEqual(parseFormat('table {{.ID}}\\t{{.Names}}'), { table: true, template: '{{.ID}}\t{{.Names}}' });
  assert.deepEqual(parseFormat('{{.ID}}'), { table: false, template: '{{.ID}}' });
  assert.deepEqual(parseFormat('json'), { table: false, template: '{{json .}}' });
});

test('human durations and sizes (go-units)', () => {
  assert.equal(humanDuration(500), 'Less than a second');
  assert.equal(humanDuration(1000), '1 second');
  assert.equal(humanDuration(59_000), '59 seconds');
  assert.equal(humanDuration(60_000), 'About a minute');
  assert.equal(humanDuration(119_000), 'About a minute');
  assert.equal(humanDuration(120_000), '2 minutes');
  assert.equal(humanDuration(3600_000), 'About an hour');
  assert.equal(humanDuration(3 * 3600_000), '3 hours');
  assert.equal(humanDuration(3 * 86400_000), '3 days');
  assert.equal(humanDuration(20 * 86400_000), '2 weeks');
  assert.equal(humanDuration(180 * 86400_000), '6 months');
  assert.equal(humanDuration(800 * 86400_000), '2 years');
  assert.equal(humanSize(1983504, 3), '1.98MB');
  assert.equal(humanSize(1983504, 4), '1.984MB');
  assert.equal(humanSize(0, 3), '0B');
  assert.equal(humanSize(1880, 3), '1.88kB');
  assert.equal(humanSize(999, 3), '999B');
  assert.equal(humanSize(1_240_000, 3), '1.24MB');
  assert.equal(bytesSize(23.54 * 1024 ** 3), '23.54GiB');
  assert.equal(formatG(999.7, 3), '1e+03');
  assert.equal(formatG(0.0001234, 3), '0.000123');
  assert.equal(ramInBytes('512m'), 512 * 1024 ** 2);
  assert.equal(ramInBytes('1g'), 1024 ** 3);
  assert.equal(ramInBytes('100'), 100);
  assert.equal(ramInBytes('1.5GB'), 1.5 * 1024 ** 3);
  assert.throws(() => ramInBytes('12q'), /invalid suffix: 'q'/);
});

test('ids, quoting, ellipsis, times', () => {
  assert.equal(truncateId('sha256:d386882b12837a27b0196d617b162c7775b7c52bffe3b594d46b815e92447023'), 'd386882b1283');
  assert.equal(ellipsis("/bin/sh -c 'ping -c 1 x'", 20), "/bin/sh -c 'ping -c…");
  assert.equal(goQuote('sh -c "x"\n'), '"sh -c \\"x\\"\\n"');
  assert.equal(goTimeString(1700000000, 0), '2023-11-14 22:13:20 +0000 UTC');
  assert.equal(parseGoDuration('1h30m'), 5400_000);
  assert.equal(parseGoDuration('300ms'), 300);
  assert.equal(parseGoDuration('abc'), undefined);
  assert.equal(getTimestamp('10s', 1700000010_000), '1700000000.000000000');
  assert.equal(getTimestamp('1700000000', 0), '1700000000');
  assert.equal(getTimestamp('2023-11-14T22:13:20Z', 0), '1700000000.000000000');
});

test('tabwriter like docker (minwidth 10, padding 3)', () => {
  assert.equal(
    tabwrite('CONTAINER ID\tIMAGE\tPORTS\tNAMES\n0f39d3f6fab0\tbusybox\t\tweb\n'),
    'CONTAINER ID   IMAGE     PORTS     NAMES\n0f39d3f6fab0   busybox             web\n',
  );
  assert.equal(tabwrite('UID\tPID\nroot\t9575\n', 20, 3), 'UID                 PID\nroot                9575\n');
  assert.equal(tabwrite('a…\tb\n'), 'a…        b\n');
});

test('ports column (DisplayablePorts)', () => {
  assert.equal(
    displayablePorts([
      { IP: '::', PrivatePort: 80, PublicPort: 8081, Type: 'tcp' },
      { IP: '127.0.0.1', PrivatePort: 82, PublicPort: 8082, Type: 'udp' },
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8081, Type: 'tcp' },
    ]),
    '0.0.0.0:8081->80/tcp, [::]:8081->80/tcp, 127.0.0.1:8082->82/udp',
  );
  assert.equal(
    displayablePorts([
      { PrivatePort: 80, Type: 'tcp' },
      { PrivatePort: 81, Type: 'tcp' },
      { PrivatePort: 90, Type: 'tcp' },
    ]),
    '80-81/tcp, 90/tcp',
  );
  assert.equal(
    displayablePorts([{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 80, Type: 'tcp' }]),
    '0.0.0.0:80->80/tcp',
  );
  assert.equal(displayablePorts(null), '');
});

test('ps rows and table', () => {
  const now = 1700000100_000;
  const c = {
    Id: '0f39d3f6fab0' + 'a'.repeat(52),
    Names: ['/web'],
    Image: 'busybox',
    ImageID: 'sha256:' + 'b'.repeat(64),
    Command: 'sleep 300',
    Created: 1700000098,
    Ports: [],
    Labels: { k: 'v' },
    State: 'running',
    Status: 'Up 2 seconds',
  };
  const row = containerRow(c, { trunc: true, now });
  assert.equal(row.ID, '0f39d3f6fab0');
  assert.equal(row.Command, '"sleep 300"');
  assert.equal(row.RunningFor, '2 seconds ago');
  assert.equal(row.Names, 'web');
  assert.equal(
    renderRows('table', [row], PS_HEADERS, PS_DEFAULT_TABLE),
    'CONTAINER ID   IMAGE     COMMAND       CREATED         STATUS         PORTS     NAMES\n' +
      '0f39d3f6fab0   busybox   "sleep 300"   2 seconds ago   Up 2 seconds             web\n',
  );
  assert.equal(renderRows('{{.Names}} {{.Label "k"}}', [row], PS_HEADERS, PS_DEFAULT_TABLE), 'web v\n');
  assert.equal(
    renderRows('table {{.ID}}\\t{{.Label "k"}}', [row], PS_HEADERS, PS_DEFAULT_TABLE),
    'CONTAINER ID   k\n0f39d3f6fab0   v\n',
  );
  const long = containerRow(
    { ...c, Command: "/bin/sh -c 'ping -c 1 x'", Image: 'sha256:' + 'b'.repeat(64) },
    { trunc: true, now },
  );
  assert.equal(long.Command, '"/bin/sh -c \'ping -c…"');
  assert.equal(long.Image, 'bbbbbbbbbbbb');
  assert.equal(containerRow(c, { trunc: false, now }).ID, c.Id);
});

test('images rows', () => {
  const now = 1700000000_000 + 120_000;
  const img = {
    Id: 'sha256:' + '9'.repeat(64),
    RepoTags: ['busybox:latest', 'busybox:traced', '127.0.0.1:5056/busybox:latest'],
    Created: 1700000000,
    Size: 1983504,
  };
  const rows = imageRows(img, { trunc: true, now });
  assert.deepEqual(
    rows.map((r) => `${r.Repository} ${r.Tag} ${r.ID} ${r.CreatedSince} ${r.Size}`),
    [
      'busybox latest 999999999999 2 minutes ago 1.98MB',
      'busybox traced 999999999999 2 minutes ago 1.98MB',
      '127.0.0.1:5056/busybox latest 999999999999 2 minutes ago 1.98MB',
    ],
  );
  assert.deepEqual(
    imageRows({ Id: 'sha256:1', RepoTags: [], Created: 0, Size: 0 }, { trunc: true, now }).map(
      (r) => `${r.Repository} ${r.Tag}`,
    ),
    ['<none> <none>'],
  );
  const digestOnly = { Id: 'sha256:1', RepoTags: ['<none>:<none>'], RepoDigests: ['x@sha256:ab'], Created: 0 };
  assert.deepEqual(
    imageRows(digestOnly, { trunc: true, now, digests: true }).map((r) => `${r.Repository} ${r.Tag} ${r.Digest}`),
    ['x <none> sha256:ab'],
  );
  assert.deepEqual(
    imageRows(digestOnly, { trunc: true, now }).map((r) => `${r.Repository} ${r.Tag} ${r.Digest}`),
    ['x <none> '],
  );
  assert.equal(
    renderRows('table', rows.slice(0, 1), IMAGE_HEADERS, IMAGES_DEFAULT_TABLE),
    'REPOSITORY   TAG       IMAGE ID       CREATED         SIZE\nbusybox      latest    999999999999   2 minutes ago   1.98MB\n',
  );
});

test('frame demultiplexer and detach keys', () => {
  const got: string[] = [];
  const d = new FrameDemuxer((s, p) => got.push(`${s}:${p.toString()}`));
  const all = Buffer.concat([
    encodeFrame(1, Buffer.from('out\n')),
    encodeFrame(2, Buffer.from('err\n')),
    encodeFrame(1, Buffer.from('')),
  ]);
  d.push(all.subarray(0, 5));
  d.push(all.subarray(5, 13));
  d.push(all.subarray(13));
  assert.deepEqual(got, ['1:out\n', '2:err\n', '1:']);
  assert.equal(d.pending, 0);
  assert.deepEqual(parseDetachKeys('ctrl-p,ctrl-q'), [16, 17]);
  assert.deepEqual(parseDetachKeys('a,ctrl-@'), [97, 0]);
  assert.throws(() => parseDetachKeys('ctrl-1'));
  const m = new DetachMatcher([16, 17]);
  assert.deepEqual([...m.feed(Buffer.from('ab\x10'))], [97, 98]);
  assert.equal(m.detached, false);
  assert.deepEqual([...m.feed(Buffer.from('c'))], [16, 99]);
  assert.deepEqual([...m.feed(Buffer.from('\x10'))], []);
  assert.deepEqual([...m.feed(Buffer.from('\x11rest'))], []);
  assert.equal(m.detached, true);
});

test('references and queries', () => {
  assert.equal(normalizedName(parseRef('busybox')), 'docker.io/library/busybox');
  assert.equal(normalizedName(parseRef('me/app:v1')), 'docker.io/me/app');
  assert.equal(normalizedName(parseRef('127.0.0.1:5056/busybox')), '127.0.0.1:5056/busybox');
  assert.equal(parseRef('127.0.0.1:5056/busybox:v2').tag, 'v2');
  assert.equal(familiarString(parseRef('nosuchimage')), 'nosuchimage:latest');
  assert.equal(familiarString(parseRef('docker.io/library/busybox:1')), 'busybox:1');
  assert.ok(isBusybox('busybox') && isBusybox('busybox:latest') && isBusybox('docker.io/library/busybox'));
  assert.ok(!isBusybox('busybox:1.36') && !isBusybox('me/busybox'));
  assert.deepEqual(splitRepoTag('127.0.0.1:5056/x:v1'), ['127.0.0.1:5056/x', 'v1']);
  assert.deepEqual(splitRepoTag('127.0.0.1:5056/x'), ['127.0.0.1:5056/x', '']);
  assert.throws(() => parseRef('Bad:tag'));
  assert.equal(encodeQuery({ stream: '1', stdout: '1', stderr: '1', stdin: undefined }), '?stderr=1&stdout=1&stream=1');
  assert.equal(
    encodeQuery({ changes: ['CMD ["a"]', 'ENV A=1'], fromSrc: '-' }),
    '?changes=CMD%20%5B%22a%22%5D&changes=ENV%20A%3D1&fromSrc=-',
  );
});

import { ProgressRenderer, ProgressError } from '../../src/cli/progress.js';

test('progress: plain lines off a terminal, in-place updates on one, errors', () => {
  let out = '';
  const plain = new ProgressRenderer((s) => {
    out += s;
  }, false);
  plain.handle({ status: 'Pulling from library/x', id: 'v1' });
  plain.handle({
    status: 'Downloading',
    id: 'abc',
    progress: '[==>  ] 1kB/2kB',
    progressDetail: { current: 1, total: 2 },
  });
  plain.handle({ status: 'Pull complete', id: 'abc' });
  plain.handle({ status: 'Digest: sha256:1' });
  assert.equal(out, 'v1: Pulling from library/x\nabc: Pull complete\nDigest: sha256:1\n');
  out = '';
  const tty = new ProgressRenderer((s) => {
    out += s;
  }, true);
  tty.handle({ status: 'Pulling fs layer', id: 'a' });
  tty.handle({ status: 'Pulling fs layer', id: 'b' });
  tty.handle({ status: 'Downloading', id: 'a', progress: '[=>]' });
  assert.equal(out, 'a: Pulling fs layer\nb: Pulling fs layer\n\x1b[2A\r\x1b[2Ka: Downloading [=>]\r\x1b[2B');
  assert.throws(
    () => plain.handle({ errorDetail: { message: 'boom', code: 3 }, error: 'boom' }),
    (e: Error) => e instanceof ProgressError && e.message === 'boom' && e.code === 3,
  );
});

import { statsRow } from '../../src/cli/commands/stats.js';

test('stats row like docker stats', () => {
  const r = statsRow(
    {
      cpu_stats: { cpu_usage: { total_usage: 2_000_000_000 }, system_cpu_usage: 20_000_000_000, online_cpus: 2 },
      precpu_stats: { cpu_usage: { total_usage: 1_000_000_000 }, system_cpu_usage: 10_000_000_000 },
      memory_stats: { usage: 3 * 1024 * 1024, limit: 1024 ** 3, stats: { total_inactive_file: 1024 * 1024 } },
      networks: { eth0: { rx_bytes: 1200, tx_bytes: 648 } },
      blkio_stats: {
        io_service_bytes_recursive: [
          { op: 'Read', value: 4096 },
          { op: 'Write', value: 0 },
        ],
      },
      pids_stats: { current: 3 },
    },
    'a'.repeat(64),
    '/web',
    true,
  );
  assert.deepEqual(r, {
    Container: 'aaaaaaaaaaaa',
    ID: 'aaaaaaaaaaaa',
    Name: 'web',
    CPUPerc: '20.00%',
    MemUsage: '2MiB / 1GiB',
    MemPerc: '0.20%',
    NetIO: '1.2kB / 648B',
    BlockIO: '4.1kB / 0B',
    PIDs: '3',
  });
});

import { diskUsageRows } from '../../src/cli/commands/misc.js';

test('system df rows like docker', () => {
  const rows = diskUsageRows({
    LayersSize: 1987000,
    Images: [
      { Containers: 2, Size: 1987000, SharedSize: 0 },
      { Containers: 0, Size: 0, SharedSize: 0 },
    ],
    Containers: [
      { State: 'running', SizeRw: 16 },
      { State: 'exited', SizeRw: 0 },
    ],
    Volumes: [],
    BuildCache: [],
  });
  assert.deepEqual(
    rows.map((r) => [r.Type, r.TotalCount, r.Active, r.Size, r.Reclaimable]),
    [
      ['Images', '2', '1', '1.987MB', '0B (0%)'],
      ['Containers', '2', '1', '16B', '0B (0%)'],
      ['Local Volumes', '0', '0', '0B', '0B'],
      ['Build Cache', '0', '0', '0B', '0B'],
    ],
  );
});
