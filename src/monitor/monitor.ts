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
import { startTimeOf } from '../native/identity.js';
import type { Pod } from '../runtime/pod.js';
import { describeExit } from '../runtime/process.js';
import { StateStore } from '../state/store.js';
import { PodHost, type HostOptions, type SupervisorLog } from '../supervisor/host.js';
import { MonitorClient } from './client.js';
import { monitorServer } from './server.js';
import { StaticPods } from './static-pods.js';

export interface MonitorOptions extends HostOptions {
  root: string;
  version: string;
  /** A directory of manifests whose pods the monitor keeps running (static-pods.ts). */
  manifests?: string;
}

export interface RunningMonitor {
  host: PodHost;
  server: Server;
  /** Stops serving and releases the lock; the pods keep running. */
  close(): Promise<void>;
}

/** A line of monitor.log (the monitor's stderr), timestamped. */
function log(message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${message}\n`);
}

/** The supervisor's messages, as lines of monitor.log naming their pod. */
const monitorLog: SupervisorLog = {
  info: (pod, message) => log(`pod ${pod}: ${message}`),
  warn: (pod, message) => log(`pod ${pod}: ${message}`),
};

/** Reports what happens to a pod in the monitor's log. */
function narrate(pod: Pod, how: 'created' | 'adopted'): void {
  const say = (message: string) => monitorLog.info(pod.spec.name, message);
  say(`${how} (infra pid ${pod.infra.pid})`);
  pod.on('container-start', (ctr, pid) => say(`container ${ctr} started (pid ${pid})`));
  pod.on('container-exit', (ctr, status, reason) => say(`container ${ctr} ${describeExit(status)}${reason ? ` (${reason})` : ''}`));
  pod.on('container-error', (ctr, err) => say(`container ${ctr} could not start: ${err.message}`));
  pod.on('end', (result) => say(`ended (${result.reason})`));
}

/**
 * The state directory's monitor lock, held for the monitor's life (the kernel drops it when the
 * process dies). A monitor that answers means this one is not needed; a lock held by no monitor
 * is a command's (rm without a monitor holds it while it removes), and is waited for.
 */
async function takeMonitorLock(store: StateStore, binding: NativeBinding): Promise<number> {
  const fd = openSync(store.paths.monitorLock, 'a', 0o600);
  const deadline = Date.now() + 10_000;
  while (!binding.flock(fd, true, false)) {
    if (await new MonitorClient(store.paths).ping()) {
      closeSync(fd);
      throw new TspodError(`a monitor is already running for ${store.root}`, 0);
    }
    if (Date.now() > deadline) {
      closeSync(fd);
      throw new TspodError(`${store.paths.monitorLock} is held, but no monitor answers on ${store.paths.socket}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return fd;
}

export async function startMonitor(opts: MonitorOptions): Promise<RunningMonitor> {
  const store = new StateStore(opts.root);
  store.ensureRoot();
  const binding = loadBinding();
  const paths = store.paths;

  const lockFd = await takeMonitorLock(store, binding);
  const self = { kind: 'monitor' as const, pid: process.pid, startTime: startTimeOf(process.pid) ?? '' };
  writeFileSync(paths.monitorFile, JSON.stringify({ pid: self.pid, startTime: self.startTime, version: opts.version }) + '\n', {
    mode: 0o600,
  });

  const knobs = [
    opts.backoff && `crash back-off ${opts.backoff.initialMs} ms`,
    opts.logMaxBytes && `logs rotated at ${opts.logMaxBytes} bytes`,
    opts.logMaxFiles && `${opts.logMaxFiles} log files kept`,
    opts.udpIdleMs && `UDP flows closed after ${opts.udpIdleMs} ms`,
    opts.udpMaxFlows && `at most ${opts.udpMaxFlows} UDP flows a pod`,
    opts.tcpIdleMs && `TCP connections closed after ${opts.tcpIdleMs} ms idle`,
    opts.tcpMaxConnections && `at most ${opts.tcpMaxConnections} TCP connections a pod`,
    opts.tcpMaxTotal && `at most ${opts.tcpMaxTotal} TCP connections in all`,
  ].filter(Boolean);
  if (knobs.length) log(`monitor ${self.pid}: ${knobs.join(', ')} (from TSPOD_* in its environment)`);
  const host = new PodHost(store, binding, self, monitorLog, { ...opts, onPod: narrate });
  await host.adoptAll();
  const server = monitorServer(host, opts.version);

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
  const staticPods = opts.manifests === undefined ? undefined : new StaticPods(host, opts.manifests, log);
  await staticPods?.start();

  return {
    host,
    server,
    close: async () => {
      await staticPods?.close();
      await new Promise((r) => server.close(r));
      closeSync(lockFd);
    },
  };
}
