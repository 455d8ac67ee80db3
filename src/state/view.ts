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

/** The last run of a container exited with status 0. */
function succeeded(c: ContainerRecord): boolean {
  return c.lastExit !== undefined && !c.lastExit.unknown && c.lastExit.code === 0;
}

/**
 * kubectl's READY for a pod: its containers and sidecars that are ready, of all of them (an init
 * container that runs to completion is not counted).
 */
export function podReady(record: PodRecord): string {
  const counted = record.containers.filter((c) => c.kind !== 'init');
  return `${counted.filter((c) => c.state === 'running' && c.ready).length}/${counted.length}`;
}

/**
 * kubectl's STATUS for a pod: Init:N/M while its init containers run (Init:Error,
 * Init:CrashLoopBackOff when one fails), then Running, CrashLoopBackOff, and at the end Completed,
 * Error (or Init:Error), or tspod's Stopped.
 */
export function podStatus(record: PodRecord): string {
  const init = record.containers.filter((c) => c.kind);
  const failedInit = init.find((c) => c.kind === 'init' && c.state === 'exited' && !succeeded(c));
  if (record.state === 'creating') return 'Pending';
  if (record.state === 'completed') return 'Completed';
  if (record.state === 'stopped') return 'Stopped';
  if (record.state === 'failed') return failedInit ? 'Init:Error' : 'Error';
  for (const [i, c] of init.entries()) {
    if (c.kind === 'sidecar' ? c.state === 'running' && c.started : c.state === 'exited' && succeeded(c)) continue;
    if (c.state === 'waiting' && c.nextStartAt && (c.lastExit || c.lastError)) return 'Init:CrashLoopBackOff';
    return `Init:${i}/${init.length}`;
  }
  const apps = record.containers.filter((c) => !c.kind);
  if (apps.some((c) => c.state === 'waiting' && c.nextStartAt && (c.lastExit || c.lastError))) return 'CrashLoopBackOff';
  return 'Running';
}
