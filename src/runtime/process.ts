// A process tspod started (an infra or a container), seen through its pidfd: signals go through
// the pidfd (never to a reused pid), and the exit status arrives once, without SIGCHLD.
import { constants as osConstants } from 'node:os';
import { closeSync } from 'node:fs';
import type { ExitStatus, ExitWatchHandle, NativeBinding, SpawnedProcess } from '../native/binding.js';

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

export class PodProcess {
  readonly pid: number;
  /** Valid until the exit has been seen; closed then. */
  readonly pidfd: number;
  readonly exited: Promise<ExitStatus>;
  status: ExitStatus | undefined;
  private readonly binding: NativeBinding;
  private readonly watch: ExitWatchHandle;

  constructor(binding: NativeBinding, spawned: SpawnedProcess) {
    this.binding = binding;
    this.pid = spawned.pid;
    this.pidfd = spawned.pidfd;
    let resolve!: (s: ExitStatus) => void;
    this.exited = new Promise((r) => (resolve = r));
    this.watch = new binding.ExitWatch(this.pidfd, (status) => {
      this.status = status;
      closeSync(this.pidfd);
      resolve(status);
    });
  }

  get running(): boolean {
    return this.status === undefined;
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

  /** Lets the event loop end while this process still runs. */
  unref(): void {
    this.watch.unref();
  }
}
