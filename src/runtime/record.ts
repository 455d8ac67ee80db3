// A running pod as its saved record (state/records.ts), and back: what a supervisor writes as
// each change happens, and what a new supervisor reads to take the pod over.
import { constants as osConstants } from 'node:os';
import { errnoFields } from '../errors.js';
import type { ExitStatus } from '../native/binding.js';
import type { PodSpec } from '../pod/spec.js';
import {
  RECORD_VERSION,
  type ContainerRecord,
  type ExecContext,
  type ExitRecord,
  type NetworkRecord,
  type PipeIds,
  type PodRecord,
  type PodState,
  type StartError,
} from '../state/records.js';
import type { Clock } from './backoff.js';
import type { ContainerLaunch } from './container.js';
import { signalName, type PodProcess } from './process.js';
import type { ContainerSlot } from './slot.js';

const now = () => new Date().toISOString();

/**
 * `oomKilled`: the OOM killer ended a process of the container's cgroup (its counter, not a
 * guess from SIGKILL); `message`, its termination message.
 */
export function exitRecord(s: ExitStatus, oomKilled = false, message?: string): ExitRecord {
  const reason = { ...(oomKilled ? { reason: 'OOMKilled' as const } : {}), ...(message ? { message } : {}) };
  if (s.error) return { code: null, signal: null, unknown: true, at: now(), ...reason };
  return { code: s.code, signal: s.signal === null ? null : signalName(s.signal), at: now(), ...reason };
}

/** A recorded exit as the status it was (unknown: a status with `error`). */
export function exitStatus(e: ExitRecord | undefined): ExitStatus | undefined {
  if (!e) return undefined;
  if (e.unknown)
    return { code: null, signal: null, coreDumped: false, error: Object.assign(new Error('not observed'), { code: 'ECHILD' }) };
  return { code: e.code, signal: e.signal === null ? null : (osConstants.signals[e.signal as NodeJS.Signals] ?? null), coreDumped: false };
}

export function startError(err: Error): StartError {
  return { message: err.message, ...errnoFields(err), at: now() };
}

function execContext(launch: ContainerLaunch): ExecContext {
  return { env: launch.env, cwd: launch.cwd, ...(launch.user ? { user: launch.user } : {}) };
}

export function containerRecord(s: ContainerSlot): ContainerRecord {
  const running = s.state === 'running';
  return {
    name: s.name,
    spec: s.spec,
    restartPolicy: s.policy,
    ...(s.kind !== 'app' ? { kind: s.kind } : {}),
    state: s.state,
    ...(s.held ? { held: true } : {}),
    ...(running ? { started: s.started, ready: s.ready } : {}),
    ...(s.process && running ? { process: { pid: s.process.pid, startTime: s.process.startTime } } : {}),
    ...(s.startedAt ? { startedAt: s.startedAt } : {}),
    ...(s.finishedAt ? { finishedAt: s.finishedAt } : {}),
    ...(s.lastExit ? { lastExit: s.lastExit } : {}),
    ...(s.lastError ? { lastError: s.lastError } : {}),
    restartCount: s.restartCount,
    ...(s.state === 'waiting' && s.nextStartAt ? { nextStartAt: s.nextStartAt } : {}),
    ...(s.stoppedByUser ? { stoppedByUser: true } : {}),
    ...(s.pipes && running ? { pipes: s.pipes } : {}),
    ...(s.delayMs ? { backoffMs: s.delayMs } : {}),
    ...(s.launch.imageLayers ? { imageLayers: s.launch.imageLayers } : {}),
    // Only a root or a user of its own makes it differ from what exec works out from the spec.
    ...(running && (s.launch.fs || s.launch.user) ? { exec: execContext(s.launch) } : {}),
  };
}

/**
 * A slot of an adopted pod gets its counters and history back from its record; its state is
 * not copied but reached by the life cycle's own moves, as the record's processes are found.
 */
export function restoreSlot(s: ContainerSlot, r: ContainerRecord, clock: Clock): void {
  s.restartCount = r.restartCount;
  s.startedAt = r.startedAt;
  // The back-off goes on where the earlier supervisor left it.
  s.startedAtMs = r.startedAt ? clock.now() - (Date.now() - Date.parse(r.startedAt)) : 0;
  s.delayMs = r.backoffMs ?? 0;
  s.finishedAt = r.finishedAt;
  s.lastExit = r.lastExit;
  s.lastStatus = exitStatus(r.lastExit);
  s.lastError = r.lastError;
  s.stoppedByUser = r.stoppedByUser ?? false;
  s.held = r.held ?? false;
  // A container that had started keeps its standing: its liveness probe runs at once, and it
  // stays ready until its readiness probe says otherwise.
  s.started = r.started ?? false;
  s.ready = r.ready ?? false;
}

/** What a pod's record is made of, as the running pod holds it. */
export interface PodView {
  spec: Omit<PodSpec, 'containers'>;
  createdAt: string;
  persistent: boolean;
  state: PodState;
  reason: string | undefined;
  endedAt: string | undefined;
  infra: PodProcess;
  infraPipes: PipeIds | undefined;
  network: NetworkRecord | undefined;
  cgroup: PodRecord['cgroup'];
  slots: readonly ContainerSlot[];
}

export function podRecord(p: PodView, supervisor: PodRecord['supervisor']): PodRecord {
  return {
    version: RECORD_VERSION,
    name: p.spec.name,
    spec: p.spec,
    createdAt: p.createdAt,
    supervisor,
    persistent: p.persistent,
    state: p.state,
    ...(p.reason ? { reason: p.reason } : {}),
    ...(p.endedAt ? { endedAt: p.endedAt } : {}),
    infra: {
      process: { pid: p.infra.pid, startTime: p.infra.startTime },
      ...(p.infraPipes ? { pipes: p.infraPipes } : {}),
      ...(p.infra.status ? { exit: exitRecord(p.infra.status) } : {}),
    },
    ...(p.network ? { network: p.network } : {}),
    ...(p.cgroup ? { cgroup: p.cgroup } : {}),
    containers: p.slots.map(containerRecord),
  };
}
