// Network benchmark: TCP throughput container-to-container (default bridge), host-to-published-port
// (127.0.0.1, DNAT, no userland proxy), the host's own loopback and the veth line rate (two bare
// namespaces joined by one veth pair, no bridge, no nft), in one run with one tool; and the time the
// default bridge adds to a container start compared with --network none.
//
//   node dist/bench/network-bench.js [--write] [--gib N] [--runs N] [--tries N] [--setup-only]
//
// --setup-only: only the per-container setup step, before (a new namespace and veth) and now (a warm
// sandbox from src/network/pool.ts whose waiting `ip -batch` gets its lines), and the same on a
// dual-stack network (the IPv6 address, announced, and its route too), side by side on one hub, without a daemon.
//
// The same small Node program is the sender and the receiver everywhere: in the host namespace for
// loopback, and inside the containers' network namespaces (nsenter --net=<SandboxKey>) for the
// container paths, so the figures compare the data paths and not the tools. Besides the rate, the CPU
// time the sender and the receiver spent per GiB (with the kernel work charged to them) is reported:
// on a shared, loaded machine the rate mostly measures the other load, the CPU cost much less so.
// --write appends a section to bench/RESULTS.md.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cpus, release, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { startDaemon, bootstrapBusybox, REPO, sleep, type Daemon } from '../test/helpers/daemon.js';
import { createHub, deleteNetns, setupNetns } from '../src/sys/net.js';
import { addressLines, endpointLines, hostDeviceLines, hubLines, hubPortLines } from '../src/network/rules.js';
import { SandboxPool } from '../src/network/pool.js';
import { createBody } from '../test/helpers/containers.js';

const SELF = fileURLToPath(import.meta.url);

// ---- the sender and receiver ----------------------------------------------------------------------

function sink(port: number): void {
  const srv = createServer((s) => {
    s.on('data', () => {});
    s.on('end', () => s.end());
  });
  srv.listen(port, '0.0.0.0', () => process.stdout.write('ready\n'));
}

function source(host: string, port: number, bytes: number): void {
  const chunk = Buffer.alloc(256 * 1024);
  const t0 = process.hrtime.bigint();
  const s = connect({ host, port }, () => {
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        left -= chunk.length;
        if (!s.write(chunk)) {
          s.once('drain', pump);
          return;
        }
      }
      s.end();
    };
    pump();
  });
  s.on('data', () => {});
  s.on('close', () => {
    const ns = Number(process.hrtime.bigint() - t0);
    const cpu = process.cpuUsage();
    process.stdout.write(
      JSON.stringify({ bytes, ms: ns / 1e6, MBps: bytes / 1e6 / (ns / 1e9), cpuMs: (cpu.user + cpu.system) / 1000 }) +
        '\n',
    );
  });
  s.on('error', (e) => {
    process.stderr.write(`source: ${e.message}\n`);
    process.exit(1);
  });
}

// ---- harness --------------------------------------------------------------------------------------

function inNetns(netns: string | null, args: string[]): string[] {
  return netns ? ['nsenter', `--net=${netns}`, process.execPath, SELF, ...args] : [process.execPath, SELF, ...args];
}

async function startSink(netns: string | null, port: number): Promise<ChildProcess> {
  const [cmd, ...args] = inNetns(netns, ['sink', String(port)]);
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((res, rej) => {
    p.stdout!.on('data', (b: Buffer) => {
      if (b.toString().includes('ready')) res();
    });
    p.once('exit', (c) => rej(new Error(`sink exited ${c}`)));
  });
  return p;
}

/** CPU time (user + system, ms) a process used so far, from /proc (the sink: nsenter execs node, same pid). */
function cpuMsOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
}

/**
 * One transfer to the sink `sink` listens on: its rate, and the CPU the sender and the receiver
 * spent per GiB (their own time plus the kernel work charged to them: a load-robust figure of the
 * path's cost, where the rate on a shared machine is mostly the other load's).
 */
