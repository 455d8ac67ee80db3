// What the state directory holds about a pod: one pod.json per pod, rewritten (atomically) by
// whoever supervises the pod, and read by every command that only looks. The saved format
// describes itself: it takes only the pod model, a process's identity and the cgroups' record
// from below, and the layers above (network, runtime, supervisor) write their parts of it in
// these types.
import type { ProcessId } from '../native/identity.js';
import type { ContainerSpec, NetworkSpec, PodSpec, PortMapping, RestartPolicy } from '../pod/spec.js';
import type { PodCgroupsRecord } from '../cgroup/pod.js';

export const RECORD_VERSION = 1;

/** Inodes of a process's stdout and stderr pipes, kept to find them again (runtime/io.ts). */
export interface PipeIds {
  stdout: number;
  stderr: number;
}

/** What a pod's record keeps of its network (a CNI attachment is cached apart: network.json). */
export interface NetworkRecord {
  mode: NetworkSpec['mode'];
  ports: PortMapping[];
  /** The pod's address on its CNI network. */
  podIP?: string;
}

export interface ExitRecord {
  code: number | null;
  /** Signal name, when a signal ended it. */
  signal: string | null;
  /** True when nobody could observe the status (it exited while no monitor ran). */
  unknown?: boolean;
  /** Kubernetes' reason: OOMKilled when the OOM killer ended a process of the container. */
  reason?: 'OOMKilled';
  /** Kubernetes' termination message: the container's terminationMessagePath, or its log's end. */
  message?: string;
  at: string;
}

/** Why a container's process could not be started (errno fields as Node's). */
export interface StartError {
  message: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
  at: string;
}

/**
 * running: its process runs. waiting: it will be (re)started, at nextStartAt (crash back-off).
 * exited: it ended and will not be restarted (by its policy, or because it was stopped).
 */
export const CONTAINER_STATES = ['running', 'waiting', 'exited'] as const;
export type ContainerState = (typeof CONTAINER_STATES)[number];

/**
 * init: one of the pod's initContainers, run to success before the containers; sidecar: an init
 * container with restartPolicy Always, kept running beside them; app: one of the containers.
 */
export type ContainerKind = 'init' | 'sidecar' | 'app';

export interface ContainerRecord {
  name: string;
  spec: ContainerSpec;
  restartPolicy: RestartPolicy;
  /** Absent: app. */
  kind?: Exclude<ContainerKind, 'app'>;
  state: ContainerState;
  /** Waits for the init containers before it: it has not been started yet. */
  held?: boolean;
  /** Its run has started (postStart ran, the startup probe succeeded): the other probes run. */
  started?: boolean;
  /** Kubernetes' ready: its readiness probe succeeds (without one: it has started). */
  ready?: boolean;
  process?: ProcessId;
  startedAt?: string;
  finishedAt?: string;
  lastExit?: ExitRecord;
  lastError?: StartError;
  restartCount: number;
  /** When a waiting container will be started. */
  nextStartAt?: string;
  /** Stopped on request: its restart policy does not apply until it is restarted. */
  stoppedByUser?: boolean;
  /** Inodes of the running process's stdout/stderr pipes (see runtime/io.ts). */
  pipes?: PipeIds;
  /** The last crash back-off delay, so a new supervisor goes on doubling it. */
  backoffMs?: number;
  /** The image layers its root is made of (tspod image rm keeps them while the pod exists). */
  imageLayers?: string[];
  /**
   * What a command run in it gets (tspod exec), when that is more than its spec says: the
   * environment, directory and user it was started with, from its image and securityContext.
   */
  exec?: ExecContext;
}

/**
 * A JSON.stringify replacer for records that leave tspod's state: the API's answers and inspect.
 * A container's exec context holds its whole environment, Secret values included; it is for
 * tspod exec, which reads it from the record file (0600), and is never sent or printed.
 */
export function withoutExecContext(key: string, value: unknown): unknown {
  return key === 'exec' && typeof value === 'object' && value !== null && 'env' in value ? undefined : value;
}

export interface ExecContext {
  env: string[];
  cwd: string;
  user?: { uid: number; gid: number; groups: number[] };
}

/**
 * creating: its name is taken, its processes are being started. running: its infra runs.
 * completed/failed/stopped: it ended; it stays listed until rm.
 */
export const POD_STATES = ['creating', 'running', 'completed', 'failed', 'stopped'] as const;
export type PodState = (typeof POD_STATES)[number];

export interface PodRecord {
  version: typeof RECORD_VERSION;
  name: string;
  spec: Omit<PodSpec, 'containers'>;
  createdAt: string;
  /** The process that supervises the pod: the monitor, or a foreground tspod run. */
  supervisor: ProcessId & { kind: 'monitor' | 'foreground' };
  /** Created by `pod create`: the pod lives until stopped, whatever its containers do. */
  persistent: boolean;
  state: PodState;
  reason?: string;
  endedAt?: string;
  infra?: {
    process: ProcessId;
    pipes?: PipeIds;
    exit?: ExitRecord;
  };
  containers: ContainerRecord[];
  /** Absent for pods made by an older tspod: their network is the pod mode without ports. */
  network?: NetworkRecord;
  /** The pod's cgroups: where the hierarchies are mounted, and its path there. Absent without cgroups. */
  cgroup?: PodCgroupsRecord;
}
