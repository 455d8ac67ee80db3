// What is left of a pod whose supervisor is gone: a foreground tspod killed with SIGKILL, a
// creation cut short, a monitor that died with pods whose infra died too. Its processes are
// killed (each checked by pid and start time first, and all of its cgroups), its CNI attachment deleted, its tmpfs
// unmounted; its name can then be taken again. Used by both supervisors, and by `tspod rm` when
// no monitor runs.
import { PodCgroups } from '../cgroup/pod.js';
import { withLock } from '../fs/lock.js';
import { unmountUnder } from '../fs/mounts.js';
import type { NativeBinding } from '../native/binding.js';
import type { ProcessId } from '../native/identity.js';
import { releaseCni, type CniPaths } from '../net/network.js';
import { PodProcess } from '../runtime/process.js';
import { within } from '../runtime/within.js';
import type { PodRecord } from '../state/records.js';
import type { StateStore } from '../state/store.js';
import { isStale } from '../state/view.js';

/** How long releaseRecorded waits for what it killed to finish exiting. */
const RELEASE_WAIT_MS = 3000;

/** Where a pod's CNI attachment is cached, and the lock CNI calls take. */
export function cniPaths(store: StateStore, name: string): CniPaths {
  return { cache: store.paths.podNetwork(name), lock: store.paths.cniLock };
}

/**
 * Ends what a record names and no supervisor looks after any more: every process that still
 * runs (checked by pid and start time) gets SIGKILL, and is waited for; then its CNI attachment,
 * if it has one, is deleted.
 */
export async function releaseRecorded(binding: NativeBinding, store: StateStore, record: PodRecord): Promise<void> {
  const ids: ProcessId[] = [
    ...record.containers.flatMap((c) => (c.state === 'running' && c.process ? [c.process] : [])),
    ...(record.infra ? [record.infra.process] : []),
  ];
  const procs = ids.flatMap((id) => PodProcess.adopt(binding, id) ?? []);
  for (const p of procs) p.signal(9);
  // A killed PID 1 finishes exiting only once every process of its namespace is reaped, which,
  // for processes whose supervisor is gone, is the host init's job (tens of seconds on some
  // hosts). Killed is enough: the wait for the last of them is bounded.
  await within(Promise.all(procs.map((p) => p.exited)), RELEASE_WAIT_MS);
  for (const p of procs) p.unref();
  // Whatever else ran in the pod (a container's children, an exec) is in its cgroups.
  if (record.cgroup) await PodCgroups.adopt(binding, record.cgroup).release();
  await releaseCni(binding, cniPaths(store, record.name));
  // The pod's tmpfs (its /dev/shm, emptyDirs in memory) are the supervisor's mounts.
  unmountUnder(binding, store.paths.pod(record.name));
}

/** Runs `fn` holding the state directory's names lock: taking a name, or removing a pod that
 *  is not ours, happens under it. */
export async function withNamesLock<T>(store: StateStore, binding: NativeBinding, fn: () => Promise<T>): Promise<T> {
  store.ensureRoot();
  return withLock(binding, store.paths.namesLock, fn);
}

/**
 * Under the names lock: removes the pod if it is stale (its supervisor died; what is left of it
 * is killed first). A directory without a record is stale too: under the lock, a name is never
 * taken without its record being written.
 */
export async function removeIfStale(store: StateStore, binding: NativeBinding, name: string): Promise<boolean> {
  const record = store.read(name);
  if (record && !isStale(record)) return false;
  if (record) await releaseRecorded(binding, store, record);
  store.remove(name);
  return true;
}