function runSource(
  netns: string | null,
  host: string,
  port: number,
  bytes: number,
  sink: ChildProcess,
): { MBps: number; cpuPerGiB: number } {
  const [cmd, ...args] = inNetns(netns, ['source', host, String(port), String(bytes)]);
  const before = cpuMsOf(sink.pid!);
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`source ${host}:${port}: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim()) as { MBps: number; cpuMs: number };
  return { MBps: out.MBps, cpuPerGiB: ((out.cpuMs + cpuMsOf(sink.pid!) - before) * 2 ** 30) / bytes };
}

async function api(
  d: Daemon,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: { Id?: string; NetworkSettings?: { SandboxKey: string; IPAddress: string } } }> {
  const r = await d.api(method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
  return r;
}

async function runOnce(d: Daemon, network: string): Promise<number> {
  const t0 = performance.now();
  const c = await api(
    d,
    'POST',
    '/containers/create',
    createBody({ cmd: ['true'], hostConfig: { NetworkMode: network } }),
  );
  await api(d, 'POST', `/containers/${c.json.Id}/start`);
  await api(d, 'POST', `/containers/${c.json.Id}/wait`);
  await api(d, 'DELETE', `/containers/${c.json.Id}`);
  return performance.now() - t0;
}

/**
 * The per-container setup alone (namespace, veth into a hub, address, default route, hub port), the
 * way cocon did it before the pool (one helper-shell job that makes a new namespace and veth) and the
 * way it does now (a sandbox taken from the warm pool, src/network/pool.ts, whose waiting `ip -batch`
 * gets the address lines), alternating, on one hub. The pool refills between runs, off the timed path, as it does
 * while a container runs. Every namespace made is unmounted in `finally` (also on SIGINT/SIGTERM).
 */
async function setupCompare(
  runs: number,
  tag: number,
): Promise<{ fresh: number[]; pooled: number[]; pooled6: number[] }> {
  const dir = mkdtempSync('/tmp/cocon-netsetup-');
  const hub = join(dir, 'hub');
  const dev = `cbs${process.pid.toString(36)}`;
  const made: string[] = [];
  const pool = new SandboxPool(dir, 1, 1);
  const spec = { key: 'bench', hub };
  const out = { fresh: [] as number[], pooled: [] as number[], pooled6: [] as number[] };
  const cleanup = async () => {
    await pool.close();
    for (const ns of made) await deleteNetns(ns).catch(() => undefined);
    spawnSync('ip', ['link', 'del', dev]);
    await deleteNetns(hub).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  // a signal ends the loop at the next step; `finally` unmounts, then the process exits
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted = sig;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // the hub's host end carries a documentation-range IPv6 gateway (gone with the device)
    await createHub(
      hub,
      dev,
      hubLines(dev, process.pid),
      hostDeviceLines(dev, `10.${tag}.95.1/24`, 'cocon:bench', `fd00:db8:${tag}::1/64`),
      true,
    );
    for (let i = 0; i < runs + 2 && !interrupted; i++) {
      // the two pooled modes swap places every run: the one right after a take shares the machine with its refill
      const order = i % 2 ? (['fresh', 'pooled6', 'pooled'] as const) : (['fresh', 'pooled', 'pooled6'] as const);
      for (const mode of order) {
        const addr = {
          ifname: 'eth0',
          mac: '02:42:0a:00:00:02',
          cidr: `10.${tag}.95.${i + 2 + (mode === 'pooled' ? 100 : mode === 'pooled6' ? 200 : 0)}/24`,
          gateway: `10.${tag}.95.1`,
          ...(mode === 'pooled6' ? { cidr6: `fd00:db8:${tag}::${i + 2}/64`, gateway6: `fd00:db8:${tag}::1` } : {}),
        };
        let ms: number;
        if (mode === 'fresh') {
          const ns = join(dir, `c${i}`);
          const peer = `vf${i}`;
          made.push(ns);
          const t0 = performance.now();
          await setupNetns(
            ns,
            ['link set lo up', ...endpointLines({ ...addr, peer, hub })],
            [{ netns: hub, lines: hubPortLines(peer) }],
          );
          ms = performance.now() - t0;
        } else {
          pool.warm(spec);
          await pool.settled(spec.key);
          const t0 = performance.now();
          const sb = pool.take(spec);
          if (!sb) throw new Error('the pool made no sandbox');
          made.push(sb.path);
          await sb.batch.run(addressLines(addr));
          ms = performance.now() - t0;
        }
        if (i >= 2) out[mode].push(ms); // two warm-ups
        await deleteNetns(made.pop()!);
      }
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await cleanup();
  }
  if (interrupted) process.exit(interrupted === 'SIGINT' ? 130 : 143);
  return out;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const best = (xs: number[]) => Math.max(...xs);

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (n: string, dflt: number) => {
    const i = argv.indexOf(n);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  const bytes = Math.round(opt('--gib', 1) * 2 ** 30);
  const runs = opt('--runs', 15);
  const tries = opt('--tries', 3);
  if (!process.env.COCON_TEST_TMP) {
    const tmp = mkdtempSync('/tmp/cocon-netbench-');
    process.env.COCON_TEST_TMP = tmp;
    process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
  }
  const tag = (process.pid % 200) + 20;
  const setup = await setupCompare(runs, tag);
  const ms1 = (x: number) => `${x.toFixed(1)} ms`;
  const setupText = [
    `| per-container setup alone: netns + veth into the hub + address + route + hub port (${runs} runs each, alternating) | median | min |`,
    '|---|---|---|',
    `| before: a new namespace and veth per container (one helper-shell job: \`unshare ip -batch\`, \`nsenter ip -batch\` in the hub) | ${ms1(median(setup.fresh))} | ${ms1(Math.min(...setup.fresh))} |`,
    `| now: a warm sandbox from the pool (src/network/pool.ts), whose waiting \`ip -batch\` gets the lines (MAC, address, up, route) | **${ms1(median(setup.pooled))}** | ${ms1(Math.min(...setup.pooled))} |`,
    `| ratio now / before | ${(median(setup.pooled) / median(setup.fresh)).toFixed(2)} | |`,
    `| now, dual stack (IPv6 network): the same plus the IPv6 address (announced, no DAD) and its default route (the two pooled rows swap order every run) | **${ms1(median(setup.pooled6))}** | ${ms1(Math.min(...setup.pooled6))} |`,
    '',
    'Target: under 15 ms per container.',
    '',
  ].join('\n');
  if (argv.includes('--setup-only')) {
    const text = [
      `## Network setup — ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
      '',
      `Machine: ${cpus().length} x ${cpus()[0]?.model.split(' ').slice(0, 2).join(' ')}, Linux ${release()}, Node ${process.version}; \`node dist/bench/network-bench.js --setup-only --write\`. Load average at the end: ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')} (shared machine).`,
      '',
      setupText,
      '',
    ].join('\n');
    process.stdout.write(text);
    if (argv.includes('--write')) appendFileSync(join(REPO, 'bench/RESULTS.md'), '\n' + text);
    return;
  }
  const d = await startDaemon({
    args: ['--log-level', 'debug', '--bridge', `cbn${process.pid.toString(36)}`, '--bip', `10.${tag}.94.1/24`],
  });
  const dataRoot = d.dataRoot;
  const sinks: ChildProcess[] = [];
  const vethNs: string[] = [];
  try {
    await bootstrapBusybox(d);
    const port = 30000 + (process.pid % 20000);
    // containers: a receiver (publishing its port) and a sender, both idle busybox processes
    const mk = async (hostConfig: Record<string, unknown>) => {
      const c = await api(d, 'POST', '/containers/create', createBody({ cmd: ['sleep', '3600'], hostConfig }));
      await api(d, 'POST', `/containers/${c.json.Id}/start`);
      return (await api(d, 'GET', `/containers/${c.json.Id}/json`)).json.NetworkSettings!;
    };
    // the veth line rate: two bare namespaces, one veth pair between them, same MTU (1500) and offloads as a container's eth0
    const vdir = mkdtempSync('/tmp/cocon-netbench-veth-');
    const va = join(vdir, 'a');
    const vb = join(vdir, 'b');
    vethNs.push(va, vb);
    await setupNetns(vb, ['link set lo up'], []);
    await setupNetns(
      va,
      [
        'link set lo up',
        `link add name va type veth peer name vb netns ${vb}`,
        `addr add 10.${tag}.93.1/24 dev va`,
        'link set va up',
      ],
      [{ netns: vb, lines: [`addr add 10.${tag}.93.2/24 dev vb`, 'link set vb up'] }],
    );
    const vethSink = await startSink(vb, 5002);
    sinks.push(vethSink);
    const rx = await mk({ PortBindings: { '5001/tcp': [{ HostIp: '', HostPort: String(port) }] } });
    const tx = await mk({});
    const rxSink = await startSink(rx.SandboxKey, 5001);
    const hostSink = await startSink(null, port + 1);
    sinks.push(rxSink, hostSink);
    type R = { MBps: number; cpuPerGiB: number };
    const loop: R[] = [];
    const pub: R[] = [];
    const c2c: R[] = [];
    const direct: R[] = [];
    const veth: R[] = [];
    for (let i = 0; i < tries; i++) {
      veth.push(runSource(va, `10.${tag}.93.2`, 5002, bytes, vethSink));
      loop.push(runSource(null, '127.0.0.1', port + 1, bytes, hostSink));
      pub.push(runSource(null, '127.0.0.1', port, bytes, rxSink));
      c2c.push(runSource(tx.SandboxKey, rx.IPAddress, 5001, bytes, rxSink));
      direct.push(runSource(null, rx.IPAddress, 5001, bytes, rxSink));
    }
    for (const s of sinks) s.kill();
    // start overhead: alternate none / default, after warm-ups
    for (let i = 0; i < 3; i++) {
      await runOnce(d, 'none');
      await runOnce(d, 'default');
    }
    const none: number[] = [];
    const bridge: number[] = [];
    for (let i = 0; i < runs; i++) {
      none.push(await runOnce(d, 'none'));
      bridge.push(await runOnce(d, 'default'));
    }
    // the network's own share of a start, as the daemon timed it (connect: namespace, veth, address, route, files)
    const connects = d
      .log()
      .split('\n')
      .filter((l) => l.includes('"network: connected"'))
      .map((l) => (JSON.parse(l) as { ms: number }).ms)
      .slice(-runs);
    const res = {
      connect: median(connects),
      connectMin: Math.min(...connects),
      loopback: best(loop.map((r) => r.MBps)),
      published: best(pub.map((r) => r.MBps)),
      c2c: best(c2c.map((r) => r.MBps)),
      direct: best(direct.map((r) => r.MBps)),
      veth: best(veth.map((r) => r.MBps)),
      cpu: {
        loopback: Math.min(...loop.map((r) => r.cpuPerGiB)),
        published: Math.min(...pub.map((r) => r.cpuPerGiB)),
        c2c: Math.min(...c2c.map((r) => r.cpuPerGiB)),
        direct: Math.min(...direct.map((r) => r.cpuPerGiB)),
        veth: Math.min(...veth.map((r) => r.cpuPerGiB)),
      },
      none: median(none),
      bridge: median(bridge),
      noneMin: Math.min(...none),
      bridgeMin: Math.min(...bridge),
    };
    const f = (x: number) => `${x.toFixed(0)} MB/s`;
    const c = (x: number) => `${x.toFixed(0)} ms`;
    const pc = (a: number, b: number) => `${((100 * a) / b).toFixed(0)}%`;
    const ms = (x: number) => `${x.toFixed(1)} ms`;
    const text = [
      `## Networks — ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
      '',
      `Machine: ${cpus().length} x ${cpus()[0]?.model.split(' ').slice(0, 2).join(' ')}, Linux ${release()}, Node ${process.version}; produced by \`node dist/bench/network-bench.js --write\` (bench/network-bench.ts). ` +
        `One Node sender/receiver pair everywhere (inside the containers' namespaces through nsenter), ${(bytes / 2 ** 30).toFixed(1)} GiB per transfer, best of ${tries}.`,
      '',
      '| TCP throughput | MB/s | vs loopback | CPU per GiB, sender + receiver (best) |',
      '|---|---|---|---|',
      `| host loopback 127.0.0.1 -> 127.0.0.1 | ${f(res.loopback)} | 100% | ${c(res.cpu.loopback)} |`,
      `| host -> published port 127.0.0.1:${port} (nftables DNAT, no proxy) -> container | ${f(res.published)} | ${pc(res.published, res.loopback)} | ${c(res.cpu.published)} |`,
      `| container -> container, default bridge | ${f(res.c2c)} | ${pc(res.c2c, res.loopback)} | ${c(res.cpu.c2c)} |`,
      `| (reference) host -> the container's address, routed, no NAT | ${f(res.direct)} | ${pc(res.direct, res.loopback)} | ${c(res.cpu.direct)} |`,
      `| (reference) veth line rate: namespace -> namespace over one bare veth pair | ${f(res.veth)} | ${pc(res.veth, res.loopback)} | ${c(res.cpu.veth)} |`,
      '',
      `Published port / loopback: **${pc(res.published, res.loopback)}** by rate, **${pc(res.cpu.loopback, res.cpu.published)}** by CPU cost (loopback's CPU per GiB / the path's) (target >= 90%). ` +
        `Container -> container / veth line rate: **${pc(res.c2c, res.veth)}** by rate, **${pc(res.cpu.veth, res.cpu.c2c)}** by CPU cost (target >= 90%).`,
      '',
      `| container start, API create+start+wait+delete of \`true\` (${runs} runs each, alternating) | median | min |`,
      '|---|---|---|',
      `| --network none | ${ms(res.none)} | ${ms(res.noneMin)} |`,
      `| default bridge (netns, veth, address, route, hosts/resolv.conf) | ${ms(res.bridge)} | ${ms(res.bridgeMin)} |`,
      `| added by the bridge, end to end (difference of the two rows above) | ${ms(res.bridge - res.none)} | ${ms(res.bridgeMin - res.noneMin)} |`,
      `| **the bridge's connect step as the daemon timed it** (addresses, ports, then netns + veth + address + route + hub port in one helper-shell job; teardown runs in the background) | **${ms(res.connect)}** | ${ms(res.connectMin)} |`,
      '',
      setupText,
      `Load average during the run: ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')} (other test suites share this machine; end-to-end figures are noisy).`,
      '',
      'Target: per-container network setup under 15 ms.',
      '',
      '',
    ].join('\n');
    process.stdout.write(text);
    if (argv.includes('--write')) appendFileSync(join(REPO, 'bench/RESULTS.md'), '\n' + text);
  } finally {
    for (const s of sinks) s.kill();
    for (const ns of vethNs) await deleteNetns(ns).catch(() => undefined);
    if (vethNs[0]) rmSync(dirname(vethNs[0]), { recursive: true, force: true });
    await d.stop().catch((e: Error) => process.stderr.write(`${e.message}\n`));
    spawnSync('nft', [
      'delete',
      'table',
      'ip',
      `cocon_${createHash('sha256').update(dataRoot).digest('hex').slice(0, 8)}`,
    ]);
    await sleep(10);
  }
}

const mode = process.argv[2];
if (mode === 'sink') sink(Number(process.argv[3]));
else if (mode === 'source') source(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
else
  main().catch((e: Error) => {
    process.stderr.write(`${e.stack ?? e.message}\n`);
    process.exit(1);
  });
