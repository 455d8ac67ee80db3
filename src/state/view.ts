// Records as they are now: a record says what its supervisor last wrote, and a supervisor that
// died cannot write again. A record whose supervisor is alive is current (the supervisor
// writes every change as it happens); the processes of one whose supervisor is gone are
// checked against /proc (pid and start time) before they are shown running.
import { isRunning, type ProcessId } from '../native/identity.js';
import type { ContainerRecord, PodRecord } from './records.js';

/**
 * The records as they are now. Each supervisor is looked up once: 500 pods of one monitor
 * cost one read of /proc, not 1,500 (24 ms of `tspod ps` here).
 */
export function observedAll(records: PodRecord[]): PodRecord[] {
  const alive = new Map<string, boolean>();
  const running = (p: ProcessId) => {
    const key = `${p.pid} ${p.startTime}`;
    let up = alive.get(key);
    if (up === undefined) alive.set(key, (up = isRunning(p)));
    return up;
  };
  return records.map((r) => (running(r.supervisor) ? r : unsupervised(r)));
}

export function observed(record: PodRecord): PodRecord {
  return observedAll([record])[0];
}

/** A container whose process ended unseen: exited, with an unknown status (never invented). */
export function exitedUnseen(c: ContainerRecord, at: string): ContainerRecord {
  return { ...c, state: 'exited', process: undefined, lastExit: { code: null, signal: null, unknown: true, at } };
}

/** A copy of a record whose supervisor is gone, in which gone processes are not running. */
function unsupervised(record: PodRecord): PodRecord {
  const infraUp = record.infra !== undefined && isRunning(record.infra.process);
  const out: PodRecord = {
    ...record,
    containers: record.containers.map((c) =>
      c.state === 'running' && !(c.process && isRunning(c.process)) ? exitedUnseen(c, new Date().toISOString()) : c,
    ),
  };
  if ((record.state === 'running' || record.state === 'creating') && !infraUp) {
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
