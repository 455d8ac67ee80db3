// What a container's mount namespace looks like, as a list of steps for the spawn path (run in
// the child, in order; see native/child.cc). Paths inside the container's root are resolved
// there by the child (openat2 RESOLVE_IN_ROOT), never on the host: a symlink in a root file
// system cannot lead a step out of it.
import { mkdirSync, symlinkSync } from 'node:fs';
import type { FsStep, NativeConstants } from '../native/binding.js';
import { MASKED_PATHS, READONLY_PATHS } from '../pod/security.js';
import { removeTree } from './remove.js';

/** A bind mount into the container: a host path (already checked) onto a path inside it. */
export interface BindMount {
  source: string;
  /** A path beneath source (a volume's subPath), resolved by the kernel at every mount. */
  sourceBeneath?: string;
  /** Absolute, inside the container. */
  target: string;
  /** The source is a directory (else a file: its mount point is a file too). */
  directory: boolean;
  readOnly: boolean;
}

export interface RootfsPlan {
  /** Where the root is mounted on the host, inside the container's mount namespace only. */
  root: string;
  /**
   * An image: overlay of its layers under upper/work; `links` is a directory of symlinks named
   * 0, 1, ... to the layers, bottom first (layerLinks); or a directory, bound.
   */
  source: { links: string; count: number; upper: string; work: string } | { dir: string };
  readOnly: boolean;
  /** The pod's /dev/shm (a tmpfs shared by its containers, as POSIX IPC is). */
  shm: string;
  /** The pod's etc files: hostname, hosts, resolv.conf. */
  etc: string;
  binds: BindMount[];
  /**
   * Privileged: /sys writable. Its /dev is still a tmpfs of its own (the host's, bound in, would
   * take the termination-log file and whatever else is made there): with every capability, it
   * can mknod the devices it needs.
   */
  privileged?: boolean;
  /** runc's masked and read-only paths of /proc and /sys (pod/security.ts). */
  masked?: boolean;
  /**
   * In a user namespace of the pod's: the host id of its root. The image's layers (or the
   * directory) are idmapped through it, so their files keep their owners inside; /dev is its.
   */
  owner?: number;
}

/** The masked and read-only paths, once /proc and /sys are where they will be seen. */
function maskSteps(masked: boolean | undefined): FsStep[] {
  if (!masked) return [];
  return [
    ...MASKED_PATHS.map((target): FsStep => ({ op: 'mask', target })),
    ...READONLY_PATHS.map((target): FsStep => ({ op: 'readonly', target })),
  ];
}

/** /dev's nodes, as the OCI runtime spec lists the default devices. */
const DEVICES: [name: string, major: number, minor: number][] = [
  ['null', 1, 3],
  ['zero', 1, 5],
  ['full', 1, 7],
  ['random', 1, 8],
  ['urandom', 1, 9],
  ['tty', 5, 0],
];

const DEV_LINKS: [name: string, to: string][] = [
  ['fd', '/proc/self/fd'],
  ['stdin', '/proc/self/fd/0'],
  ['stdout', '/proc/self/fd/1'],
  ['stderr', '/proc/self/fd/2'],
  ['ptmx', 'pts/ptmx'],
];

/** mkdir -p, one step a level, inside the root. */
function mkdirs(path: string): FsStep[] {
  const parts = path.split('/').filter(Boolean);
  return parts.map((_, i) => ({ op: 'mkdir' as const, target: '/' + parts.slice(0, i + 1).join('/'), mode: 0o755, inRoot: true }));
}

function parent(path: string): string {
  return path.slice(0, path.lastIndexOf('/')) || '/';
}

const bindSource = (m: BindMount) => ({ source: m.source, ...(m.sourceBeneath ? { sourceBeneath: m.sourceBeneath } : {}) });

