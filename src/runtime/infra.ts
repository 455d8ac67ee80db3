// The infra process: started first, in the pod's new network, IPC, UTS and PID namespaces; the
// pod lives as long as it does. With tspod's own pause, tspod waits for pause's readiness byte:
// until pause has blocked its signals, a SIGTERM sent to it (a PID 1) would be dropped.
import { closeSync, readSync } from 'node:fs';
import type { Placement } from '../cgroup/pod.js';
import { InputError, TspodError } from '../errors.js';
import { NO_CAPABILITIES } from '../pod/security.js';
import type { Sysctl, TimeOffsets } from '../pod/spec.js';
import { timensOffsetsText } from '../pod/namespaces.js';
import { sysctlPath } from '../pod/sysctls.js';
import {
  bundledPausePath,
  type NamespaceJoin,
  type NativeBinding,
  type NativeConstants,
  type SpawnRequest,
  type SpawnedProcess,
} from '../native/binding.js';
import { DEFAULT_PATH } from '../pod/env.js';
import { PodProcess, describeExit } from './process.js';

export interface InfraOptions {
  hostname: string;
  /** A custom infra program, run with no arguments; unset: tspod's pause. */
  pause?: string;
  /** fds for the infra's stdin, stdout, stderr. */
  stdio: [number, number, number];
  parentDeathSignal?: number;
  /** False for a pod on the host's network: no network namespace of its own. */
  ownNetwork?: boolean;
  /** The host's PID and IPC namespaces instead of new ones (hostPID, hostIPC). */
  hostPID?: boolean;
  hostIPC?: boolean;
  /** The cgroups the infra is created in. */
  cgroups?: Pick<Placement, 'into' | 'joins'>;
  /** Namespaces it joins instead of making them (their CLONE_NEW* flags are left out). */
  joins?: NamespaceJoin[];
  /** A time namespace of the pod's own, with these clock offsets. */
  timeOffsets?: TimeOffsets;
  /** The pod's sysctls, written in its new namespaces before pause runs (pod/sysctls.ts checked them). */
  sysctls?: Sysctl[];
  /** A cgroup namespace, rooted at the infra's cgroup, for containers that share it (--share cgroup). */
  cgroupNamespace?: boolean;
}

/** The fd number at which pause finds the write end of the readiness pipe (`pause -r 3`). */
const READY_FD = 3;

export function infraRequest(c: NativeConstants, opts: InfraOptions, readyFd?: number): SpawnRequest {
  const custom = opts.pause !== undefined;
  const joined = (opts.joins ?? []).reduce((f, j) => f | (j.type ?? 0), 0);
  return {
    path: opts.pause ?? bundledPausePath,
    argv: custom ? [opts.pause!] : ['pause', '-r', String(READY_FD)],
    env: custom ? [`PATH=${DEFAULT_PATH}`, `HOSTNAME=${opts.hostname}`] : [],
    cwd: '/',
    stdio: readyFd === undefined ? [...opts.stdio] : [...opts.stdio, readyFd],
    newNamespaces:
      ((opts.ownNetwork === false ? 0 : c.CLONE_NEWNET) |
        (opts.hostIPC ? 0 : c.CLONE_NEWIPC) |
        c.CLONE_NEWUTS |
        (opts.hostPID ? 0 : c.CLONE_NEWPID)) &
      ~joined,
    ...(opts.joins?.length ? { joinNamespaces: opts.joins } : {}),
    // A joined UTS or network namespace is its owner's: its hostname and lo are left as they are.
    hostname: joined & c.CLONE_NEWUTS ? undefined : opts.hostname,
    loopbackUp: opts.ownNetwork !== false && !(joined & c.CLONE_NEWNET),
    ...(opts.timeOffsets ? { timeOffsets: timensOffsetsText(opts.timeOffsets) } : {}),
    ...(opts.sysctls?.length ? { sysctls: opts.sysctls.map((x) => ({ path: sysctlPath(x.name), value: x.value })) } : {}),
    parentDeathSignal: opts.parentDeathSignal,
    newSession: true,
    // It waits, reaps and passes signals on to its own children: it needs no privilege at all.
    capabilities: NO_CAPABILITIES,
    noNewPrivileges: true,
    ...(opts.cgroups ? { intoCgroup: opts.cgroups.into, joinCgroups: opts.cgroups.joins } : {}),
    ...(opts.cgroupNamespace ? { newCgroupNamespace: true } : {}),
  };
}

/**
 * Starts the infra process and returns once it is ready: for tspod's pause, when it has
 * written its readiness byte; for a custom program, once it has been exec'd.
 */
export async function startInfra(binding: NativeBinding, opts: InfraOptions): Promise<PodProcess> {
  if (opts.pause !== undefined) {
    return new PodProcess(binding, spawnInfra(binding, opts));
  }
  const [readEnd, writeEnd] = binding.pipe();
  let infra: PodProcess;
  try {
    infra = new PodProcess(binding, spawnInfra(binding, opts, writeEnd));
  } catch (err) {
    closeSync(readEnd);
    throw err;
  } finally {
    closeSync(writeEnd);
  }
  let ready = false;
  let readError: unknown;
  try {
    // pause writes the byte microseconds after exec; EOF means it died first.
    ready = readSync(readEnd, Buffer.alloc(1)) === 1;
  } catch (err) {
    readError = err;
    infra.signal(9);
  } finally {
    closeSync(readEnd);
  }
  if (ready) return infra;
  const status = await infra.exited;
  // The read's own error says more than the kill that followed it.
  if (readError) throw readError;
  throw new TspodError(`infra process ${bundledPausePath} ${describeExit(status)} before it was ready`);
}

/** The spawn, with a sysctl the kernel refused named as the pod's field. */
function spawnInfra(binding: NativeBinding, opts: InfraOptions, readyFd?: number): SpawnedProcess {
  try {
    return binding.spawn(infraRequest(binding.constants, opts, readyFd));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const i = opts.sysctls?.findIndex((x) => sysctlPath(x.name) === e.path) ?? -1;
    if (i < 0 || !e.code) throw err;
    const { name, value } = opts.sysctls![i];
    const why =
      e.syscall === 'open' && e.code === 'ENOENT'
        ? "no such sysctl in the pod's new namespaces (an interface's exists only once a CNI network has added it)"
        : `the kernel refused it (${e.code})`;
    throw new InputError(`spec.securityContext.sysctls[${i}]`, `${name}=${value}: ${why}`);
  }
}
