// Pure request-body checks (api/shape.ts) and HostConfig rules (containers/hostconfig.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBody, MAX_LABELS_SIZE } from '../../src/api/shape.js';
import {
  checkHostConfig,
  ramInBytes,
  validateLogConfig,
  validateMemory,
  validateSysctls,
  storageSize,
  MIN_LAYER_SIZE,
  logSizeMax,
  logBounds,
} from '../../src/containers/hostconfig.js';

const bad = (f: () => unknown, re: RegExp) =>
  assert.throws(f, (e: Error & { kind?: string }) => e.kind === 'invalid-argument' && re.test(e.message));

test('decodeBody: empty is {}, objects pass with unknown fields kept, null and non-objects are refused', () => {
  assert.deepEqual(decodeBody('', 'containerCreate'), {});
  assert.deepEqual(decodeBody('  \n', 'object'), {});
  assert.deepEqual(decodeBody('{"Image":"busybox","Cmd":null,"Whatever":[1,{}]}', 'containerCreate'), {
    Image: 'busybox',
    Cmd: null,
    Whatever: [1, {}],
  });
  bad(() => decodeBody('null', 'containerCreate'), /^config cannot be empty in order to create a container$/);
  bad(() => decodeBody('null', 'volumeCreate'), /body is null/);
  for (const t of ['[]', '1', '"x"', 'true']) bad(() => decodeBody(t, 'networkCreate'), /a JSON object is expected/);
  bad(() => decodeBody('{"Image":', 'containerCreate'), /^invalid JSON: /);
});

test('decodeBody: field types, nested, with the field path in the message', () => {
  bad(
    () => decodeBody('{"Cmd":["a",1]}', 'containerCreate'),
    /cannot unmarshal number 1 into Go struct field Cmd\[1\] of type string/,
  );
  bad(() => decodeBody('{"Env":[null]}', 'containerCreate'), /Env\[0\] of type string/);
  bad(
    () => decodeBody('{"HostConfig":{"Memory":1e308}}', 'containerCreate'),
    /number 1e\+308 into Go struct field HostConfig\.Memory of type int64/,
  );
  bad(() => decodeBody('{"HostConfig":{"Memory":-0.5}}', 'containerCreate'), /HostConfig\.Memory of type int64/);
  bad(
    () => decodeBody('{"HostConfig":{"Memory":9007199254740993}}', 'containerCreate'),
    /HostConfig\.Memory of type int64/,
  );
  bad(
    () => decodeBody('{"HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":80}]}}}', 'containerCreate'),
    /PortBindings\.80\/tcp\[0\]\.HostPort of type string/,
  );
  bad(
    () => decodeBody('{"NetworkingConfig":{"EndpointsConfig":{"n":{"Aliases":"a"}}}}', 'containerCreate'),
    /EndpointsConfig\.n\.Aliases of type \[\]string/,
  );
  bad(() => decodeBody('{"User":{}}', 'containerCreate'), /User of type string/);
  bad(() => decodeBody('{"Image":[]}', 'containerCreate'), /array into Go struct field Image of type string/);
  bad(() => decodeBody('{"Detach":"1"}', 'execStart'), /Detach of type bool/);
  // null anywhere a field is optional is "absent", as in Go
  assert.doesNotThrow(() =>
    decodeBody('{"HostConfig":{"Memory":null,"PortBindings":{"80/tcp":null}},"Labels":null}', 'containerCreate'),
  );
  assert.doesNotThrow(() =>
    decodeBody('{"HostConfig":{"Memory":-1,"MemorySwap":-1,"ConsoleSize":[24,80]}}', 'containerCreate'),
  );
});

test('labels: a total size limit', () => {
  const under = JSON.stringify({ Labels: { a: 'x'.repeat(MAX_LABELS_SIZE - 1) } });
  assert.doesNotThrow(() => decodeBody(under, 'containerCreate'));
  bad(
    () => decodeBody(JSON.stringify({ Labels: { a: 'x'.repeat(MAX_LABELS_SIZE) } }), 'volumeCreate'),
    /Labels: labels are 262145 bytes in all/,
  );
});

