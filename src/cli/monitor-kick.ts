// Read-only commands do not need the monitor, but they notice when it is missing: if a pod
// the monitor supervises runs while no monitor does, they start one in the background (which
// re-adopts the pods), and go on without waiting for it.
import { readFileSync } from 'node:fs';
import type { StatePaths } from '../state/paths.js';
import type { PodRecord } from '../state/records.js';
import { isRunning } from '../native/identity.js';

/** Whether the monitor that last wrote monitor.json runs: one read of /proc, no connection. */
function monitorRunning(paths: StatePaths): boolean {
  try {
    return isRunning(JSON.parse(readFileSync(paths.monitorFile, 'utf8')) as { pid: number; startTime: string });
  } catch {
    return false;
  }
}

export function kickMonitor(paths: StatePaths, records: PodRecord[]): void {
  if (!records.some((r) => r.supervisor.kind === 'monitor' && r.state === 'running')) return;
  // The launcher (and the addon it loads) only when a monitor is to be started.
  if (!monitorRunning(paths)) (require('../monitor/launch.js') as typeof import('../monitor/launch.js')).spawnMonitor(paths);
}
