// A process tspod started (an infra or a container), seen through its pidfd: signals go through
// the pidfd (never to a reused pid), and the exit status arrives once, without SIGCHLD.
import { constants as osConstants } from 'node:os';
import { closeSync } from 'node:fs';
import type { ExitStatus, ExitWatchHandle, NativeBinding, SpawnedProcess } from '../native/binding.js';
import { startTimeOf, type ProcessId } from '../native/identity.js';

const SIGNAL_NAMES = new Map(Object.entries(osConstants.signals).map(([name, n]) => [n, name]));

export function signalName(signal: number): string {
  return SIGNAL_NAMES.get(signal) ?? `signal ${signal}`;
}

/** A shell-style status: the exit code, or 128 + the signal number. */
export function statusCode(s: ExitStatus): number {
  if (s.code !== null) return s.code;
  return s.signal !== null ? 128 + s.signal : 255;
}

/** "exited with status 3", "killed by SIGKILL", for messages. */
export function describeExit(s: ExitStatus): string {
  if (s.code !== null) return `exited with status ${s.code}`;
  if (s.signal !== null) return `killed by ${signalName(s.signal)}${s.coreDumped ? ' (core dumped)' : ''}`;
  return 'exited (status unknown)';
}

/**
 * A pidfd for the process with this pid and start time: opened first, then the start time
 * checked, so a pid reused since is never taken for it. Undefined when it is gone; any other
 * failure (EMFILE) is thrown: a process that runs must not be taken for one that ended.
 */
export function openProcess(binding: NativeBinding, id: ProcessId): number | undefined {
  let pidfd: number;
  try {
    pidfd = binding.pidfdOpen(id.pid);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    throw err;
  }
  if (startTimeOf(id.pid) !== id.startTime) {
    closeSync(pidfd);
    return undefined;
  }
  return pidfd;
}

export class PodProcess {
  readonly pid: number;
  /** Valid until the exit has been seen; closed then. */
  readonly pidfd: number;
  /** As isRunning() compares it. */
  readonly startTime: string;
  readonly exited: Promise<ExitStatus>;
  status: ExitStatus | undefined;
  private readonly binding: NativeBinding;
  private readonly watch: ExitWatchHandle;
  private forgotten = false;

  /** `startTime`: already known (adopt checked it); read from /proc otherwise. */
  constructor(binding: NativeBinding, spawned: SpawnedProcess, startTime?: string) {
    this.binding = binding;
    this.pid = spawned.pid;
    this.pidfd = spawned.pidfd;
    // Read while the pidfd pins the process: it cannot be reaped (and its pid reused) before
    // the exit watch runs on a later turn of the event loop.
    this.startTime = startTime ?? startTimeOf(spawned.pid) ?? '';
    let resolve!: (s: ExitStatus) => void;
    this.exited = new Promise((r) => (resolve = r));
    this.watch = new binding.ExitWatch(this.pidfd, (status) => {
      this.status = status;
      closeSync(this.pidfd);
      resolve(status);
    });
  }

  /** False once it exited, or once it was let go of (forget): its pidfd is closed then. */
  get running(): boolean {
    return this.status === undefined && !this.forgotten;
  }

  /** Sends a signal; false when the process is already gone. */
  signal(signal: number): boolean {
    if (!this.running) return false;
    try {
      this.binding.pidfdSendSignal(this.pidfd, signal);
      return true;
    } catch (err) {
      // ESRCH: it exited and the exit watch has not run yet.
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
      throw err;
    }
  }

  /**
   * A running process that someone else started (a supervisor that restarted): opens a pidfd
   * first, then checks the start time, so a pid reused since is never taken for it. Its exit is
   * seen; its status belongs to its parent. Undefined when it is gone.
   */
  static adopt(binding: NativeBinding, id: ProcessId): PodProcess | undefined {
    const pidfd = openProcess(binding, id);
    return pidfd === undefined ? undefined : new PodProcess(binding, { pid: id.pid, pidfd }, id.startTime);
  }

  /** Lets go of a process that runs on (an adoption that failed): no exit is seen, the pidfd closes. */
  forget(): void {
    if (!this.running) return;
    this.forgotten = true;
    this.watch.close();
    closeSync(this.pidfd);
  }

  /** Lets the event loop end while this process still runs. */
  unref(): void {
    this.watch.unref();
  }
}
