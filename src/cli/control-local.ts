// What restart, stop and rm do when the monitor did not do the change (control.ts): the pod's
// record decides. A foreground pod is stopped through its own tspod process (SIGTERM; rm -f:
// SIGKILL, which its processes follow by PDEATHSIG); for any other pod the monitor refused, its
// answer stands; rm of a whole pod works from the state alone when no monitor runs; anything
// else starts a monitor and asks it. The supervisor's clean-up code (supervisor/stale.js, which
// loads the runtime) is loaded only to clean up.
import { closeSync, openSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { Conflict } from '../errors.js';
import { loadBinding } from '../native/binding.js';
import { monitorClient, type MonitorClient, type MonitorUnavailable } from '../monitor/client.js';
import { ApiError } from '../monitor/protocol.js';
import { PodProcess } from '../runtime/process.js';
import type { StatePaths } from '../state/paths.js';
import type { PodRecord } from '../state/records.js';
import { StateStore } from '../state/store.js';
import { inForeground, observed } from '../state/view.js';

/** A change (control.ts), as a request any client can send: the running monitor, or one started. */
export type ControlRequest = (client: MonitorClient) => Promise<unknown>;
/** Why the monitor did not do it: none answered, or it refused. */
type NotDone = MonitorUnavailable | ApiError;

function foregroundConflict(record: PodRecord, what: string): Conflict {
  return new Conflict(`pod "${record.name}" runs in the foreground of tspod pid ${record.supervisor.pid}: ${what}`);
}

/**
 * The pod's record, when this command is to act on it: a pod in the foreground, or any pod when
 * no monitor answered. Otherwise the monitor's refusal is thrown as it came.
 */
function recordToActOn(store: StateStore, pod: string, notDone: NotDone): PodRecord {
  if (!(notDone instanceof ApiError)) return store.need(pod);
  const record = store.read(pod);
  if (!record || !inForeground(record)) throw notDone;
  return record;
}

/** No monitor answered: one is started, and asked. */
const askStartedMonitor = (paths: StatePaths, request: ControlRequest) => request(monitorClient(paths));

export async function restartLocally(paths: StatePaths, pod: string, request: ControlRequest, notDone: NotDone): Promise<void> {
  const record = recordToActOn(new StateStore(paths.root), pod, notDone);
  if (inForeground(record)) throw foregroundConflict(record, 'restart it there');
  await askStartedMonitor(paths, request);
}

export async function stopLocally(
  paths: StatePaths,
  pod: string,
  container: string | undefined,
  request: ControlRequest,
  notDone: NotDone,
): Promise<void> {
  const store = new StateStore(paths.root);
  const record = recordToActOn(store, pod, notDone);
  if (inForeground(record)) {
    if (container !== undefined) throw foregroundConflict(record, 'it stops as a whole');
    return signalForeground(store, record, osConstants.signals.SIGTERM);
  }
  await askStartedMonitor(paths, request);
}

export async function rmLocally(
  paths: StatePaths,
  pod: string,
  container: string | undefined,
  force: boolean,
  request: ControlRequest,
  notDone: NotDone,
): Promise<void> {
  const store = new StateStore(paths.root);
  const record = recordToActOn(store, pod, notDone);
  if (inForeground(record)) {
    if (container !== undefined) throw foregroundConflict(record, 'its containers cannot be removed');
    if (!force) throw foregroundConflict(record, 'stop it first, or use rm -f');
    return signalForeground(store, record, osConstants.signals.SIGKILL);
  }
  if (container === undefined && (await removeWithoutMonitor(store, pod, force))) return;
  await askStartedMonitor(paths, request);
}

const stale = () => require('../supervisor/stale.js') as typeof import('../supervisor/stale.js');

/** Signals a foreground pod's tspod, waits for it, and removes what it could not. */
async function signalForeground(store: StateStore, record: PodRecord, signal: number): Promise<void> {
  const binding = loadBinding();
  const supervisor = PodProcess.adopt(binding, record.supervisor);
  if (supervisor) {
    supervisor.signal(signal);
    await supervisor.exited;
  }
  // A tspod killed with SIGKILL cannot clean up (its processes died with it, by PDEATHSIG): what
  // it left is removed if still stale, under the names lock (the name may be taken again).
  const { removeIfStale, withNamesLock } = stale();
  await withNamesLock(store, binding, () => removeIfStale(store, binding, record.name));
}

/**
 * rm of a whole pod when no monitor runs: from the state alone, holding the monitor lock so no
 * monitor starting meanwhile adopts the pod being removed. False when a monitor holds the lock
 * (it is asked instead).
 */
async function removeWithoutMonitor(store: StateStore, pod: string, force: boolean): Promise<boolean> {
  const binding = loadBinding();
  const lock = openSync(store.paths.monitorLock, 'a', 0o600);
  try {
    if (!binding.flock(lock, true, false)) return false;
    const { releaseRecorded, withNamesLock } = stale();
    await withNamesLock(store, binding, async () => {
      const record = observed(store.need(pod));
      if (record.state === 'running' && !force) throw new Conflict(`pod "${pod}" is running: stop it first, or use rm -f`);
      await releaseRecorded(binding, store, record);
      store.remove(pod);
    });
    return true;
  } finally {
    closeSync(lock);
  }
}
