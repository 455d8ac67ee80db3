// Records as they are now: a record says what its supervisor last wrote, and a supervisor that
// died cannot write again. Commands that only read check each "running" process against
// /proc (pid and start time) before they show it.
import { isRunning } from '../runtime/process.js';
import type { PodRecord } from './records.js';

/** A copy of the record in which processes that are gone are no longer shown running. */
export function observed(record: PodRecord): PodRecord {
  const supervised = isRunning(record.supervisor);
  const infraUp = record.infra !== undefined && isRunning(record.infra.process);
  const out: PodRecord = {
    ...record,
    containers: record.containers.map((c) =>
      c.state === 'running' && !(c.process && isRunning(c.process))
        ? { ...c, state: 'exited', process: undefined, lastExit: { code: null, signal: null, unknown: true, at: new Date().toISOString() } }
        : c,
    ),
  };
  if ((record.state === 'running' || record.state === 'creating') && !infraUp && !supervised) {
    out.state = 'failed';
    out.reason = record.infra ? `its infra process (pid ${record.infra.process.pid}) is gone` : 'its creation was cut short';
  }
  return out;
}

/** True when the pod is supervised by a live foreground tspod run. */
export function inForeground(record: PodRecord): boolean {
  return record.supervisor.kind === 'foreground' && isRunning(record.supervisor);
}

/**
 * A pod whose supervisor died before it could clean up: one run in the foreground (killed
 * with SIGKILL, its processes died with it), or one whose creation was cut short. Its name may
 * be taken again.
 */
export function isStale(record: PodRecord): boolean {
  return (record.supervisor.kind === 'foreground' || record.state === 'creating') && !isRunning(record.supervisor);
}
