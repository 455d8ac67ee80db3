// Read-only commands do not need the monitor, but they notice when it is missing: if a pod
// the monitor supervises runs while no monitor answers, they start one in the background
// (which re-adopts the pods), and go on without waiting for it.
import type { StatePaths } from '../state/paths.js';
import type { PodRecord } from '../state/records.js';
import { MonitorClient, spawnMonitor } from '../monitor/client.js';

export async function kickMonitor(paths: StatePaths, records: PodRecord[]): Promise<void> {
  if (!records.some((r) => r.supervisor.kind === 'monitor' && r.state === 'running')) return;
  const answered = await new MonitorClient(paths).listening();
  if (!answered && process.geteuid?.() === 0) spawnMonitor(paths);
}
