// A container joins its pod: it enters the infra's namespaces that the pod shares (through the
// infra's pidfd, so a reused pid can never send it elsewhere), gets new ones for the rest, and a
// mount namespace of its own with a /proc for the PID namespace it lives in.
import type { FsStep, NativeBinding, NativeConstants, SpawnRequest } from '../native/binding.js';
import { hostfsSteps } from '../fs/rootfs.js';
import type { SharedNamespace } from '../pod/spec.js';
import { PodProcess } from './process.js';

/** Everything needed to start one container process, decided before anything is created. */
export interface ContainerLaunch {
  name: string;
  /** The program: absolute on the host, or searched for in searchPath (in the container's root). */
  path: string;
  searchPath?: string[];
  argv: string[];
  env: string[];
  cwd: string;
  /** Which of the infra's namespaces it joins; it gets new ones of the others. */
  share: readonly SharedNamespace[];
  /** For a UTS namespace of its own: the pod's hostname still. */
  hostname: string;
  parentDeathSignal?: number;
  /** Its view of the file system (fs/rootfs.ts); none: the host's, with its own /proc. */
  fs?: FsStep[];
  /** The image layers its root is made of: not to be removed while it may run. */
  imageLayers?: string[];
  user?: { uid: number; gid: number; groups: number[] };
}

/** The namespaces, as a table: CLI name to clone flag. */
function namespaceFlag(c: NativeConstants, ns: SharedNamespace): number {
  return { net: c.CLONE_NEWNET, ipc: c.CLONE_NEWIPC, uts: c.CLONE_NEWUTS, pid: c.CLONE_NEWPID }[ns];
}

export function containerRequest(
  c: NativeConstants,
  infra: { pid: number; pidfd: number },
  launch: ContainerLaunch,
  stdio: number[],
): SpawnRequest {
  const all: SharedNamespace[] = ['net', 'ipc', 'uts', 'pid'];
  const joined = all.filter((ns) => launch.share.includes(ns));
  const own = all.filter((ns) => !launch.share.includes(ns));
  const joinFlags = joined.reduce((f, ns) => f | namespaceFlag(c, ns), 0);
  return {
    path: launch.path,
    ...(launch.searchPath ? { searchPath: launch.searchPath } : {}),
    argv: launch.argv,
    env: launch.env,
    cwd: launch.cwd,
    stdio,
    joinNamespaces: joinFlags
      ? [{ fd: infra.pidfd, type: joinFlags, label: `infra pid ${infra.pid} (${joined.join('+')})` }]
      : [],
    newNamespaces: own.reduce((f, ns) => f | namespaceFlag(c, ns), c.CLONE_NEWNS),
    hostname: launch.share.includes('uts') ? undefined : launch.hostname,
    loopbackUp: !launch.share.includes('net'),
    fs: launch.fs ?? hostfsSteps(c, []),
    ...(launch.user ? { user: launch.user } : {}),
    parentDeathSignal: launch.parentDeathSignal,
    newSession: true,
  };
}

export function startContainer(
  binding: NativeBinding,
  infra: { pid: number; pidfd: number },
  launch: ContainerLaunch,
  stdio: number[],
): PodProcess {
  return new PodProcess(binding, binding.spawn(containerRequest(binding.constants, infra, launch, stdio)));
}
