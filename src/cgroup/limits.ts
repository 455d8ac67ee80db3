// Resource limits as cgroup files. Each of tspod's controllers (cpu, memory, pids) is either
// enabled in the v2 tree (a unified host) or bound to a v1 hierarchy of its own (a hybrid
// host's /sys/fs/cgroup/memory, say): the same cgroup path is then made there too, the
// process joins it before execve, and the limit is written in v1's words.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResourceAmounts } from '../pod/resources.js';
import { Cgroup, writeCgroupFile } from './cgroup.js';
import { CONTROLLERS, findV1Controllers, type Controller } from './hierarchy.js';

/** The kubelet's CFS period: a cpu limit is a quota of it. */
export const CPU_PERIOD_US = 100_000;
/** The kubelet's smallest quota (1 ms of each period). */
const MIN_QUOTA_US = 1000;
/** cpu.shares' range as the kubelet uses it. */
const MIN_SHARES = 2;
const MAX_SHARES = 262_144;

/** The kubelet's conversion of a cpu request to cpu.shares. */
export function cpuShares(millis: number): number {
  return Math.min(MAX_SHARES, Math.max(MIN_SHARES, Math.floor((millis * 1024) / 1000)));
}

/** cpu.shares (2..262144) to v2's cpu.weight (1..10000), as runc and the kubelet map it. */
export function cpuWeight(shares: number): number {
  return 1 + Math.floor(((shares - MIN_SHARES) * 9999) / (MAX_SHARES - MIN_SHARES));
}

/** A cpu limit as a quota of CPU_PERIOD_US, at least 1 ms (the kubelet's rounding). */
export function cpuQuotaUs(millis: number): number {
  return Math.max(MIN_QUOTA_US, Math.floor((millis * CPU_PERIOD_US) / 1000));
}

/**
 * The files, in the order they are written, that set `a` on one controller of one cgroup.
 * `container`: the cgroup of a container, which an OOM kill ends whole (v2's memory.oom.group,
 * as the kubelet sets it since 1.28); a pod's cgroup is not ended whole by one of its members.
 */
export function limitFiles(version: 1 | 2, controller: Controller, a: ResourceAmounts, container: boolean): [string, string][] {
  const files: [string, string][] = [];
  if (controller === 'cpu') {
    const shares = a.cpuRequestMillis === undefined ? undefined : cpuShares(a.cpuRequestMillis);
    const quota = a.cpuLimitMillis === undefined ? undefined : cpuQuotaUs(a.cpuLimitMillis);
    if (version === 2) {
      if (shares !== undefined) files.push(['cpu.weight', String(cpuWeight(shares))]);
      if (quota !== undefined) files.push(['cpu.max', `${quota} ${CPU_PERIOD_US}`]);
    } else {
      if (shares !== undefined) files.push(['cpu.shares', String(shares)]);
      if (quota !== undefined) files.push(['cpu.cfs_period_us', String(CPU_PERIOD_US)], ['cpu.cfs_quota_us', String(quota)]);
    }
  } else if (controller === 'memory') {
    const max = a.memoryLimitBytes;
    // Swap is off for a container with a limit, as the kubelet has it (v1: memory+swap = memory).
    if (version === 2) {
      if (max !== undefined) files.push(['memory.max', String(max)], ['memory.swap.max', '0']);
      if (container) files.push(['memory.oom.group', '1']);
    } else if (max !== undefined) files.push(['memory.limit_in_bytes', String(max)], ['memory.memsw.limit_in_bytes', String(max)]);
  } else if (a.pidsLimit !== undefined) files.push(['pids.max', String(a.pidsLimit)]);
  return files;
}

/** Which of a limit's controllers `a` needs. */
function needed(a: ResourceAmounts): Controller[] {
  const out: Controller[] = [];
  if (a.cpuRequestMillis !== undefined || a.cpuLimitMillis !== undefined) out.push('cpu');
  if (a.memoryLimitBytes !== undefined) out.push('memory');
  if (a.pidsLimit !== undefined) out.push('pids');
  return out;
}