test('log config: drivers, bounded defaults, daemon defaults, max-size, max-file, compress, unknown options', () => {
  // No LogConfig: json-file (what docker reports), bounded by cocon's default 10m x 3.
  assert.deepEqual(validateLogConfig(undefined).config, {
    Type: 'json-file',
    Config: { 'max-size': '10m', 'max-file': '3' },
  });
  assert.deepEqual(validateLogConfig(undefined).bounds, { maxSize: 10 * 1024 * 1024, maxFile: 3, compress: false });
  assert.equal(validateLogConfig({ Type: '', Config: {} }).config.Type, 'json-file');
  assert.deepEqual(validateLogConfig({ Type: 'local' }).bounds, {
    maxSize: 20 * 1024 * 1024,
    maxFile: 5,
    compress: true,
  });
  assert.deepEqual(validateLogConfig({ Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '1' } }).bounds, {
    maxSize: 10 * 1024 * 1024,
    maxFile: 1,
    compress: false,
  });
  assert.deepEqual(
    validateLogConfig({ Type: 'json-file', Config: { 'max-size': '1k', 'max-file': '4', compress: 'true' } }).bounds,
    { maxSize: 1024, maxFile: 4, compress: true },
  );
  // The daemon's --log-driver/--log-opt: its options fill the container's when the driver is the daemon's.
  const daemon = { Type: 'local', Config: { 'max-size': '1m', 'max-file': '2' } };
  assert.deepEqual(validateLogConfig(undefined, daemon).config, {
    Type: 'local',
    Config: { 'max-size': '1m', 'max-file': '2', compress: 'true' },
  });
  assert.deepEqual(validateLogConfig({ Type: 'local', Config: { 'max-size': '1m' } }).bounds, {
    maxSize: 1024 * 1024,
    maxFile: 5,
    compress: true,
  });
  assert.deepEqual(validateLogConfig({ Type: 'local', Config: { 'max-file': '7' } }, daemon).config.Config, {
    'max-file': '7',
    'max-size': '1m',
    compress: 'true',
  });
  assert.deepEqual(validateLogConfig({ Type: 'json-file' }, daemon).config.Config, {
    'max-size': '10m',
    'max-file': '3',
  });
  assert.deepEqual(validateLogConfig({ Type: 'none' }).config, { Type: 'none', Config: {} });
  bad(() => validateLogConfig({ Type: 'syslog' }), /logging driver 'syslog' is not supported by cocon yet/);
  bad(() => validateLogConfig({ Type: 'bogus' }), /no log driver named 'bogus'/);
  bad(
    () => validateLogConfig({ Type: 'json-file', Config: { 'max-file': '2' } }),
    /max-file can only be set together with max-size/,
  );
  bad(
    () => validateLogConfig({ Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '0' } }),
    /max-file cannot be less than 1/,
  );
  bad(
    () => validateLogConfig({ Type: 'json-file', Config: { 'max-size': '1m', compress: 'yes' } }),
    /invalid compress 'yes'/,
  );
  bad(
    () => validateLogConfig({ Type: 'json-file', Config: { 'max-size': '0' } }),
    /max-size must be a positive number/,
  );
  bad(() => validateLogConfig({ Type: 'json-file', Config: { 'max-size': '-1' } }), /invalid max-size/);
  bad(() => validateLogConfig({ Type: 'json-file', Config: { tag: 'x' } }), /log opt 'tag' is not supported/);
  bad(() => validateLogConfig({ Type: 'none', Config: { 'max-size': '1m' } }), /for none log driver/);
  assert.deepEqual(
    logBounds({ LogConfig: { Type: 'json-file', Config: { 'max-size': '2k', 'max-file': '3', compress: 'true' } } }),
    { maxSize: 2048, maxFile: 3, compress: true },
  );
  assert.deepEqual(logBounds({}), { maxSize: 0, maxFile: 1, compress: false });
  assert.equal(ramInBytes('1.5k'), 1536);
  assert.equal(ramInBytes('2MiB'), 2 * 1024 * 1024);
  assert.equal(ramInBytes('12'), 12);
  assert.equal(ramInBytes('m'), null);
  assert.equal(logSizeMax({ LogConfig: { Type: 'json-file', Config: { 'max-size': '1k' } } }), 1024);
  assert.equal(logSizeMax({}), 0);
});

