// What a writable-layer quota (--storage-opt size=, a loop-mounted sparse ext4 image per container)
// costs: (1) making the image with several mkfs.ext4 option sets, at several sizes (truncate + mkfs,
// then mount + umount); (2) POST /containers/create and DELETE /containers/{id} of a plain container
// against one with size=64m and size=1g, on one daemon. Needs root; after a build:
//   node dist/bench/quota-bench.js [N]
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, bootstrapBusybox, run } from '../test/helpers/daemon.js';
import { EXT4_LAYER_OPTIONS } from '../src/sys/loopimage.js';

const N = Number(process.argv[2] ?? 30);

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], p90: s[Math.floor(s.length * 0.9)] };
};
const fmt = (xs: number[]) => {
  const { median, p90 } = stats(xs);
  return `median ${median.toFixed(1)} ms, p90 ${p90.toFixed(1)} ms`;
};

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

async function mkfsBench(): Promise<void> {
  const dir = mkdtempSync('/tmp/cocon-quota-bench-');
  try {
    const variants: Array<[string, string[]]> = [
      ['mkfs.ext4 defaults (journal)', ['-q', '-F']],
      ['-m 0 -O ^has_journal', ['-q', '-F', '-m', '0', '-O', '^has_journal']],
      ['cocon: ' + EXT4_LAYER_OPTIONS.slice(2).join(' '), EXT4_LAYER_OPTIONS],
    ];
    for (const size of ['64M', '1G', '10G']) {
      for (const [label, opts] of variants) {
        const make: number[] = [];
        const mnt: number[] = [];
        let used = '';
        for (let i = 0; i < 5; i++) {
          const img = join(dir, `x${i}.img`);
          const mp = join(dir, `m${i}`);
          make.push(
            await timed(async () => {
              await run('truncate', ['-s', size, img]);
              const r = await run('mkfs.ext4', [...opts, img]);
              if (r.code !== 0) throw new Error(r.stderr);
            }),
          );
          await run('mkdir', ['-p', mp]);
          mnt.push(
            await timed(async () => {
              await run('e2fsck', ['-p', img]);
              await run('mount', ['-o', 'loop,discard', img, mp]);
            }),
          );
          const df = await run('df', ['-B1', '--output=size,avail', mp]);
          used = `${(await run('du', ['-k', img])).stdout.split('\t')[0]} KiB on the host; df ${df.stdout.split('\n')[1]?.trim()}`;
          await run('umount', [mp]);
          rmSync(img);
        }
        console.log(`${size} ${label}: make ${fmt(make)}; fsck+mount ${fmt(mnt)}; ${used}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function createBench(): Promise<void> {
  const d = await startDaemon();
  try {
    await bootstrapBusybox(d);
    for (const [label, opt] of [
      ['plain', undefined],
      ['size=64m', { size: '64m' }],
      ['size=1g', { size: '1g' }],
      ['plain (again)', undefined],
    ] as const) {
      const create: number[] = [];
      const remove: number[] = [];
      for (let i = 0; i < N; i++) {
        let id = '';
        create.push(
          await timed(async () => {
            const r = await d.api('POST', '/containers/create', {
              Image: 'busybox',
              Cmd: ['true'],
              HostConfig: { NetworkMode: 'none', ...(opt ? { StorageOpt: opt } : {}) },
            });
            if (r.status !== 201) throw new Error(r.body);
            id = r.json.Id;
          }),
        );
        remove.push(await timed(() => d.api('DELETE', `/containers/${id}`)));
      }
      console.log(`create ${label}: ${fmt(create)}; rm: ${fmt(remove)}  (N=${N})`);
    }
  } finally {
    await d.stop();
  }
}

await mkfsBench();
await createBench();
