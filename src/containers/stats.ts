// Container resource statistics (docker stats): samples of a running container's cgroup, the
// host's CPU time and the container's network namespace, turned into docker's JSON by
// runtime/stats.ts. CPU percentages need two samples: the last sample of each container is kept,
// so a one-shot answer (stream=0) uses it when it is recent enough and otherwise takes a second
// sample a short interval after the first (dockerd always waits for its 1 s collector tick).
//
// Contract:
//   once(ref)            -> one StatsJSON with precpu filled (stream=0); zeroes for a stopped container
//   oneShot(ref)         -> one StatsJSON without precpu (one-shot=1), immediately
//   stream(ref, emit, gone) -> a frame every second until stop() or the container's removal (stream=1)
// NotFound for an unknown container (from ContainerService.lookup).
import os from 'node:os';
import type { ContainerRecord } from './types.js';
import { nowNano } from './config.js';
import { netDev, procStat, readCgroup } from '../sys/cgroups.js';
import { dockerStats, emptyStats, type Sample, type StatsJSON } from '../runtime/stats.js';

export interface StatsSource {
  lookup(ref: string): ContainerRecord;
  tryLookup(ref: string): ContainerRecord | null;
}

/** A previous sample younger than this serves as precpu for a one-shot answer. */
const REUSE_MAX_MS = 5000;
/** ...and older than this (a shorter window gives a noisy CPU %). */
const REUSE_MIN_MS = 200;
/** The wait between two samples when there is no usable previous one. */
const SECOND_SAMPLE_MS = 250;
/** dockerd's collector interval: one frame a second when streaming. */
export const STREAM_INTERVAL_MS = 1000;

export class StatsService {
  private last = new Map<string, { at: number; sample: Sample }>();
  /** online CPUs (os.cpus() reads /proc/cpuinfo: once, not per answer) */
  private readonly ncpu = os.cpus().length;

  constructor(private readonly containers: StatsSource) {}

  private running(r: ContainerRecord): boolean {
    return r.state.Running && r.state.Status !== 'restarting';
  }

  /** Reads the container now; null when its cgroup is gone. */
  private sample(r: ContainerRecord): Sample | null {
    const cg = readCgroup(`/cocon/${r.id}`);
    if (!cg) return null;
    const s: Sample = {
      time: nowNano(),
      cgroup: cg,
      procStat: procStat(),
      netDev: r.hostConfig.NetworkMode === 'host' ? null : netDev(r.state.Pid),
    };
    this.last.set(r.id, { at: Date.now(), sample: s });
    if (this.last.size > 4096) this.prune();
    return s;
  }

  private prune(): void {
    for (const id of this.last.keys()) if (!this.containers.tryLookup(id)) this.last.delete(id);
  }

  private json(r: ContainerRecord, cur: Sample, pre: Sample | null): StatsJSON {
    return dockerStats({ id: r.id, name: '/' + r.name, cur, pre, memTotal: os.totalmem(), onlineCpus: this.ncpu });
  }

  private recent(id: string): Sample | null {
    const l = this.last.get(id);
    if (!l) return null;
    const age = Date.now() - l.at;
    return age >= REUSE_MIN_MS && age <= REUSE_MAX_MS ? l.sample : null;
  }

  async once(ref: string): Promise<StatsJSON> {
    const r = this.containers.lookup(ref);
    if (!this.running(r)) return emptyStats(r.id, '/' + r.name);
    let pre = this.recent(r.id);
    if (!pre) {
      pre = this.sample(r);
      if (!pre) return emptyStats(r.id, '/' + r.name);
      await new Promise((res) => setTimeout(res, SECOND_SAMPLE_MS));
    }
    const cur = this.sample(r);
    return cur ? this.json(r, cur, pre) : emptyStats(r.id, '/' + r.name);
  }

  oneShot(ref: string): StatsJSON {
    const r = this.containers.lookup(ref);
    const cur = this.running(r) ? this.sample(r) : null;
    return cur ? this.json(r, cur, null) : emptyStats(r.id, '/' + r.name);
  }

  /**
   * Emits a frame now and then every second while the container runs (none while it is stopped,
   * as dockerd); the first frame's precpu is the last sample when recent, else zeroes. gone() is
   * called once when the container is removed. Returns stop().
   */
  stream(ref: string, emit: (s: StatsJSON) => void, gone: () => void): () => void {
    const id = this.containers.lookup(ref).id;
    let pre: Sample | null = this.recent(id);
    const tick = () => {
      const r = this.containers.tryLookup(id);
      if (!r) {
        clearInterval(t);
        gone();
        return;
      }
      if (!this.running(r)) {
        pre = null;
        return;
      }
      const cur = this.sample(r);
      if (!cur) return;
      emit(this.json(r, cur, pre));
      pre = cur;
    };
    const t = setInterval(tick, STREAM_INTERVAL_MS);
    tick();
    return () => clearInterval(t);
  }
}
