// The health monitor: runs each running container's healthcheck (docker's HEALTHCHECK, or
// --health-cmd and friends) on a timer and records the results in State.Health. One timer serves
// every container: due times sit in one queue, aligned to a grid (./healthschedule.ts) so that one
// wakeup starts the probes of several containers.
//
// Lifecycle: a container 'start' event begins monitoring (Health = starting, first probe after one
// interval, or the start interval inside the start period); 'die' and 'destroy' end it; resume()
// picks up the running containers after a daemon restart. A probe is an exec in the container
// (ExecService.probe: forked by the container's probe runner, a shell started once with `runc
// exec -d` of the container's own process, see runtime/proberunner.ts; or one `runc exec` of its
// own), awaited asynchronously: a slow or hung check never blocks the daemon, and a probe past its
// timeout is killed. Ending a container's monitor ends its probe runner. Paused containers are not probed. Rules are
// pure, in ./healthcheck.ts.
import type { EngineEvent, EventBus } from '../core/events.js';
import { log } from '../core/log.js';
import { applyProbe, healthTimings, initialHealth, nextDelay, probeCommand, type Health } from './healthcheck.js';
import type { ContainerRecord } from './types.js';
import { nowNano } from './config.js';
import { alignDue, DueQueue, probeGrid } from './healthschedule.js';

/** What the monitor needs of the containers service. */
export interface HealthTarget {
  tryLookup(ref: string): ContainerRecord | null;
  all(): ContainerRecord[];
  /** Stores the container's Health; a changed Status is published as `health_status: <status>`. */
  setHealth(id: string, health: Health, changed: boolean): void;
}

/** Runs one probe (ExecService.probe). */
export interface Prober {
  probe(containerId: string, argv: string[], timeoutMs: number): Promise<{ exitCode: number; output: string }>;
  /** Ends what the prober keeps for the container between probes (its probe runner). */
  releaseProbes(containerId: string): void;
}

interface Monitor {
  startedAtMs: number;
  stopped: boolean;
}

/** The monotonic clock the queue runs on (ms). */
const clock = () => performance.now();

export class HealthMonitor {
  private monitors = new Map<string, Monitor>();
  /** When each monitored container's next probe runs (./healthschedule.ts): one timer for all. */
  private readonly queue = new DueQueue<string>();
  private timer: NodeJS.Timeout | null = null;
  /** The queue instant the timer is armed for. */
  private armedFor = Number.POSITIVE_INFINITY;
  private readonly onEvent = (e: EngineEvent) => {
    if (e.Type !== 'container') return;
    if (e.Action === 'start') this.begin(e.Actor.ID, true);
    else if (e.Action === 'die' || e.Action === 'destroy') this.end(e.Actor.ID);
  };

  constructor(
    private readonly containers: HealthTarget,
    private readonly prober: Prober,
    private readonly events: EventBus,
  ) {
    events.on('event', this.onEvent);
  }

  /** After a daemon restart: monitors the running containers again, keeping their Health. */
  resume(): void {
    for (const r of this.containers.all()) if (r.state.Running) this.begin(r.id, false);
  }

  /** How many containers are being checked (for tests and info). */
  get size(): number {
    return this.monitors.size;
  }

  private begin(id: string, fresh: boolean): void {
    this.end(id);
    const r = this.containers.tryLookup(id);
    const argv = probeCommand(r?.config.Healthcheck);
    if (!r || !argv) return;
    const m: Monitor = { startedAtMs: Date.parse(r.state.StartedAt), stopped: false };
    this.monitors.set(id, m);
    const health = fresh || !r.state.Health ? initialHealth(r.state.Health) : r.state.Health;
    if (fresh || !r.state.Health) this.containers.setHealth(id, health, false);
    this.schedule(id, m, health);
  }

  private end(id: string): void {
    const m = this.monitors.get(id);
    if (!m) return;
    m.stopped = true;
    this.queue.delete(id);
    this.monitors.delete(id);
    this.prober.releaseProbes(id);
    this.arm();
  }

  private schedule(id: string, m: Monitor, h: Health): void {
    const r = this.containers.tryLookup(id);
    if (!r?.config.Healthcheck || m.stopped) return;
    const t = healthTimings(r.config.Healthcheck);
    const delay = nextDelay(t, h.Status, Date.now() - m.startedAtMs);
    const now = clock();
    this.queue.set(id, alignDue(now + delay, probeGrid(delay), now));
    this.arm();
  }

  /** (Re)arms the one timer for the earliest due probe. */
  private arm(): void {
    const next = this.queue.next();
    if (next === this.armedFor) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.armedFor = Number.POSITIVE_INFINITY;
    if (next === undefined) return;
    this.armedFor = next;
    this.timer = setTimeout(() => this.fire(), Math.max(0, Math.ceil(next - clock())));
    this.timer.unref();
  }

  /** Starts every probe that is due (those on the same grid instant together). */
  private fire(): void {
    this.timer = null;
    this.armedFor = Number.POSITIVE_INFINITY;
    // a timer may fire up to a millisecond early on this clock
    for (const id of this.queue.takeDue(clock() + 1)) {
      const m = this.monitors.get(id);
      if (m) void this.runProbe(id, m);
    }
    this.arm();
  }

  private async runProbe(id: string, m: Monitor): Promise<void> {
    const r = this.containers.tryLookup(id);
    if (!r || m.stopped || !r.state.Running) return;
    const hc = r.config.Healthcheck;
    const argv = probeCommand(hc);
    if (!hc || !argv) return;
    const t = healthTimings(hc);
    if (r.state.Paused) {
      this.schedule(id, m, r.state.Health ?? initialHealth());
      return;
    }
    const start = nowNano();
    let result: { exitCode: number; output: string };
    try {
      result = await this.prober.probe(id, argv, t.timeoutMs);
    } catch (e) {
      result = { exitCode: -1, output: e instanceof Error ? e.message : String(e) };
    }
    const cur = this.containers.tryLookup(id);
    if (m.stopped || !cur || !cur.state.Running) return;
    const before = cur.state.Health ?? initialHealth();
    const after = applyProbe(
      before,
      { Start: start, End: nowNano(), ExitCode: result.exitCode, Output: result.output },
      { retries: t.retries, startPeriodMs: t.startPeriodMs, startedAtMs: m.startedAtMs },
    );
    try {
      this.containers.setHealth(id, after, after.Status !== before.Status);
    } catch (e) {
      log.warn('health result not stored', { id, error: e instanceof Error ? e.message : String(e) });
    }
    this.schedule(id, m, after);
  }

  shutdown(): void {
    this.events.off('event', this.onEvent);
    for (const id of [...this.monitors.keys()]) this.end(id);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
