// The monitor: one per state directory, the parent of every detached pod's processes. It holds
// the state directory's lock for as long as it runs, takes over the pods a previous monitor left
// (re-adoption), and serves the control socket.
//
// Stopping the monitor (SIGTERM) leaves the pods running, as killing it does: the next tspod
// command starts a new one, which adopts them.
import { closeSync, openSync, unlinkSync, writeFileSync, chmodSync } from 'node:fs';
import type { Server } from 'node:http';
import { TspodError } from '../errors.js';
import { loadBinding, type NativeBinding } from '../native/binding.js';
import { Pod, type Backoff } from '../runtime/pod.js';
import { describeExit, startTimeOf } from '../runtime/process.js';
import type { PodRecord } from '../state/records.js';
import { StateStore } from '../state/store.js';
import { isStale } from '../state/view.js';
import { PodHost, killRecorded, removeIfStale, withNamesLock } from './host.js';
import { monitorServer } from './server.js';

export interface MonitorOptions {
  root: string;
  version: string;
  backoff?: Backoff;
  logMaxBytes?: number;
  logMaxFiles?: number;
}

export interface RunningMonitor {
  host: PodHost;
  server: Server;
  /** Stops serving and releases the lock; the pods keep running. */
  close(): Promise<void>;
}

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${message}\n`);
}

/** Reports what happens to a pod in the monitor's log. */
function narrate(pod: Pod, how: 'created' | 'adopted'): void {
  const name = pod.spec.name;
  log(`pod ${name}: ${how} (infra pid ${pod.infra.pid})`);
  pod.on('container-start', (ctr, pid) => log(`pod ${name}: container ${ctr} started (pid ${pid})`));
  pod.on('container-exit', (ctr, status) => log(`pod ${name}: container ${ctr} ${describeExit(status)}`));
  pod.on('container-error', (ctr, err) => log(`pod ${name}: container ${ctr} could not start: ${err.message}`));
  pod.on('end', (result) => log(`pod ${name}: ended (${result.reason})`));
}

/**
 * Takes over what a previous supervisor left in the state directory. A monitor's running pod is
 * adopted; a pod whose infra died meanwhile is marked failed and its containers killed; a pod of
 * a foreground tspod that is gone, or one that never finished being created, is cleaned away.
 */
export async function adoptAll(host: PodHost, store: StateStore, binding: NativeBinding): Promise<void> {
  for (const name of store.names()) {
    let record: PodRecord | undefined;
    try {
      record = store.read(name);
    } catch (err) {
      log(`pod ${name}: ${(err as Error).message}`);
      continue;
    }
    if (!record || host.pods.has(name)) continue;
    if (isStale(record)) {
      if (await withNamesLock(store, binding, () => removeIfStale(store, binding, name))) {
        log(`pod ${name}: its ${record.supervisor.kind} supervisor (pid ${record.supervisor.pid}) is gone: removed it`);
      }
      continue;
    }
    // A foreground pod, or one being created by a live process: not ours.
    if (record.supervisor.kind === 'foreground' || record.state === 'creating') continue;
    if (record.state !== 'running') continue;
    try {
      await host.adopt(record);
    } catch (err) {
      await killRecorded(binding, record);
      store.write({
        ...record,
        state: 'failed',
        reason: `${(err as Error).message} (it ended while no monitor was running)`,
        endedAt: new Date().toISOString(),
        containers: record.containers.map((c) => (c.state === 'exited' ? c : { ...c, state: 'exited', process: undefined })),
      });
      log(`pod ${name}: failed: ${(err as Error).message}`);
    }
  }
}

export async function startMonitor(opts: MonitorOptions): Promise<RunningMonitor> {
  const store = new StateStore(opts.root);
  store.ensureRoot();
  const binding = loadBinding();
  const paths = store.paths;

  const lockFd = openSync(paths.monitorLock, 'a', 0o600);
  if (!binding.flock(lockFd, true, false)) {
    closeSync(lockFd);
    throw new TspodError(`a monitor is already running for ${opts.root}`, 0);
  }
  const self = { kind: 'monitor' as const, pid: process.pid, startTime: startTimeOf(process.pid) ?? '' };
  writeFileSync(paths.monitorFile, JSON.stringify({ pid: self.pid, startTime: self.startTime, version: opts.version }) + '\n', { mode: 0o600 });

  const host = new PodHost(store, binding, self, { ...opts, onPod: narrate });
  await adoptAll(host, store, binding);
  const server = monitorServer(host, store, opts.version);

  // We hold the lock: a socket file there now is a dead monitor's.
  try {
    unlinkSync(paths.socket);
  } catch {
    // none
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(paths.socket, () => resolve());
  });
  chmodSync(paths.socket, 0o600);
  log(`monitor ${self.pid} serving ${paths.socket}`);

  return {
    host,
    server,
    close: async () => {
      await new Promise((r) => server.close(r));
      closeSync(lockFd);
    },
  };
}
