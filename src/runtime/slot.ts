// A container slot: one container of a pod across its restarts. The pod keeps a slot per
// container (its spec, its launch, its counters); each start puts a new process in it. A slot's
// state changes in one place, moveTo, which refuses a move the life cycle never makes: a
// second start of a running container, say, is a bug to see, not a state to record.
import type { ExitStatus } from '../native/binding.js';
import type { ContainerSpec, RestartPolicy } from '../pod/spec.js';
import type { ContainerKind, ContainerState, ExitRecord, PipeIds, StartError } from '../state/records.js';
import type { ContainerLaunch } from './container.js';
import type { ProbeWorker } from './probe.js';
import type { PodProcess } from './process.js';

/**
 * The moves the life cycle makes. A new slot is waiting (to start now, or, adopted, until its
 * record says what it is). waiting: started; started again later (a start that failed, or an
 * adopted wait); or done (stopped, the pod ending). running: its process ended, to be started
 * again (waiting) or not (exited). exited: started again by a restart request, or, when that
 * start failed, waiting for the restart policy's next try.
 */
const MOVES: Record<ContainerState, readonly ContainerState[]> = {
  waiting: ['running', 'waiting', 'exited'],
  running: ['waiting', 'exited'],
  exited: ['running', 'waiting'],
};

export class ContainerSlot {
  readonly spec: ContainerSpec;
  readonly launch: ContainerLaunch;
  readonly policy: RestartPolicy;
  readonly kind: ContainerKind;
  private current: ContainerState = 'waiting';
  process: PodProcess | undefined;
  restartCount = 0;
  startedAt: string | undefined;
  /** clock.now() at the last start, for the back-off reset. */
  startedAtMs = 0;
  finishedAt: string | undefined;
  lastExit: ExitRecord | undefined;
  lastStatus: ExitStatus | undefined;
  lastError: StartError | undefined;
  nextStartAt: string | undefined;
  stoppedByUser = false;
  /** A restart on request is under way: the stop it begins with is not the container's end. */
  restarting = false;
  pipes: PipeIds | undefined;
  /** The last back-off delay; 0 before the first. */
  delayMs = 0;
  timer: unknown;
  /** Resolves once the exit of the running process has been recorded (and its cgroup emptied). */
  settled: Promise<void> = Promise.resolve();
  /** Requests about this container (restart, stop, remove) run one after the other. */
  busy: Promise<unknown> = Promise.resolve();
  /** Not started yet: it waits for the init containers before it (waiting, with no timer). */
  held = false;
  /** This run has started: its postStart hook ran and its startup probe (if any) succeeded. */
  started = false;
  /** Its readiness probe succeeds (without one: it has started). */
  ready = false;
  /** The probe workers of this run. */
  probes: ProbeWorker[] = [];

  constructor(spec: ContainerSpec, launch: ContainerLaunch, policy: RestartPolicy, kind: ContainerKind = 'app') {
    this.spec = spec;
    this.launch = launch;
    this.policy = policy;
    this.kind = kind;
  }

  get name(): string {
    return this.spec.name;
  }

  get state(): ContainerState {
    return this.current;
  }

  /** The one way a slot's state changes; an impossible move throws (a bug in the life cycle). */
  moveTo(to: ContainerState): void {
    if (!MOVES[this.current].includes(to)) {
      throw new Error(`container ${this.name}: its state cannot go from ${this.current} to ${to}`);
    }
    this.current = to;
    if (to !== 'waiting') this.nextStartAt = undefined;
  }
}
