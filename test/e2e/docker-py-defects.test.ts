// Issue 13's defect list through docker-py (Debian's python3-docker 5, unmodified; the calls live in
// test/clients/defects.py): swarm endpoints' 503s, containers.run returning the output (remove,
// auto_remove, volumes, stream), LogConfig, Env without '=', GroupAdd, MacAddress, DeviceCgroupRules,
// diff, rm --link, ANDed label filters on containers, images, volumes and networks, a chunked image
// load and a bad one, and network create/connect options. The expected values are dockerd's
// (the swarm group was run against a real dockerd the same way and answered the same).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run, REPO, type Json } from '../helpers/daemon.js';
import { useBridgeDaemon } from '../integration/network-common.js';

const h = useBridgeDaemon('cpy', 24, 160);

const PYTHON = '/usr/bin/python3'; // Debian's python, where python3-docker lives
const cfg = mkdtempSync(join(process.env.COCON_TEST_TMP || '/tmp', 'pydefects-'));
after(() => rmSync(cfg, { recursive: true, force: true }));
let n = 0;

async function py(group: string): Promise<Json> {
  const r = await run(PYTHON, [join(REPO, 'test/clients/defects.py'), group, `pyd${process.pid.toString(36)}${n++}`], {
    env: { DOCKER_HOST: h.d.host, DOCKER_CONFIG: cfg },
    timeoutMs: 180_000,
  });
  assert.equal(r.code, 0, `defects.py ${group}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
const NOT_MANAGER =
  'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';

test("docker-py swarm calls: dockerd's 503s (leave(force=True) is True), unknown endpoints stay 404", async () => {
  const o = await py('swarm');
  assert.equal(o.leave_force, true);
  assert.deepEqual(o.leave, { status: 503, message: 'This node is not part of a swarm' });
  for (const k of ['swarm', 'nodes', 'services', 'tasks', 'secrets', 'configs'])
    assert.deepEqual(o[k], { status: 503, message: NOT_MANAGER }, k);
  assert.deepEqual(o.unknown, { status: 404 });
});

test('docker-py containers.run returns the output with remove, auto_remove, a volume and stream; LogConfig json-file by default, an unknown driver 400', async () => {
  const o = await py('run');
  assert.equal(b64(o.remove), 'hello world\n');
  assert.equal(b64(o.auto_remove), 'hello world\n');
  assert.equal(b64(o.volumes), 'in-volume\n');
  assert.equal(b64(o.stream), 'one\ntwo\n');
  assert.equal(o.default_log_type, 'json-file');
  assert.equal(o.bogus_log_type.status, 400);
  assert.match(o.bogus_log_type.message, /no log driver named 'no-such-driver'/);
});

test("docker-py create: Env 'Foo' kept and unset, GroupAdd by name and id, MacAddress applied, DeviceCgroupRules open the device", async () => {
  const o = await py('create');
  assert.deepEqual(o.env_config.slice(-2), ['Foo', 'BAR=1']);
  assert.match(o.env_output, /^BAR=1$/m);
  assert.doesNotMatch(o.env_output, /^Foo/m);
  assert.match(o.env_output, /^0 4242 65534$/m, 'id -G: root, 4242 and nobody');
  assert.deepEqual(o.group_add, ['nobody', '4242']);
  assert.equal(o.mac_config, '02:42:0a:aa:bb:cc');
  assert.equal(o.mac_seen, '02:42:0a:aa:bb:cc');
  assert.match(o.device_closed, /Operation not permitted/);
  assert.match(o.device_rule, /No such device or address/, 'with the rule the kernel reaches the (absent) driver');
});

test('docker-py diff lists only what the container changed (no /etc); remove_container(link=True) drops a legacy link', async () => {
  const o = await py('diff_link');
  assert.deepEqual(o.diff, [
    { Path: '/made', Kind: 1 },
    { Path: '/made/file', Kind: 1 },
  ]);
  assert.equal(o.links_before.length, 1);
  assert.match(o.links_before[0], /^\/pyd\w+-diff:\/pyd\w+-child\/parent-alias$/, "docker's /target:/self/alias");
  assert.deepEqual(o.rm_link, { ok: null });
  assert.equal(o.links_after, null);
  assert.equal(o.child_alive, 'running');
  assert.equal(o.rm_missing_link.status, 404);
});

test('docker-py list filters: several labels are ANDed for containers, images, volumes and networks', async () => {
  const o = await py('filters');
  const p = `pyd${process.pid.toString(36)}`;
  assert.equal(o.containers_and.length, 1);
  assert.match(o.containers_and[0], new RegExp(`^${p}\\d+-a$`));
  assert.equal(o.containers_one.length, 2);
  assert.match(o.volumes_and.join(), new RegExp(`^${p}\\d+-a$`));
  assert.match(o.networks_and.join(), new RegExp(`^${p}\\d+-a$`));
  assert.match(o.images_and.join(), new RegExp(`^${p}\\d+-a:1$`));
  assert.equal(o.images_one.length, 2);
});

test('docker-py images.load: a generator body (chunked) loads; a non-archive raises ImageLoadError', async () => {
  const o = await py('load');
  assert.ok(
    o.loaded_tags.some((t: string) => /-loaded:1$/.test(t)),
    JSON.stringify(o.loaded_tags),
  );
  assert.ok(o.bad_load.ImageLoadError, JSON.stringify(o.bad_load));
  assert.match(o.bad_load.ImageLoadError, /archive|tar|EOF|end of data/i);
});

test('docker-py networks: check_duplicate 409, bad Labels 400, host driver 403, aliases on create and connect, IPAMConfig on connect, LinkLocalIPs refused', async () => {
  const o = await py('networks');
  assert.equal(o.duplicate.status, 409);
  assert.match(o.duplicate.message, /already exists/);
  assert.equal(o.bad_labels.status, 400);
  assert.match(o.bad_labels.message, /cannot unmarshal array into Go struct field Labels/);
  assert.deepEqual(o.host_driver, { status: 403, message: 'only one instance of "host" network is allowed' });
  assert.equal(o.connect_ip, o.fixed);
  assert.deepEqual(o.connect_ipam, { IPv4Address: o.fixed });
  assert.ok(o.connect_aliases.includes('on-connect'), JSON.stringify(o.connect_aliases));
  assert.ok(o.peer_ips.includes(`${o.fixed}/24`), JSON.stringify(o.peer_ips));
  assert.equal(o.by_create_alias, 'served\n');
  assert.match(o.by_connect_alias, new RegExp(`64 bytes from ${o.fixed.replace(/\./g, '\\.')}`));
  assert.equal(o.link_local.status, 400);
  assert.match(o.link_local.message, /link-local addresses .* are not supported by cocon/);
});