/** Where each controller is on this host, for cgroups below one tspod root. */
export class Controllers {
  constructor(
    /** Enabled for tspod's cgroups in the v2 tree. */
    readonly v2: Controller[],
    /** Bound to v1 hierarchies (hybrid hosts): their mount points. */
    readonly v1: Partial<Record<Controller, string>>,
  ) {}

  /**
   * Finds them, and enables the v2 ones for the cgroups below `root` (which must exist): from
   * the hierarchy's root down to `root`, each cgroup passes on (cgroup.subtree_control) what it
   * is offered (cgroup.controllers) of tspod's controllers. Above `from` (a cgroup delegated to
   * tspod), what the service manager passes on is taken as it is: nothing is written there.
   */
  static setUp(mount: string, root: string, from = '/'): Controllers {
    const offered = (dir: string) => readFileSync(join(dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
    const parts = root.split('/').slice(1);
    let v2: Controller[] = [];
    for (let depth = 0; depth <= parts.length; depth++) {
      const name = '/' + parts.slice(0, depth).join('/');
      const dir = join(mount, name);
      v2 = CONTROLLERS.filter((c) => offered(dir).includes(c));
      if (from === '/' || name === from || name.startsWith(from + '/')) enable(dir, v2);
    }
    const v1 = findV1Controllers();
    for (const c of v2) delete v1[c];
    return new Controllers(v2, v1);
  }

  /** The v1 hierarchies of tspod's controllers, each once (cpu and cpuacct may share one). */
  v1Mounts(): string[] {
    return [...new Set(Object.values(this.v1))];
  }

  /** Those that the limits `a` need. */
  v1MountsFor(a: ResourceAmounts): string[] {
    return [...new Set(needed(a).flatMap((c) => this.v1[c] ?? []))];
  }

  /**
   * Writes `a` on the cgroup `name`, in whichever tree holds each controller. A limit whose
   * controller this host lacks is an error: a limit asked for is never silently dropped.
   */
  apply(mount: string, name: string, a: ResourceAmounts, container: boolean): void {
    for (const c of needed(a)) {
      if (!this.v2.includes(c) && !this.v1[c]) {
        throw new Error(`a ${c} limit, but this host's cgroups have no ${c} controller for tspod (${mount}${name})`);
      }
    }
    for (const c of CONTROLLERS) {
      const v1 = this.v1[c];
      const at = v1 ? v1 + name : this.v2.includes(c) ? mount + name : undefined;
      if (at) writeLimits(at, limitFiles(v1 ? 1 : 2, c, a, container));
    }
  }

  /** Enables tspod's v2 controllers for the children of a cgroup of its own (a pod's). */
  enableBelow(cg: Cgroup): void {
    enable(cg.path, this.v2);
  }
}

/** Enables controllers for a cgroup's children; those already enabled are not written again. */
function enable(dir: string, controllers: readonly Controller[]): void {
  const file = join(dir, 'cgroup.subtree_control');
  const on = readFileSync(file, 'utf8').trim().split(/\s+/);
  const missing = controllers.filter((c) => !on.includes(c));
  if (missing.length) writeCgroupFile(file, missing.map((c) => `+${c}`).join(' '));
}

function writeLimits(dir: string, files: [string, string][]): void {
  for (const [file, value] of files) {
    const path = join(dir, file);
    // Optional files: memsw only with swap accounting, memory.swap.max only with swap support.
    if ((file === 'memory.memsw.limit_in_bytes' || file === 'memory.swap.max') && !existsSync(path)) continue;
    try {
      writeCgroupFile(path, value);
    } catch (err) {
      // v1 keeps memory <= memory+swap: a raised limit needs memsw raised first.
      if (
        file === 'memory.limit_in_bytes' &&
        (err as NodeJS.ErrnoException).code === 'EINVAL' &&
        existsSync(join(dir, 'memory.memsw.limit_in_bytes'))
      ) {
        writeCgroupFile(join(dir, 'memory.memsw.limit_in_bytes'), value);
        writeCgroupFile(path, value);
      } else throw err;
    }
  }
}
