// A private state directory per test, with its own monitor: everything the test started there
// (monitor, pods, foreground tspods) is killed and the directory removed when the test ends,
// also when it fails.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { SpawnOptions } from 'node:child_process';
import type { Test } from 'tap';
import { loadBinding } from '../../src/native/binding.js';
import { releaseRecorded } from '../../src/supervisor/stale.js';
import { PodProcess } from '../../src/runtime/process.js';
import { StateStore } from '../../src/state/store.js';
import { runCli, startCli } from './cli.js';
import { allProcesses, alive, procInfo, waitFor } from './proc.js';
import type { ProcessId } from '../../src/native/identity.js';
import { cleanup } from './cleanup.js';

export interface TestState {
  root: string;
  store: StateStore;
  env: NodeJS.ProcessEnv;
  /** Runs tspod with this state directory to the end. */
  cli(args: string[], opts?: SpawnOptions): ReturnType<typeof runCli>;
  /** Starts tspod with this state directory (a foreground run, say). */
  start(args: string[], opts?: SpawnOptions): ReturnType<typeof startCli>;
  /** The running monitor's pid, from monitor.json. */
  monitorPid(): number | undefined;
  /** Kills the running monitor (SIGKILL) and waits until it is gone; its pid. */
  killMonitor(): Promise<number>;
}

/**
 * Monitors started for `root` that monitor.json may not name yet: ps and pod ls start one in
 * the background and go on (monitor-kick.ts), so one can still be starting, or be about to take
 * the lock from a monitor this teardown kills. Found by their exact arguments, which name the
 * test's own (unique) state directory.
 */
function monitorsFor(root: string): ProcessId[] {
  const argv = `--root\0${root}\0monitor\0`;
  return allProcesses().flatMap((p) => {
    try {
      return readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').endsWith(argv) ? [{ pid: p.pid, startTime: p.startTime }] : [];
    } catch {
      return []; // gone
    }
  });
}

/** Kills the monitor of `root` and every process its pods' records name. */
export async function tearDownState(root: string): Promise<void> {
  const store = new StateStore(root);
  const binding = loadBinding();
  for (const id of monitorsFor(root)) {
    const monitor = PodProcess.adopt(binding, id);
    monitor?.signal(9);
    await monitor?.exited;
  }
  try {
    const m = JSON.parse(readFileSync(store.paths.monitorFile, 'utf8')) as { pid: number; startTime: string };
    const monitor = PodProcess.adopt(binding, m);
    if (monitor) {
      monitor.signal(9);
      await monitor.exited;
    }
  } catch {
    // no monitor ran
  }
  // Each pod is released even when another one's release fails, and the directory always goes;
  // the first failure is reported afterwards, so a broken teardown still fails the test.
  const failures: unknown[] = [];
  try {
    // A damaged record (a test may make one) has nothing to release: the directory goes below.
    for (const record of store.list()) {
      try {
        if (record.supervisor.kind === 'foreground') {
          const sup = PodProcess.adopt(binding, record.supervisor);
          sup?.signal(9);
          await sup?.exited;
        }
        await releaseRecorded(binding, store, record);
      } catch (err) {
        failures.push(err);
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  if (failures.length) throw failures[0];
}

/** A state directory of the test's own, under `parent`; everything in it is undone at the end. */
export function testState(t: Test, extraEnv: NodeJS.ProcessEnv = {}, parent = '/tmp'): TestState {
  const root = mkdtempSync(`${parent}/tspod-state-`);
  cleanup(t, `tear down state ${root}`, () => tearDownState(root));
  const env = { ...process.env, TSPOD_ROOT: root, TSPOD_BACKOFF_MS: '200', ...extraEnv };
  const store = new StateStore(root);
  const monitorPid = () => {
    try {
      return (JSON.parse(readFileSync(store.paths.monitorFile, 'utf8')) as { pid: number }).pid;
    } catch {
      return undefined;
    }
  };
  return {
    root,
    store,
    env,
    cli: (args, opts = {}) => runCli(t, args, { env, ...opts }),
    start: (args, opts = {}) => startCli(t, args, { env, ...opts }),
    monitorPid,
    killMonitor: async () => {
      const pid = monitorPid()!;
      // Its identity first: once it is reaped, the pid says nothing.
      const id = { pid, startTime: procInfo(pid)!.startTime };
      process.kill(pid, 'SIGKILL');
      await waitFor('the monitor to die', () => !alive(id) || undefined);
      return pid;
    },
  };
}
