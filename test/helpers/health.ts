// Healthcheck helpers for the tests that drive checks through the docker CLI: State.Health as
// inspect shows it, and a `sleep 300` busybox container with a 1 s check that fails at the first miss.
import assert from 'node:assert/strict';
import { docker, type Daemon } from './daemon.js';

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}
export interface HealthJson {
  Status: string;
  FailingStreak: number;
  Log: HealthLogEntry[];
}

/** The container's State.Health (null when it has no check). */
export async function health(d: Daemon, name: string): Promise<HealthJson | null> {
  const r = await docker(d, ['inspect', '-f', '{{json .State.Health}}', name]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as HealthJson | null;
}

/** `docker run -d` of busybox `sleep 300` with `--health-cmd cmd`, interval 1s, retries 1 and `timeout`. */
export async function runWithCheck(
  d: Daemon,
  name: string,
  cmd: string,
  o: { extra?: string[]; timeout?: string } = {},
): Promise<void> {
  const r = await docker(d, [
    'run',
    '-d',
    '--name',
    name,
    ...(o.extra ?? []),
    '--health-cmd',
    cmd,
    '--health-interval',
    '1s',
    '--health-timeout',
    o.timeout ?? '2s',
    '--health-retries',
    '1',
    'busybox',
    'sleep',
    '300',
  ]);
  assert.equal(r.code, 0, r.stderr);
}