test("sysctls: docker's namespaced list, network rules, safe names", () => {
  assert.deepEqual(
    validateSysctls({ 'kernel.shmmax': '1', 'fs.mqueue.msg_max': '2', 'net.ipv4.ip_forward': '1' }, 'bridge'),
    { 'kernel.shmmax': '1', 'fs.mqueue.msg_max': '2', 'net.ipv4.ip_forward': '1' },
  );
  assert.deepEqual(validateSysctls({ 'kernel.sem': '1 2 3 4' }, 'host'), { 'kernel.sem': '1 2 3 4' });
  bad(() => validateSysctls({ 'kernel.domainname': 'x' }, 'bridge'), /sysctl 'kernel.domainname=x' is not allowed/);
  bad(() => validateSysctls({ 'net.core.somaxconn': '1' }, 'host'), /not allowed in host network mode/);
  bad(() => validateSysctls({ 'net.core.somaxconn': '1' }, 'container:abc'), /shares the network namespace/);
  bad(() => validateSysctls({ 'kernel.shmmax': '1' }, 'bridge', 'host'), /own IPC namespace/);
  bad(() => validateSysctls({ 'net.x/../../y': '1' }, 'bridge'), /not a valid name/);
  bad(() => validateSysctls({ 'net.core.somaxconn': '1\n2' }, 'bridge'), /one line/);
});

test("memory and swap: docker's defaults and errors; refused where the host cannot limit swap", () => {
  const M = 1024 * 1024;
  assert.deepEqual(validateMemory({}, { swapLimit: true }), { Memory: 0, MemorySwap: 0 });
  assert.deepEqual(validateMemory({ Memory: 64 * M }, { swapLimit: true }), { Memory: 64 * M, MemorySwap: 128 * M });
  assert.deepEqual(validateMemory({ Memory: 64 * M }, { swapLimit: false }), { Memory: 64 * M, MemorySwap: 0 });
  assert.deepEqual(validateMemory({ Memory: 64 * M, MemorySwap: -1 }, { swapLimit: true }), {
    Memory: 64 * M,
    MemorySwap: -1,
  });
  assert.deepEqual(validateMemory({ Memory: 64 * M, MemorySwap: 64 * M }, { swapLimit: true }), {
    Memory: 64 * M,
    MemorySwap: 64 * M,
  });
  bad(() => validateMemory({ MemorySwap: 64 * M }, { swapLimit: true }), /always set the Memory limit/);
  bad(() => validateMemory({ Memory: 64 * M, MemorySwap: M }, { swapLimit: true }), /Minimum memoryswap limit/);
  bad(() => validateMemory({ Memory: 64 * M, MemorySwap: 128 * M }, { swapLimit: false }), /cannot be honoured/);
  assert.deepEqual(validateMemory({ MemorySwap: -1 }, { swapLimit: false }), { Memory: 0, MemorySwap: -1 });
  bad(() => validateMemory({ Memory: 64 * M, MemorySwap: -2 }, { swapLimit: true }), /invalid memory swap/);
  bad(() => validateMemory({ Memory: -5 }, { swapLimit: true }), /cannot be negative/);
});

const M = 1024 * 1024;

test("checkHostConfig: storage-opt size= checked with docker's messages, Sysctls only when set", () => {
  // docker overlay2's parseStorageOpt: one option, size, in go-units sizes
  bad(
    () => checkHostConfig({ StorageOpt: { 'overlay2.x': '1' } }, 'default', { swapLimit: true }),
    /^Unknown option overlay2\.x$/,
  );
  bad(() => storageSize({ size: 'abc' }), /^invalid size: 'abc'$/);
  bad(() => storageSize({ size: '10x' }), /^invalid suffix: 'x'$/);
  bad(() => storageSize({ size: '-1' }), /^invalid size: '-1'$/);
  bad(
    () => storageSize({ size: '512k' }),
    /^--storage-opt size=512k is too small: a writable layer needs at least 1MiB$/,
  );
  bad(
    () => checkHostConfig({ StorageOpt: { size: '10G' } }, 'default', { swapLimit: true, dataRootSize: 1024 ** 3 }),
    /^--storage-opt size=10G is larger than the data root's filesystem \(1073741824 bytes\)$/,
  );
  assert.equal(storageSize({ size: '64m' }), 64 * M);
  assert.equal(storageSize({ Size: '1.5G' }), 1.5 * 1024 * M);
  assert.equal(storageSize({ size: '0' }), 0); // docker: no quota
  assert.equal(storageSize({}), 0);
  assert.equal(storageSize(null), 0);
  assert.equal(MIN_LAYER_SIZE, M);
  checkHostConfig({ StorageOpt: { size: '64m' } }, 'default', { swapLimit: true, dataRootSize: 1024 ** 3 });
  assert.equal('Sysctls' in checkHostConfig({ Sysctls: {} }, 'default', { swapLimit: true }), false);
});
