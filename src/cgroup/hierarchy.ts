// Where this host mounts the cgroup v2 hierarchy. Unified (/sys/fs/cgroup is cgroup2: Debian 12,
// Ubuntu 22.04+, Fedora, RHEL 9) or hybrid (v1 controllers under /sys/fs/cgroup, a cgroup2 at
// /sys/fs/cgroup/unified, often with no controller). Either way tspod's pods and containers
// are cgroups of that tree: membership, kill and "populated" need no controller.
import { readFileSync } from 'node:fs';

export type CgroupLayout = 'unified' | 'hybrid';

export interface V2Hierarchy {
  mount: string;
  layout: CgroupLayout;
}

/** mountinfo escapes blanks and backslashes in paths as \ooo. */
const unescape = (path: string) => path.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The v2 hierarchy as /proc/self/mountinfo shows it; undefined when none is mounted. */
export function findV2Hierarchy(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): V2Hierarchy | undefined {
  const points = mountinfo
    .split('\n')
    .filter((l) => l.split(' - ')[1]?.startsWith('cgroup2 '))
    .map((l) => unescape(l.split(' ')[4]));
  if (points.includes('/sys/fs/cgroup')) return { mount: '/sys/fs/cgroup', layout: 'unified' };
  return points.length ? { mount: points[0], layout: 'hybrid' } : undefined;
}
