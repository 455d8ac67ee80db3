// tspod restart / stop / rm: changes go through the monitor for the pods it supervises; a
// foreground pod is stopped through its own tspod process (SIGTERM; rm -f: SIGKILL, which its
// processes follow by PDEATHSIG); and rm of a whole pod works from the state alone when no
// monitor runs. The pod host's clean-up code (monitor/host.js, which loads the runtime) is
// imported only on the paths that need it, not when a monitor does the work.
import { closeSync, openSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { Conflict } from '../errors.js';
import { loadBinding } from '../native/binding.js';
import { ensureMonitor } from '../monitor/client.js';
import { PodProcess } from '../runtime/process.js';
import { stateRoot } from '../state/paths.js';
import type { PodRecord } from '../state/records.js';
import { StateStore } from '../state/store.js';
import { inForeground, observed } from '../state/view.js';
import { labelOption, secondsOption } from './options.js';
import { requireRoot } from './errors.js';

interface ControlOptions {
  grace?: string;
  force?: boolean;
  root?: string;
}

function graceBody(o: ControlOptions): { grace?: number } {
  return o.grace === undefined ? {} : { grace: secondsOption('--grace', o.grace) };
}

/** A route of the monitor's API about this pod (and container): names checked, then encoded. */
function route(pod: string, container?: string, action = ''): string {
  const p = encodeURIComponent(labelOption('pod', pod));
  const c = container === undefined ? '' : `/containers/${encodeURIComponent(labelOption('container', container))}`;
  return `/pods/${p}${c}${action}`;
}

function foregroundConflict(record: PodRecord, what: string): Conflict {
  return new Conflict(`pod "${record.name}" runs in the foreground of tspod pid ${record.supervisor.pid}: ${what}`);
}

/** Signals a foreground pod's tspod, waits for it, and removes what it could not. */
async function signalForeground(store: StateStore, record: PodRecord, signal: number): Promise<void> {
  const binding = loadBinding();
  const { releaseRecorded, withNamesLock } = require('../monitor/host.js') as typeof import('../monitor/host.js');
  const supervisor = PodProcess.adopt(binding, record.supervisor);
  if (supervisor) {
    supervisor.signal(signal);
    await supervisor.exited;
  }
  // A tspod killed with SIGKILL cannot clean up (its processes died with it, by PDEATHSIG). Under
  // the names lock, and only if the record is still that tspod's: the name may be taken again.
  await withNamesLock(store, binding, async () => {
    const now = store.read(record.name);
    if (!now || now.supervisor.pid !== record.supervisor.pid || now.supervisor.startTime !== record.supervisor.startTime) return;
    await releaseRecorded(binding, store, now);
    store.remove(record.name);
  });
}

export async function restart(pod: string, container: string, o: ControlOptions): Promise<number> {
  requireRoot('tspod restart');
  const store = new StateStore(stateRoot(o.root));
  const path = route(pod, container, '/restart');
  const record = store.need(pod);
  if (inForeground(record)) throw foregroundConflict(record, 'restart it there');
  await (await ensureMonitor(store)).call('POST', path, graceBody(o));
  return 0;
}

export async function stop(pod: string, container: string | undefined, o: ControlOptions): Promise<number> {
  requireRoot('tspod stop');
  const store = new StateStore(stateRoot(o.root));
  const path = route(pod, container, '/stop');
  const record = store.need(pod);
  if (inForeground(record)) {
    if (container !== undefined) throw foregroundConflict(record, 'it stops as a whole');
    await signalForeground(store, record, osConstants.signals.SIGTERM);
    return 0;
  }
  await (await ensureMonitor(store)).call('POST', path, graceBody(o));
  return 0;
}

export async function rm(pod: string, container: string | undefined, o: ControlOptions): Promise<number> {
  requireRoot('tspod rm');
  const store = new StateStore(stateRoot(o.root));
  const path = route(pod, container) + (o.force ? '?force=true' : '');
  const record = store.need(pod);
  if (inForeground(record)) {
    if (container !== undefined) throw foregroundConflict(record, 'its containers cannot be removed');
    if (!o.force) throw foregroundConflict(record, 'stop it first, or use rm -f');
    await signalForeground(store, record, osConstants.signals.SIGKILL);
    return 0;
  }
  if (container === undefined && (await removeWithoutMonitor(store, pod, !!o.force))) return 0;
  await (await ensureMonitor(store)).call('DELETE', path);
  return 0;
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
    const { releaseRecorded, withNamesLock } = require('../monitor/host.js') as typeof import('../monitor/host.js');
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