/** A bind mount inside the root, made read-only by a remount when asked. */
function bind(c: NativeConstants, m: BindMount): FsStep[] {
  const steps: FsStep[] = m.directory
    ? mkdirs(m.target)
    : [...mkdirs(parent(m.target)), { op: 'touch', target: m.target, mode: 0o644, inRoot: true }];
  steps.push({ op: 'mount', ...bindSource(m), target: m.target, flags: c.MS_BIND | c.MS_REC, inRoot: true });
  if (m.readOnly) steps.push({ op: 'mount', target: m.target, flags: c.MS_REMOUNT | c.MS_BIND | c.MS_RDONLY, inRoot: true });
  return steps;
}

/**
 * The overlay of an image's layers. mount(2) takes its options in one page (4,095 bytes), and a
 * layer's path in the store is about 100: 41 layers was the most an image could have. The
 * layers are named by numbered symlinks in a directory of the container's own instead, and the
 * child changes to it first: a lowerdir is then a number, resolved (the symlink followed) from
 * there, and overlayfs's own limit of 500 lower layers is the one that counts.
 */
function overlaySteps(
  s: { links: string; count: number; upper: string; work: string },
  root: string,
  flags: number,
  idmapped: boolean,
): FsStep[] {
  const lower = Array.from({ length: s.count }, (_, i) => String(s.count - 1 - i)).join(':');
  return [
    { op: 'chdir', target: s.links },
    // Each layer, seen through its link, covered by an idmapped copy of itself: overlayfs takes
    // idmapped layers from Linux 5.19. (The upper layer is the namespace root's already.)
    ...(idmapped ? Array.from({ length: s.count }, (_, i): FsStep => ({ op: 'idmap', source: String(i), target: String(i) })) : []),
    {
      op: 'mount',
      source: 'overlay',
      target: root,
      fstype: 'overlay',
      flags,
      data: `lowerdir=${lower},upperdir=${s.upper},workdir=${s.work}`,
    },
  ];
}

/** Makes `dir` hold symlinks 0, 1, ... to `layers` (bottom first), for overlaySteps. */
export function layerLinks(dir: string, layers: readonly string[]): void {
  removeTree(dir);
  mkdirSync(dir, { mode: 0o700 });
  layers.forEach((layer, i) => symlinkSync(layer, `${dir}/${i}`));
}

/**
 * A root's steps with a read-only cgroup2 at /sys/fs/cgroup, right after sysfs: mounted in the
 * container's cgroup namespace, it shows the container's own cgroup as its root.
 */
export function withCgroupfs(c: NativeConstants, steps: FsStep[]): FsStep[] {
  const sys = steps.findIndex((s) => s.op === 'mount' && s.fstype === 'sysfs');
  if (sys < 0) return steps; // the host's file system: its /sys is the host's
  const cgroupfs: FsStep = {
    op: 'mount',
    source: 'cgroup2',
    target: '/sys/fs/cgroup',
    fstype: 'cgroup2',
    flags: c.MS_NOSUID | c.MS_NODEV | c.MS_NOEXEC | c.MS_RDONLY,
    inRoot: true,
  };
  return [...steps.slice(0, sys + 1), cgroupfs, ...steps.slice(sys + 1)];
}

