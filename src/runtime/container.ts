// A container's launch: planned from its spec (planContainer: program, argv, environment,
// directory, file system), then asked of the kernel (containerRequest). It joins its pod: it
// enters the infra's namespaces that the pod shares (through the infra's pidfd, so a reused pid
// can never send it elsewhere), gets new ones for the rest, and a mount namespace of its own
// with a /proc for the PID namespace it lives in.
import { closeSync } from 'node:fs';
import type { Placement } from '../cgroup/pod.js';
import { InputError } from '../errors.js';
import { hostfsSteps, withCgroupfs } from '../fs/rootfs.js';
import type { CapabilitySets, FsStep, NativeBinding, NativeConstants, SpawnRequest, SpawnedProcess } from '../native/binding.js';
import { hostFacts } from '../pod/downward.js';
import type { PodObjects } from '../pod/objects.js';
import { seccompPolicy } from '../pod/seccomp.js';
import { NAMESPACE_ROOT } from '../pod/userns.js';
import { capabilityNames, capabilitySets, noNewPrivileges } from '../pod/security.js';
import { checkArgsSize, containerArgv, containerEnv, envStrings } from '../pod/env.js';
import type { ContainerSpec, IdRange, PodSpec, SharedNamespace } from '../pod/spec.js';
import type { ContainerFs } from '../storage/storage.js';
import { PodProcess } from './process.js';
import { resolveProgram } from './resolve.js';
import { compileSeccomp, type SeccompSource } from './seccomp.js';
import { openUserNamespace } from './userns.js';

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
  /** The pod has a time namespace of its own, which every container joins. */
  timeNamespace?: boolean;
  /** For a UTS namespace of its own: the pod's hostname still. */
  hostname: string;
  parentDeathSignal?: number;
  /** Its view of the file system (fs/rootfs.ts); none: the host's, with its own /proc. */
  fs?: FsStep[];
  /** The image layers its root is made of: not to be removed while it may run. */
  imageLayers?: string[];
  user?: { uid: number; gid: number; groups: number[] };
  /** It enters the pod's user namespace (the infra's) once its file system is set up; `user` is that namespace's. */
  userNamespace?: IdRange;
  /** Its capability sets (pod/security.ts); none: every one (privileged). */
  capabilities?: CapabilitySets;
  noNewPrivileges?: boolean;
  /** Its seccomp filter, compiled at each start; none: unconfined. */
  seccomp?: SeccompSource;
}

/**
 * Works out a container's program, argv, environment and directory. Throws on bad input.
 * Without `resolve`, a program that is not there is left for the start to report (adoption:
 * it may have gone while nobody watched; the restart says so, with errno and path).
 */
export function planContainer(
  spec: PodSpec,
  c: ContainerSpec,
  opts: {
    cwd: string;
    parentDeathSignal?: number;
    cgroups?: unknown;
    binding: Pick<NativeBinding, 'constants' | 'compileSeccomp'>;
    podIP?: string;
    /** The pod's copies of the ConfigMaps and Secrets its containers name. */
    storage?: { objects: PodObjects };
  },
  resolve = true,
  cfs?: ContainerFs,
): ContainerLaunch {
  const config = cfs?.image?.config;
  const env = containerEnv(spec, c, config?.Env ?? [], { pod: spec, facts: () => hostFacts(opts.podIP) }, opts.storage?.objects);
  const argv = containerArgv(c, env, config);
  if (!argv.length) throw new InputError(`container ${c.name}`, `no command: its image ${c.image} has no Entrypoint or Cmd`);
  const envList = envStrings(env);
  checkArgsSize(argv, envList, `container ${c.name}`);
  // In a root of its own, the program is the root's: the child searches for it there.
  const ownRoot = cfs?.ownRoot ?? false;
  const security = securityOf(c, cfs?.user?.uid ?? 0);
  // A profile that cannot be read or compiled stops the pod before anything is made.
  if (resolve && security.seccomp) compileSeccomp(opts.binding, security.seccomp);
  const cwd = c.workingDir ?? (config?.WorkingDir || undefined) ?? (ownRoot ? '/' : opts.cwd);
  const searchPath = (env.get('PATH') ?? '').split(':');
  let path = argv[0];
  if (!ownRoot) {
    try {
      path = resolveProgram(argv[0], env.get('PATH') ?? '', cwd, `container ${c.name}`);
    } catch (err) {
      if (resolve) throw err;
    }
  }
  return {
    name: c.name,
    path,
    ...(ownRoot && !path.includes('/') ? { searchPath } : {}),
    argv,
    env: envList,
    cwd,
    share: spec.share,
    ...(spec.timeOffsets ? { timeNamespace: true } : {}),
    hostname: spec.hostname,
    parentDeathSignal: opts.parentDeathSignal,
    // In cgroups, a root of its own gets its cgroup namespace's cgroup2 at /sys/fs/cgroup.
    ...(cfs ? { fs: opts.cgroups && ownRoot ? withCgroupfs(opts.binding.constants, cfs.fs) : cfs.fs } : {}),
    ...(cfs?.user ? { user: cfs.user } : spec.userNamespace ? { user: NAMESPACE_ROOT } : {}),
    ...(spec.userNamespace ? { userNamespace: spec.userNamespace } : {}),
    ...security,
    ...(cfs?.image ? { imageLayers: cfs.image.layers } : {}),
  };
}

