// Starting a monitor: in the background, detached (its own session, its output in monitor.log),
// so it outlives the command that started it and holds none of that command's fds. Loaded only
// by a command whose request found no monitor, or that saw the monitor gone (monitor-kick.ts).
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TspodError } from '../errors.js';
import { loadBinding, type ExitStatus } from '../native/binding.js';
import { DEFAULT_PATH } from '../pod/env.js';
import type { StatePaths } from '../state/paths.js';
import { StateStore } from '../state/store.js';

/** dist/cli/main.js, from either src/monitor or dist/monitor. */
const cliPath = join(__dirname, '../../dist/cli/main.js');

/** How long a command waits for a monitor it started to answer. */
const START_TIMEOUT_MS = 10_000;

/**
 * Starts `tspod monitor` in the background for this state directory: in a session of its own,
 * its output in monitor.log, and through the addon's spawn, which closes every other fd (a
 * command's pipe held by the monitor would keep whoever reads it waiting). Its environment is
 * PATH and the TSPOD_* knobs, nothing else of the command that started it.
 */
export function spawnMonitor(paths: StatePaths): { pid: number; exited: Promise<ExitStatus> } {
  const binding = loadBinding();
  const devNull = openSync('/dev/null', 'r');
  const log = openSync(paths.monitorLog, 'a', 0o600);
  try {
    const env = [
      `PATH=${DEFAULT_PATH}`,
      ...Object.entries(process.env)
        .filter(([k]) => k.startsWith('TSPOD_'))
        .map(([k, v]) => `${k}=${v}`),
    ];
    const { pid, pidfd } = binding.spawn({
      path: process.execPath,
      argv: [process.execPath, cliPath, '--root', paths.root, 'monitor'],
      env,
      cwd: '/',
      stdio: [devNull, log, log],
      newSession: true,
    });
    const exited = new Promise<ExitStatus>((resolve) => {
      new binding.ExitWatch(pidfd, (status) => {
        closeSync(pidfd);
        resolve(status);
      }).unref();
    });
    return { pid, exited };
  } finally {
    closeSync(devNull);
    closeSync(log);
  }
}

/** Starts a monitor in the background and waits until it answers `client`'s ping. */
export async function launchMonitor(paths: StatePaths, client: { ping(): Promise<boolean> }): Promise<void> {
  new StateStore(paths.root).ensureRoot();
  let exited: number | null = null;
  void spawnMonitor(paths).exited.then((s) => (exited = s.code ?? 1));
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    await new Promise((r) => setTimeout(r, 20));
    if (await client.ping()) return;
    // Exit 0: another command's monitor won the lock; it will answer shortly.
    if ((exited !== null && exited !== 0) || Date.now() > deadline) {
      let tail = '';
      try {
        tail = readFileSync(paths.monitorLog, 'utf8').trim().split('\n').slice(-3).join(' | ');
      } catch {
        // no log
      }
      throw new TspodError(`could not start the monitor for ${paths.root}${tail ? `: ${tail}` : ''}`);
    }
  }
}