/** The steps for a container with a root file system of its own, ending in pivot_root. */
export function rootfsSteps(c: NativeConstants, plan: RootfsPlan): FsStep[] {
  const { root } = plan;
  // Layers can carry device nodes; the container's devices are /dev's, on a tmpfs.
  const rootFlags = 'links' in plan.source ? c.MS_NODEV : 0;
  // Mounted by the host's root: a tmpfs's owner ids are the host's.
  const devOwner = plan.owner !== undefined ? `,uid=${plan.owner},gid=${plan.owner}` : '';
  const steps: FsStep[] = [
    // Nothing mounted in the container may reach the host, where / is often shared.
    { op: 'mount', target: '/', flags: c.MS_REC | c.MS_PRIVATE },
    ...('links' in plan.source
      ? overlaySteps(plan.source, root, rootFlags, plan.owner !== undefined)
      : // pivot_root wants a mount point: the directory bound onto the root's place.
        [
          plan.owner !== undefined
            ? { op: 'idmap' as const, source: plan.source.dir, target: root }
            : { op: 'mount' as const, source: plan.source.dir, target: root, flags: c.MS_BIND | c.MS_REC },
        ]),
    { op: 'openRoot', target: root },

    ...mkdirs('/proc'),
    { op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', flags: c.MS_NOSUID | c.MS_NODEV | c.MS_NOEXEC, inRoot: true },
    ...mkdirs('/sys'),
    {
      op: 'mount',
      source: 'sysfs',
      target: '/sys',
      fstype: 'sysfs',
      flags: c.MS_NOSUID | c.MS_NODEV | c.MS_NOEXEC | (plan.privileged ? 0 : c.MS_RDONLY),
      inRoot: true,
    },

    ...mkdirs('/dev'),
    {
      op: 'mount',
      source: 'tmpfs',
      target: '/dev',
      fstype: 'tmpfs',
      flags: c.MS_NOSUID,
      data: `mode=755,size=65536k${devOwner}`,
      inRoot: true,
    },
    ...DEVICES.map(([name, major, minor]): FsStep => ({
      op: 'mknod',
      target: `/dev/${name}`,
      mode: c.S_IFCHR | 0o666,
      major,
      minor,
      inRoot: true,
    })),
    ...DEV_LINKS.map(([name, to]): FsStep => ({ op: 'symlink', source: to, target: `/dev/${name}`, inRoot: true })),
    { op: 'mkdir', target: '/dev/pts', mode: 0o755, inRoot: true },
    {
      op: 'mount',
      source: 'devpts',
      target: '/dev/pts',
      fstype: 'devpts',
      flags: c.MS_NOSUID | c.MS_NOEXEC,
      // The tty group, 5 (the OCI runtime spec's default). In a user namespace none: a terminal is
      // then the group of whoever opens it, the namespace's (Linux 6.1 reads gid= as an int, and
      // the pod's ids are above 2^31 by default).
      data: `newinstance,ptmxmode=0666,mode=0620${plan.owner === undefined ? ',gid=5' : ''}`,
      inRoot: true,
    },
    { op: 'mkdir', target: '/dev/shm', mode: 0o1777, inRoot: true },
    { op: 'mount', source: plan.shm, target: '/dev/shm', flags: c.MS_BIND, inRoot: true },

    // The pod's own hostname, hosts and resolv.conf, as the kubelet gives each pod.
    ...['hostname', 'hosts', 'resolv.conf'].flatMap((f) =>
      bind(c, { source: `${plan.etc}/${f}`, target: `/etc/${f}`, directory: false, readOnly: false }),
    ),
    ...plan.binds.flatMap((m) => bind(c, m)),
  ];
  // After every mount point is made: the root is then read-only for everything after it. The
  // child keeps the flags the mount has; nodev is given too, as it matters most here.
  if (plan.readOnly) steps.push({ op: 'mount', target: root, flags: c.MS_REMOUNT | c.MS_BIND | c.MS_RDONLY | rootFlags });
  steps.push({ op: 'pivot', target: root }, ...maskSteps(plan.masked));
  return steps;
}

/** The steps for a container on the host's file system: its own /proc, and its volumes. */
export function hostfsSteps(c: NativeConstants, binds: BindMount[], masked = false): FsStep[] {
  return [
    // Nothing mounted in the container may reach the host, where / is often shared.
    { op: 'mount', target: '/', flags: c.MS_REC | c.MS_PRIVATE },
    // A /proc of the PID namespace the process lives in: ps shows the pod, not the host.
    { op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', flags: c.MS_NOSUID | c.MS_NODEV | c.MS_NOEXEC },
    ...maskSteps(masked),
    // Mount points on the host must exist already (storage.ts checks): nothing is made there.
    ...binds.flatMap((m): FsStep[] => [
      { op: 'mount', ...bindSource(m), target: m.target, flags: c.MS_BIND | c.MS_REC },
      ...(m.readOnly ? [{ op: 'mount' as const, target: m.target, flags: c.MS_REMOUNT | c.MS_BIND | c.MS_RDONLY }] : []),
    ]),
  ];
}
