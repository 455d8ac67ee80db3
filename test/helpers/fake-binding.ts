// A recording stand-in for the native addon, for unit tests of the TypeScript around it: it
// creates no process. pidfds are real fds (of /dev/null) because the runtime closes them.
import { openSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import type { CompiledSeccomp, ExitStatus, NativeBinding, SeccompFilter, SpawnRequest, SpawnedProcess } from '../../src/native/binding.js';

export interface FakeProcess {
  pid: number;
  pidfd: number;
  request: SpawnRequest;
  signals: number[];
  exited: boolean;
}

export class FakeBinding implements NativeBinding {
  readonly spawned: FakeProcess[] = [];
  /** Make every spawn whose argv[0] matches throw this error (until unset). */
  failSpawn: { argv0: string; error: Error } | undefined;
  /** Processes (by argv[0]) that do not exit on SIGTERM. */
  readonly ignoresTerm = new Set<string>();
  private nextPid = 1000;
  private readonly watchers = new Map<number, (s: ExitStatus) => void>();

  constants = {
    CLONE_NEWNS: 0x20000,
    CLONE_NEWUTS: 0x4000000,
    CLONE_NEWIPC: 0x8000000,
    CLONE_NEWPID: 0x20000000,
    CLONE_NEWNET: 0x40000000,
    CLONE_NEWUSER: 0x10000000,
    CLONE_NEWCGROUP: 0x2000000,
    CLONE_NEWTIME: 0x80,
    MS_RDONLY: 1,
    MS_NOSUID: 2,
    MS_NODEV: 4,
    MS_NOEXEC: 8,
    MS_REMOUNT: 32,
    MS_BIND: 4096,
    MS_REC: 16384,
    MS_PRIVATE: 1 << 18,
    AF_INET: 2,
    AF_INET6: 10,
    SOCK_STREAM: 1,
    SOCK_DGRAM: 2,
    S_IFCHR: 0o20000,
    S_IFBLK: 0o60000,
    S_IFIFO: 0o10000,
    MNT_DETACH: 2,
    O_PATH: 0o10000000,
  };

  spawn = (request: SpawnRequest): SpawnedProcess => {
    if (this.failSpawn && request.argv[0] === this.failSpawn.argv0) throw this.failSpawn.error;
    const proc: FakeProcess = { pid: this.nextPid++, pidfd: openSync('/dev/null', 'r'), request, signals: [], exited: false };
    this.spawned.push(proc);
    return { pid: proc.pid, pidfd: proc.pidfd };
  };

  /** Filters it was asked to compile; the "program" is the filter's JSON, padded to whole instructions. */
  readonly seccompFilters: SeccompFilter[] = [];
  compileSeccomp = (filter: SeccompFilter): CompiledSeccomp => {
    this.seccompFilters.push(filter);
    const json = Buffer.from(JSON.stringify(filter));
    return { program: Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8)]), flags: 0 };
  };

  unshare = (): void => {};
  flock = (): boolean => true;
  socketInNetns = (): never => {
    throw new Error('the fake binding has no network namespaces');
  };
  /** What sendDatagram was given, by socket path. */
  datagrams: [path: string, data: string][] = [];
  sendDatagram = (path: string, data: string): void => {
    this.datagrams.push([path, data]);
  };
  mknod = (): void => {};
  lsetxattr = (): void => {};
  lgetxattr = (): null => null;
  mount = (): void => {};
  umount2 = (): void => {};
  openBeneath = (): never => {
    throw new Error('the fake binding opens no files');
  };
  createUserNamespace = (): never => {
    throw new Error('the fake binding makes no user namespaces');
  };
  userNamespaceMaps = (): never => {
    throw new Error('the fake binding enters no user namespaces');
  };
  probeIdmappedMount = (): never => {
    throw new Error('the fake binding makes no mounts');
  };
  openPty = (): never => {
    throw new Error('the fake binding has no terminals');
  };
  setWindowSize = (): void => {};
  FdReader = class {
    constructor() {
      throw new Error('the fake binding reads no fd');
    }
  } as unknown as NativeBinding['FdReader'];
  setns = (): void => {};
  /** Adoption: the process becomes a fake one that exit() can end. */
  pidfdOpen = (pid: number): number => {
    const proc: FakeProcess = {
      pid,
      pidfd: openSync('/dev/null', 'r'),
      request: { path: '', argv: ['(adopted)'], env: [], stdio: [] },
      signals: [],
      exited: false,
    };
    this.spawned.push(proc);
    return proc.pidfd;
  };

  pidfdSendSignal = (pidfd: number, signal: number): void => {
    const proc = this.spawned.find((p) => p.pidfd === pidfd && !p.exited);
    if (!proc) throw Object.assign(new Error('ESRCH'), { code: 'ESRCH' });
    proc.signals.push(signal);
    const { SIGTERM, SIGKILL } = osConstants.signals;
    if (signal === SIGKILL || (signal === SIGTERM && !this.ignoresTerm.has(proc.request.argv[0]))) {
      setImmediate(() => this.end(proc, { code: null, signal, coreDumped: false }));
    }
  };

  /** The read end gives a byte at once (/dev/zero): the fake pause is always ready. */
  pipe = (): [number, number] => [openSync('/dev/zero', 'r'), openSync('/dev/null', 'w')];

  ExitWatch = ((binding: FakeBinding) =>
    class {
      private pidfd: number;
      constructor(pidfd: number, onExit: (s: ExitStatus) => void) {
        this.pidfd = pidfd;
        binding.watchers.set(pidfd, onExit);
      }
      ref() {
        return this;
      }
      unref() {
        return this;
      }
      close() {
        binding.watchers.delete(this.pidfd);
      }
    })(this);

  /** Ends a fake process, as the kernel would, and reports it to its watcher. */
  exit(pid: number, status: ExitStatus = { code: 0, signal: null, coreDumped: false }): void {
    const proc = this.spawned.find((p) => p.pid === pid && !p.exited);
    if (proc) this.end(proc, status);
  }

  private end(proc: FakeProcess, status: ExitStatus): void {
    if (proc.exited) return;
    proc.exited = true;
    const onExit = this.watchers.get(proc.pidfd);
    this.watchers.delete(proc.pidfd);
    onExit?.(status);
  }

  /** Whether an exit watch is open on this pidfd. */
  watching(pidfd: number): boolean {
    return this.watchers.has(pidfd);
  }

  /** Every process spawned with this argv[0], oldest first. */
  allByArgv0(argv0: string): FakeProcess[] {
    return this.spawned.filter((s) => s.request.argv[0] === argv0);
  }

  byArgv0(argv0: string): FakeProcess {
    const p = this.spawned.find((s) => s.request.argv[0] === argv0);
    if (!p) throw new Error(`no fake process ${argv0}`);
    return p;
  }
}

/** A clock for the crash back-off that moves only when told to. */
export class FakeClock {
  t = 1_000_000;
  /** Every delay asked for, in order. */
  readonly delays: number[] = [];
  private timers: { at: number; fn: () => void }[] = [];

  now = (): number => this.t;

  setTimeout = (fn: () => void, ms: number): unknown => {
    const timer = { at: this.t + ms, fn };
    this.delays.push(ms);
    this.timers.push(timer);
    return timer;
  };

  clearTimeout = (handle: unknown): void => {
    this.timers = this.timers.filter((t) => t !== handle);
  };

  /** Moves time on and runs the timers that came due, in order. */
  advance(ms: number): void {
    this.t += ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= this.t).sort((a, b) => a.at - b.at)[0];
      if (!due) return;
      this.timers = this.timers.filter((t) => t !== due);
      due.fn();
    }
  }
}