/** The namespaces, as a table: CLI name to clone flag. */
function namespaceFlag(c: NativeConstants, ns: SharedNamespace | 'time'): number {
  const flags = { net: c.CLONE_NEWNET, ipc: c.CLONE_NEWIPC, uts: c.CLONE_NEWUTS, pid: c.CLONE_NEWPID, cgroup: c.CLONE_NEWCGROUP };
  return ns === 'time' ? c.CLONE_NEWTIME : flags[ns];
}

/** What a container's processes (and what tspod exec runs in it) may do: capabilities, no_new_privs, seccomp. */
export function securityOf(c: ContainerSpec, uid: number): Pick<ContainerLaunch, 'capabilities' | 'noNewPrivileges' | 'seccomp'> {
  const sc = c.securityContext;
  const policy = seccompPolicy(sc);
  return {
    ...(sc?.privileged ? {} : { capabilities: capabilitySets(sc, uid) }),
    ...(noNewPrivileges(sc) ? { noNewPrivileges: true } : {}),
    // RuntimeDefault allows what the container's bounding set makes useful.
    ...(policy ? { seccomp: { policy, capabilities: capabilityNames(sc) } } : {}),
  };
}

export function containerRequest(
  c: NativeConstants,
  infra: { pid: number; pidfd: number },
  launch: ContainerLaunch,
  stdio: number[],
  cgroups?: Pick<Placement, 'into' | 'joins'>,
): SpawnRequest {
  const all: SharedNamespace[] = ['net', 'ipc', 'uts', 'pid'];
  const joined: (SharedNamespace | 'time')[] = all.filter((ns) => launch.share.includes(ns));
  const own = all.filter((ns) => !launch.share.includes(ns));
  // A cgroup namespace is not the clone's: its own is made after the move into its cgroup (it is
  // rooted where the process is), the infra's is joined once the move is done.
  const sharesCgroup = launch.share.includes('cgroup');
  if (sharesCgroup) joined.push('cgroup');
  if (launch.timeNamespace) joined.push('time');
  const joinFlags = joined.reduce((f, ns) => f | namespaceFlag(c, ns), 0);
  return {
    path: launch.path,
    ...(launch.searchPath ? { searchPath: launch.searchPath } : {}),
    argv: launch.argv,
    env: launch.env,
    cwd: launch.cwd,
    stdio,
    joinNamespaces: joinFlags ? [{ fd: infra.pidfd, type: joinFlags, label: `infra pid ${infra.pid} (${joined.join('+')})` }] : [],
    newNamespaces: own.reduce((f, ns) => f | namespaceFlag(c, ns), c.CLONE_NEWNS),
    hostname: launch.share.includes('uts') ? undefined : launch.hostname,
    loopbackUp: !launch.share.includes('net'),
    fs: launch.fs ?? hostfsSteps(c, []),
    ...(launch.user ? { user: launch.user } : {}),
    ...(launch.capabilities ? { capabilities: launch.capabilities } : {}),
    ...(launch.noNewPrivileges ? { noNewPrivileges: true } : {}),
    parentDeathSignal: launch.parentDeathSignal,
    newSession: true,
    // In its own cgroup, a container sees that cgroup as the root (/proc/self/cgroup: 0::/).
    ...(cgroups ? { intoCgroup: cgroups.into, joinCgroups: cgroups.joins, newCgroupNamespace: !sharesCgroup } : {}),
  };
}

export function startContainer(
  binding: NativeBinding,
  infra: { pid: number; pidfd: number },
  launch: ContainerLaunch,
  stdio: number[],
  cgroups?: Placement,
): PodProcess {
  const request = containerRequest(binding.constants, infra, launch, stdio, cgroups);
  if (launch.seccomp) request.seccomp = compileSeccomp(binding, launch.seccomp);
  return new PodProcess(binding, spawnInUserNamespace(binding, infra, launch.userNamespace, request));
}

/** binding.spawn, entering the user namespace of `target` (the infra, or a container) when the pod has one. */
export function spawnInUserNamespace(
  binding: NativeBinding,
  target: { pid: number; pidfd: number },
  range: IdRange | undefined,
  request: SpawnRequest,
): SpawnedProcess {
  if (!range) return binding.spawn(request);
  const fd = openUserNamespace(binding, target);
  try {
    return binding.spawn({ ...request, userNamespace: { fd, label: `/proc/${target.pid}/ns/user`, hostRoot: range.hostId } });
  } finally {
    closeSync(fd);
  }
}
