// Where this host mounts the cgroup v2 hierarchy. Unified (/sys/fs/cgroup is cgroup2: Debian 12,
// Ubuntu 22.04+, Fedora, RHEL 9) or hybrid (v1 controllers under /sys/fs/cgroup, a cgroup2 at
// /sys/fs/cgroup/unified, often with no controller). Either way tspod's pods and containers
// are cgroups of that tree: membership, kill and "populated" need no controller.
import { mkdirSync, readFileSync } from 'node:fs';
import type { NativeBinding } from '../native/binding.js';

export type CgroupLayout = 'unified' | 'hybrid';

export interface V2Hierarchy {
  mount: string;
  layout: CgroupLayout;
}

/** mountinfo escapes blanks and backslashes in paths as \ooo. */
const unescape = (path: string) => path.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The controllers tspod limits with. */
export const CONTROLLERS = ['cpu', 'memory', 'pids'] as const;
export type Controller = (typeof CONTROLLERS)[number];

/** mountinfo's lines as [mount point, file-system type, super options]. */
function mounts(mountinfo: string): [string, string, string[]][] {
  return mountinfo
    .split('\n')
    .filter((l) => l.includes(' - '))
    .map((l) => {
      const [fstype, , options = ''] = l.split(' - ')[1].split(' ');
      return [unescape(l.split(' ')[4]), fstype, options.split(',')];
    });
}

/** The v2 hierarchy as /proc/self/mountinfo shows it; undefined when none is mounted. */
export function findV2Hierarchy(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): V2Hierarchy | undefined {
  const points = mounts(mountinfo)
    .filter(([, fstype]) => fstype === 'cgroup2')
    .map(([point]) => point);
  if (points.includes('/sys/fs/cgroup')) return { mount: '/sys/fs/cgroup', layout: 'unified' };
  return points.length ? { mount: points[0], layout: 'hybrid' } : undefined;
}

let v1Here: Partial<Record<Controller, string>> | undefined;

/**
 * The v1 hierarchies of tspod's controllers, where they are mounted (a hybrid host's
 * /sys/fs/cgroup/memory; cpu may share one with cpuacct). A controller bound to v1 is not
 * available in the v2 tree.
 */
export function findV1Controllers(mountinfo?: string): Partial<Record<Controller, string>> {
  // Read once a process: a host's v1 hierarchies are mounted at boot, and reading mountinfo
  // took 0.4 ms of each pod's creation here.
  if (mountinfo === undefined) return { ...(v1Here ??= findV1Controllers(readFileSync('/proc/self/mountinfo', 'utf8'))) };
  const out: Partial<Record<Controller, string>> = {};
  for (const [point, fstype, options] of mounts(mountinfo)) {
    if (fstype !== 'cgroup') continue;
    for (const c of CONTROLLERS) if (options.includes(c)) out[c] ??= point;
  }
  return out;
}

/**
 * The v2 hierarchy; where none is mounted (a host with v1 only), tspod mounts one of its own at
 * `own`, in its state directory, as systemd's hybrid mode mounts one for itself: with no
 * controller (v1 holds them), membership, cgroup.kill and populated still work, so a
 * container is still all of its processes. It stays mounted for later commands.
 */
export function ensureV2Hierarchy(binding: NativeBinding, own: string): V2Hierarchy {
  const found = findV2Hierarchy();
  if (found) return found;
  mkdirSync(own, { recursive: true, mode: 0o700 });
  const c = binding.constants;
  binding.mount('cgroup2', own, 'cgroup2', c.MS_NOSUID | c.MS_NODEV | c.MS_NOEXEC, '');
  return { mount: own, layout: 'hybrid' };
}
