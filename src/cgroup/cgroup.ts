// One cgroup of the v2 hierarchy: its processes, whether anything still runs in it, signals to
// all of them, and its removal. v2 because membership, kill and "populated" work there on every
// host tspod supports, even with no controller enabled (this project's hybrid hosts). A v1
// hierarchy's cgroup (limits on a hybrid host) uses only its directory and cgroup.procs.
import { closeSync, constants as fsConstants, mkdirSync, openSync, readFileSync, readdirSync, rmdirSync, watch, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { NativeBinding } from '../native/binding.js';

/** The fd a spawned process writes itself into (SpawnRequest.joinCgroups). */
export interface CgroupJoin {
  fd: number;
  label: string;
}

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

/**
 * Writes a cgroup interface file that must exist. Never with O_CREAT: creating a file in a
 * cgroup directory fails with EACCES, which would hide the ENOENT of a file this kernel lacks
 * (cgroup.kill before 5.14). Write-only: kernfs refuses read access to a file with no read.
 */
export function writeCgroupFile(path: string, value: string): void {
  const fd = openSync(path, fsConstants.O_WRONLY);
  try {
    writeSync(fd, value);
  } finally {
    closeSync(fd);
  }
}

export class Cgroup {
  /** Its directory. */
  readonly path: string;

  /** `mount`: where the v2 hierarchy is mounted; `name`: the cgroup's path in it, '/a/b'. */
  constructor(
    readonly mount: string,
    readonly name: string,
  ) {
    this.path = mount + name;
  }

  /** Creates the directory (and its parents); an existing one is fine. */
  static make(mount: string, name: string): Cgroup {
    makeDirs(mount + name);
    return new Cgroup(mount, name);
  }

  child(name: string): Cgroup {
    return new Cgroup(this.mount, `${this.name}/${name}`);
  }

  /** The directory, open for clone3's CLONE_INTO_CGROUP: the caller closes it. */
  openDir(): CgroupJoin {
    return { fd: openSync(this.path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY), label: this.path };
  }

  /** cgroup.procs, open for writing (Node opens every fd close-on-exec): the caller closes it. */
  openProcs(): CgroupJoin {
    const label = join(this.path, 'cgroup.procs');
    return { fd: openSync(label, fsConstants.O_WRONLY), label };
  }

  /** Moves a process here (a migration); one that has exited meanwhile is no error. */
  move(pid: number): void {
    try {
      writeCgroupFile(join(this.path, 'cgroup.procs'), String(pid));
    } catch (err) {
      if (errno(err) !== 'ESRCH') throw err;
    }
  }

  /** Processes in this cgroup and every cgroup below it; none when it is gone. */
  pids(): number[] {
    let text: string;
    let subdirs: string[];
    try {
      text = readFileSync(join(this.path, 'cgroup.procs'), 'utf8');
      subdirs = readdirSync(this.path, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch (err) {
      if (errno(err) === 'ENOENT') return [];
      throw err;
    }
    const own = text.split('\n').filter(Boolean).map(Number);
    return [...own, ...subdirs.flatMap((d) => this.child(d).pids())];
  }

  /** True while a process runs in it or below it (cgroup.events). */
  populated(): boolean {
    try {
      return /^populated 1$/m.test(readFileSync(join(this.path, 'cgroup.events'), 'utf8'));
    } catch (err) {
      if (errno(err) === 'ENOENT') return false;
      throw err;
    }
  }

  /**
   * Sends `signal` to every process in it and below it, through pidfds (a pid that exits is
   * skipped, never signalled after reuse: its pidfd is opened first, then checked to be here).
   */
  signal(binding: NativeBinding, signal: number): void {
    for (const pid of this.pids()) {
      let pidfd: number;
      try {
        pidfd = binding.pidfdOpen(pid);
      } catch {
        continue; // gone
      }
      try {
        if (this.holds(pid)) binding.pidfdSendSignal(pidfd, signal);
      } catch {
        // exited meanwhile
      } finally {
        closeSync(pidfd);
      }
    }
  }

  /** Whether the process is in this cgroup or below it, by its /proc/PID/cgroup ("0::/a/b"). */
  private holds(pid: number): boolean {
    const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
    const name = line?.slice(3);
    return name === this.name || (name?.startsWith(this.name + '/') ?? false);
  }

  /**
   * SIGKILL to every process in it and below it. cgroup.kill (Linux 5.14) does it in one step,
   * forks included; before it, frozen first so nothing forks between the listing and the kill.
   */
  kill(binding: NativeBinding): void {
    try {
      writeCgroupFile(join(this.path, 'cgroup.kill'), '1');
      return;
    } catch (err) {
      if (errno(err) === 'ENOENT' && !this.exists()) return;
      if (errno(err) !== 'ENOENT') throw err;
    }
    writeCgroupFile(join(this.path, 'cgroup.freeze'), '1');
    try {
      this.signal(binding, 9);
    } finally {
      writeCgroupFile(join(this.path, 'cgroup.freeze'), '0');
    }
  }

  /**
   * Resolves true once nothing runs in it (or it is gone), false at the deadline. `wake`, the
   * exit of a process that was in it, makes it look at once.
   */
  emptied(timeoutMs: number, wake?: Promise<unknown>): Promise<boolean> {
    if (!this.populated()) return Promise.resolve(true);
    return new Promise((resolve) => {
      // The kernel notifies a change of cgroup.events (inotify), but at most one in 10 ms
      // (CGROUP_FILE_NOTIFY_MIN_INTV), and not always to a watch made while the change is
      // under way: a poll, 1 ms at first and doubling to 100 ms, backs it up (killed processes
      // are mostly gone within a few ms), and so does `wake`, the usual last exit.
      let watcher: ReturnType<typeof watch> | undefined;
      let poll: NodeJS.Timeout | undefined;
      let done = false;
      const deadline = Date.now() + timeoutMs;
      const finish = (empty: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(poll);
        watcher?.close();
        resolve(empty);
      };
      const check = () => {
        if (!this.populated()) finish(true);
      };
      const schedule = (ms: number) => {
        poll = setTimeout(() => {
          check();
          if (done) return;
          if (Date.now() >= deadline) finish(false);
          else schedule(Math.min(ms * 2, 100, Math.max(1, deadline - Date.now())));
        }, ms);
      };
      try {
        watcher = watch(join(this.path, 'cgroup.events'), check);
        watcher.on('error', () => undefined);
      } catch {
        // gone already: the next check says so
      }
      schedule(1);
      void wake?.then(check, check);
      check();
    });
  }

  /** Removes it and every cgroup below it, deepest first; each must be empty. Gone is fine. */
  remove(): void {
    // Most have no cgroup below them: one rmdir, and a listing only when it says EBUSY.
    try {
      rmdirSync(this.path);
      return;
    } catch (err) {
      if (errno(err) === 'ENOENT') return;
      if (errno(err) !== 'EBUSY') throw err;
    }
    let subdirs: string[];
    try {
      subdirs = readdirSync(this.path, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch (err) {
      if (errno(err) === 'ENOENT') return;
      throw err;
    }
    for (const d of subdirs) this.child(d).remove();
    try {
      rmdirSync(this.path);
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
    }
  }

  exists(): boolean {
    try {
      readdirSync(this.path);
      return true;
    } catch {
      return false;
    }
  }
}

/** mkdir -p, where a parent removed meanwhile (an emptied tspod root, by another tspod) is made again. */
function makeDirs(path: string): void {
  for (let attempt = 0; ; attempt++) {
    try {
      mkdirSync(path, { recursive: true, mode: 0o755 });
      return;
    } catch (err) {
      if (errno(err) !== 'ENOENT' || attempt >= 3) throw err;
    }
  }
}
