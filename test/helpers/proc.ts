// Looks at real kernel objects through /proc, for root tests: namespace inodes, process
// states, parents. Nothing here is mocked.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';

export type NsName = 'net' | 'ipc' | 'uts' | 'pid' | 'mnt' | 'cgroup' | 'time' | 'user';

/** The inode of /proc/PID/ns/NAME: equal inodes mean the same namespace. */
export function nsInode(pid: number | 'self' | 'thread-self', ns: NsName): number {
  return statSync(`/proc/${pid}/ns/${ns}`).ino;
}

export interface ProcInfo {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  startTime: string;
}

export function procInfo(pid: number): ProcInfo | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm may hold spaces and parentheses: it ends at the last ')'.
  const close = stat.lastIndexOf(')');
  const rest = stat.slice(close + 2).split(' ');
  return { pid, comm: stat.slice(stat.indexOf('(') + 1, close), state: rest[0], ppid: Number(rest[1]), startTime: rest[19] };
}

export function allProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const info = procInfo(Number(name));
    if (info) out.push(info);
  }
  return out;
}

export function childrenOf(ppid: number): ProcInfo[] {
  return allProcesses().filter((p) => p.ppid === ppid);
}

/** Processes whose PID namespace is the one with this inode. */
export function processesInPidNs(inode: number): ProcInfo[] {
  return allProcesses().filter((p) => {
    try {
      return nsInode(p.pid, 'pid') === inode;
    } catch {
      return false;
    }
  });
}

/** Processes whose executable is `path` (a unique copy made by a test marks its processes). */
export function processesRunning(path: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/exe`).replace(/ \(deleted\)$/, '') === path) pids.push(Number(name));
    } catch {
      // gone, or a kernel thread
    }
  }
  return pids;
}

/** True while the process with this pid and start time still exists (and is not a zombie). */
export function alive(p: { pid: number; startTime: string }): boolean {
  const now = procInfo(p.pid);
  return !!now && now.startTime === p.startTime && now.state !== 'Z';
}

/** Polls `check` (sync or async) until it gives a truthy value; throws after the deadline. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * The mount points in this mount namespace at or under any of `dirs`, sorted. Tests look only
 * under their own directories: tap runs test files in parallel, and the others mount too.
 */
export function mountsUnder(...dirs: string[]): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => (l.split(' ')[4] ?? '').replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p && dirs.some((d) => p === d || p.startsWith(d + '/')))
    .sort();
}
