// A pod's user namespace, made and entered (pod/userns.ts has the policy): the infra's spawn
// joins it before it makes the pod's other namespaces, so they are its own; a container sets up
// its file system as the host's root, then enters it (native/child.cc). An image's
// layers are seen through idmapped mounts, whose kernel support is checked before the pod is made.
import { closeSync, openSync, statfsSync } from 'node:fs';
import { release } from 'node:os';
import { Conflict, InputError, TspodError } from '../errors.js';
import type { NamespaceJoin, NativeBinding } from '../native/binding.js';
import { idMapText } from '../pod/userns.js';
import { everyContainer, type IdRange, type PodSpec } from '../pod/spec.js';
import type { ContainerFs } from '../storage/storage.js';

/**
 * The pod's user namespace, made from its range, as the infra's last join; the directories its
 * containers' roots map (image layers, a rootfs) checked first. The caller closes the fd. A
 * namespace the pod joins (`joined`, among the infra's joins already) is only checked.
 */
export function podUserNamespace(
  binding: NativeBinding,
  spec: Pick<PodSpec, 'userNamespace' | 'initContainers' | 'containers'>,
  mounts: (ContainerFs | undefined)[],
  joined?: NamespaceJoin,
): NamespaceJoin | undefined {
  const fd = joined?.fd ?? createPodUserNamespace(binding, spec.userNamespace!);
  try {
    const every = everyContainer(spec);
    const all = mounts.flatMap((m, i) => {
      const rootfs = every[i].c.rootfs;
      if (m?.image) return m.image.layers.map((path) => ({ path, what: `the layer of image ${m.image!.ref}` }));
      return m?.ownRoot && rootfs ? [{ path: rootfs, what: `${every[i].path}.rootfs` }] : [];
    });
    // Containers of one image share its layers: each directory is asked about once.
    const dirs = all.filter((d, i) => all.findIndex((x) => x.path === d.path) === i);
    checkIdmappedMounts(
      binding,
      fd,
      dirs,
      mounts.some((m) => m?.image),
    );
  } catch (err) {
    if (!joined) closeSync(fd);
    throw err;
  }
  if (joined) return undefined; // the infra joins it with the pod's other joins
  const { hostId, size } = spec.userNamespace!;
  return { fd, type: binding.constants.CLONE_NEWUSER, label: `the pod's user namespace (host ids ${hostId}-${hostId + size - 1})` };
}

/** A new user namespace with the pod's ids (an fd that keeps it alive, the caller's to close). */
export function createPodUserNamespace(binding: Pick<NativeBinding, 'createUserNamespace'>, range: IdRange): number {
  try {
    return binding.createUserNamespace(idMapText(range), idMapText(range));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      { ENOSPC: 'user.max_user_namespaces is reached', EINVAL: 'this kernel has no user namespaces (CONFIG_USER_NS)' }[e.code ?? ''] ??
      e.message;
    throw new TspodError(`hostUsers: false: no user namespace for the pod: ${e.syscall} ${e.code}: ${why}`);
  }
}

/** File systems by statfs(2) type, for errors (linux/magic.h). */
const FS_NAMES: Record<number, string> = {
  0x01021994: 'tmpfs',
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021997: '9p',
  0x794c7630: 'overlayfs',
};

/** "5.19.0-1-amd64" older than major.minor. */
function kernelBefore(kernel: string, major: number, minor: number): boolean {
  const [a, b] = kernel.split('.').map((x) => parseInt(x, 10));
  return a < major || (a === major && b < minor);
}

/**
 * Throws an InputError naming the kernel feature unless each directory's file system takes an
 * idmapped mount through `usernsFd` (Linux 5.12, each file system from its own version: tmpfs
 * 6.3) and, for image layers, overlayfs takes idmapped layers (5.19).
 */
export function checkIdmappedMounts(
  binding: Pick<NativeBinding, 'probeIdmappedMount'>,
  usernsFd: number,
  dirs: { path: string; what: string }[],
  overlay: boolean,
  kernel = release(),
): void {
  if (overlay && kernelBefore(kernel, 5, 19)) {
    throw new InputError('hostUsers', `false needs overlayfs over idmapped layers (Linux 5.19); this kernel is ${kernel}`);
  }
  for (const { path, what } of dirs) {
    try {
      binding.probeIdmappedMount(path, usernsFd);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const type = statfsSync(path).type;
      const fs = FS_NAMES[type] ?? `file system 0x${type.toString(16)}`;
      throw new InputError(
        'hostUsers',
        `false needs idmapped mounts of ${what} ${path}, and ${fs} on Linux ${kernel} refuses them (${e.syscall}: ${e.code}; ` +
          'idmapped mounts are Linux 5.12, of tmpfs 6.3)',
      );
    }
  }
}

/** A joined user namespace's maps; the host's own (which setns refuses: EINVAL) named as such. */
export function userNamespaceMaps(binding: Pick<NativeBinding, 'userNamespaceMaps'>, join: NamespaceJoin): { uid: string; gid: string } {
  try {
    return binding.userNamespaceMaps(join.fd);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EINVAL' ? "it is the host's user namespace (that is --userns host)" : e.message;
    throw new InputError('--userns', `${join.label}: ${why}`);
  }
}

/**
 * The user namespace of a pod's process (the infra's, for a container or a pod that joins it;
 * a container's, for an exec): /proc/PID/ns/user, then the pidfd asked whether PID is still that
 * process (a pid reused after it died would be another's).
 */
export function openUserNamespace(binding: Pick<NativeBinding, 'pidfdSendSignal'>, infra: { pid: number; pidfd: number }): number {
  const path = `/proc/${infra.pid}/ns/user`;
  const fd = openSync(path, 'r');
  try {
    binding.pidfdSendSignal(infra.pidfd, 0);
  } catch {
    closeSync(fd);
    throw new Conflict(`the pod's infra process (pid ${infra.pid}) has exited: its user namespace is gone`);
  }
  return fd;
}
