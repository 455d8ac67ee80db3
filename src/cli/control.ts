// tspod restart / stop / rm: changes go through the monitor for the pods it supervises; a
// foreground pod is stopped through its own tspod process (SIGTERM; rm -f: SIGKILL, which its
// processes follow by PDEATHSIG); and rm -f works from the state alone when no monitor runs.
import { constants as osConstants } from 'node:os';
import { TspodError } from '../errors.js';
import { loadBinding } from '../native/binding.js';
import { MonitorClient, ensureMonitor } from '../monitor/client.js';
import { killRecorded } from '../monitor/host.js';
import { PodProcess } from '../runtime/process.js';
import { stateRoot } from '../state/paths.js';
import type { PodRecord } from '../state/records.js';
import { StateStore } from '../state/store.js';
import { inForeground } from '../state/view.js';
import { secondsOption } from './options.js';
import { requireRoot } from './errors.js';

interface ControlOptions {
  grace?: string;
  force?: boolean;
  root?: string;
}

function graceBody(o: ControlOptions): { grace?: number } {
  return o.grace === undefined ? {} : { grace: secondsOption('--grace', o.grace) };
}

/** Signals a foreground pod's tspod and waits until its state is gone. */
async function signalForeground(store: StateStore, record: PodRecord, signal: number): Promise<void> {
  const supervisor = PodProcess.adopt(loadBinding(), record.supervisor);
  if (supervisor) {
    supervisor.signal(signal);
    await supervisor.exited;
  }
  // A tspod killed with SIGKILL cannot clean up: its processes died with it (PDEATHSIG).
  await killRecorded(loadBinding(), record);
  store.remove(record.name);
}

export async function restart(pod: string, container: string, o: ControlOptions): Promise<number> {
  requireRoot('tspod restart');
  const store = new StateStore(stateRoot(o.root));
  const record = store.need(pod);
  if (inForeground(record)) throw new TspodError(`pod "${pod}" runs in the foreground of tspod pid ${record.supervisor.pid}: restart it there`);
  const client = await ensureMonitor(store);
  await client.call('POST', `/pods/${pod}/containers/${container}/restart`, graceBody(o));
  return 0;
}

export async function stop(pod: string, container: string | undefined, o: ControlOptions): Promise<number> {
  requireRoot('tspod stop');
  const store = new StateStore(stateRoot(o.root));
  const record = store.need(pod);
  if (inForeground(record)) {
    if (container !== undefined) throw new TspodError(`pod "${pod}" runs in the foreground of tspod pid ${record.supervisor.pid}: it stops as a whole`);
    await signalForeground(store, record, osConstants.signals.SIGTERM);
    return 0;
  }
  const client = await ensureMonitor(store);
  const path = container === undefined ? `/pods/${pod}/stop` : `/pods/${pod}/containers/${container}/stop`;
  await client.call('POST', path, graceBody(o));
  return 0;
}

export async function rm(pod: string, container: string | undefined, o: ControlOptions): Promise<number> {
  requireRoot('tspod rm');
  const store = new StateStore(stateRoot(o.root));
  const record = store.need(pod);
  const force = o.force ? '?force=true' : '';
  if (inForeground(record)) {
    if (container !== undefined) throw new TspodError(`pod "${pod}" runs in the foreground of tspod pid ${record.supervisor.pid}: its containers cannot be removed`);
    if (!o.force) throw new TspodError(`pod "${pod}" is running (in the foreground of tspod pid ${record.supervisor.pid}): stop it first, or use rm -f`);
    await signalForeground(store, record, osConstants.signals.SIGKILL);
    return 0;
  }
  const client = new MonitorClient(store.paths);
  if (container !== undefined) {
    await (await ensureMonitor(store)).call('DELETE', `/pods/${pod}/containers/${container}${force}`);
    return 0;
  }
  if (await client.ping()) {
    await client.call('DELETE', `/pods/${pod}${force}`);
    return 0;
  }
  // No monitor: rm works from the state alone (and does not start one).
  if (record.state === 'running' && !o.force) throw new TspodError(`pod "${pod}" is running: stop it first, or use rm -f`);
  await killRecorded(loadBinding(), record);
  store.remove(pod);
  return 0;
}
