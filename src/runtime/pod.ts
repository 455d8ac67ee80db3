// A running pod: its infra process and its containers, supervised through pidfds.
//
// Life cycle: the infra starts first; each container then joins it: the init containers one
// after the other, each to success (a sidecar, one with restartPolicy Always, only until it has
// started: it keeps running), then every container at once. A container that exits is started
// again or not by its restart policy, after the kubelet's crash back-off (backoff.ts). Probes
// (probe.ts) and lifecycle hooks (handler.ts) run as the kubelet runs them: a failed liveness or
// startup probe, or postStart hook, stops the container, and its restart policy goes on.
// The pod ends when every container is done for good (completed; not for a persistent pod, made
// by `pod create`, which lives until it is stopped), when it is asked to stop, or when its infra
// dies (failed: its namespaces are gone or going, so its containers are stopped). Stopping is
// preStop and SIGTERM to every container, SIGKILL to those left after the grace period (the
// sidecars after the others, in reverse order), then the infra.
// With cgroups (cgroup/pod.ts) "a container" is every process in its cgroup, not only the
// first: what it forked, and what was exec'd into it, ends with it.
//
// Each container lives in a slot (slot.ts) whose state changes only through moveTo; the saved
// record is made and read back in record.ts.
import { EventEmitter } from 'node:events';
import { closeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import type { PodCgroups, Placement } from '../cgroup/pod.js';
import { usesPodIP } from '../pod/downward.js';
import { resources } from '../pod/fields.js';
import { resourceAmounts, type ResourceList } from '../pod/resources.js';
import { Conflict, InputError, NotFound, StartFailed } from '../errors.js';
import type { ExitStatus, NamespaceJoin, NativeBinding } from '../native/binding.js';
import type { PodNetwork } from '../net/network.js';
import type { ProbeKind } from '../pod/probes.js';
import { everyContainer, type ContainerSpec, type PodSpec, type RestartPolicy } from '../pod/spec.js';
import type { ContainerKind, ContainerState, PipeIds, PodRecord, PodState } from '../state/records.js';
import type { ContainerFs, PodStorage } from '../storage/storage.js';
import { KUBELET_BACKOFF, nextDelay, realClock, type Backoff, type Clock } from './backoff.js';
import { planContainer, startContainer, type ContainerLaunch } from './container.js';
import { startInfra } from './infra.js';
import { podUserNamespace } from './userns.js';
import type { PodIO } from './io.js';
import { PodProcess, describeExit, statusCode } from './process.js';
import { runHandler } from './handler.js';
import { PROBE_NAMES, ProbeWorker } from './probe.js';
import { containerRecord, exitRecord, podRecord, restoreSlot, startError } from './record.js';
import { ContainerSlot } from './slot.js';
import { within } from './within.js';

const { SIGTERM, SIGKILL } = osConstants.signals;

/** How long tspod's pause is given to exit on SIGTERM (it exits at once) before SIGKILL. */
const INFRA_GRACE_MS = 2000;

/** How long a container's exit waits for the rest of its output (a child may hold its pipe). */
const OUTPUT_DRAIN_MS = 1000;

/** The least time SIGTERM is given after a preStop hook, however long it took (the kubelet's). */
const GRACE_AFTER_PRESTOP_MS = 2000;

/** A postStart hook's time limit: the kubelet has none, but a hook that hangs must not hold the container for good. */
const POST_START_LIMIT_MS = 120_000;

export interface PodOptions {
  binding: NativeBinding;
  io: PodIO;
  /** Working directory of containers that set none (they see the host's file system). */
  cwd: string;
  /** Sent to every pod process if its supervisor dies (SIGKILL in the foreground). */
  parentDeathSignal?: number;
  backoff?: Backoff;
  /** Lives until stopped, whatever its containers do (`pod create`). */
  persistent?: boolean;
  clock?: Clock;
  /** Attached once the infra runs, detached when the pod has ended. */
  network?: PodNetwork;
  /** Volumes, root file systems; released when the pod has ended. */
  storage?: PodStorage;
  /** The pod's cgroups: each process is born in its own; removed when the pod has ended. */
  cgroups?: PodCgroups;
  /** Namespaces the infra joins instead of making (the caller opened the fds and closes them). */
  infraJoins?: NamespaceJoin[];
  /**
   * Called while start() runs, as each process is spawned (the infra, then each container): a
   * supervisor records them before the pod is whole, so that if it dies mid-start (during a
   * CNI ADD, say) whoever cleans up after it knows what to kill.
   */
  onStarting?: (pod: Pod) => void;
  /** Told each event as it happens, from the first (also emitted as 'event', once there are listeners). */
  onEvent?: (event: PodEvent) => void;
  /** What runs a probe's or a hook's handler (handler.ts's runHandler; tests pass their own). */
  runHandler?: typeof runHandler;
}

export type PodEndReason = 'completed' | 'stopped' | 'infra-exited';

export interface ContainerResult {
  name: string;
  exit: ExitStatus | undefined;
}

export interface PodResult {
  reason: PodEndReason;
  /** The app containers (not the init containers). */
  containers: ContainerResult[];
  /** The init container that failed for good (restartPolicy Never), failing the pod before its containers ran. */
  failedInit?: ContainerResult;
  infraExit: ExitStatus | undefined;
}

/** What happened to a pod or one of its containers, in Kubernetes' words (for `tspod events`). */
export interface PodEvent {
  type: 'Normal' | 'Warning';
  /** Started, Killing, Unhealthy, BackOff, Failed, FailedPostStartHook, ... */
  reason: string;
  /** Absent: the pod itself. */
  container?: string;
  message: string;
}

export interface PodEvents {
  /** Something a record shows has changed. */
  change: [];
  event: [event: PodEvent];
  'container-start': [name: string, pid: number];
  /** reason: Kubernetes' OOMKilled, when the OOM killer ended a process of the container. */
  'container-exit': [name: string, status: ExitStatus, reason: 'OOMKilled' | undefined];
  /** A restart failed before execve; the restart policy goes on. */
  'container-error': [name: string, error: Error];
  /** Trouble the pod survives (a clean-up step that failed): for its supervisor's log. */
  warning: [message: string];
  end: [result: PodResult];
}

/** SIGTERM, then SIGKILL after graceMs to whoever is left; resolves when all have exited. */
async function terminate(procs: PodProcess[], graceMs: number): Promise<void> {
  const running = procs.filter((p) => p.running);
  const allExited = Promise.all(running.map((p) => p.exited));
  for (const p of running) p.signal(SIGTERM);
  if (!(await within(allExited, graceMs))) for (const p of running) p.signal(SIGKILL);
  await allExited;
}

const now = () => new Date().toISOString();

/** Its last run exited with status 0. */
function succeeded(s: ContainerSlot): boolean {
  return s.lastStatus !== undefined && s.lastStatus.error === undefined && statusCode(s.lastStatus) === 0;
}

/** An init container with restartPolicy Always is a sidecar. */
function kindOf(spec: PodSpec, c: ContainerSpec): ContainerKind {
  if (!spec.initContainers?.includes(c)) return 'app';
  return c.restartPolicy === 'Always' ? 'sidecar' : 'init';
}

/** A record's pod spec: its containers are in the record's container list, init containers first. */
function specOf(record: PodRecord): PodSpec {
  const init = record.containers.filter((c) => c.kind).map((c) => c.spec);
  return {
    ...record.spec,
    ...(init.length ? { initContainers: init } : {}),
    containers: record.containers.filter((c) => !c.kind).map((c) => c.spec),
  };
}

export class Pod extends EventEmitter<PodEvents> {
  readonly infra: PodProcess;
  readonly createdAt: string;
  readonly persistent: boolean;
  /** The infra's output pipes, as its ProcessIO named them. */
  infraPipes: PipeIds | undefined;
  /** Resolves when the pod has ended and every one of its processes is gone. */
  readonly ended: Promise<PodResult>;
  private readonly podSpec: Omit<PodSpec, 'containers'>;
  private readonly opts: PodOptions;
  private readonly backoff: Backoff;
  private readonly clock: Clock;
  private readonly handler: typeof runHandler;
  private readonly slots: ContainerSlot[] = [];
  private podState: PodState = 'running';
  private reason: string | undefined;
  private endedAt: string | undefined;
  private stopping: Promise<PodResult> | undefined;
  /** Pod.start is starting its first containers: a failure to start one undoes the pod. */
  private starting = false;
  private adopting = false;
  private resolveEnded!: (r: PodResult) => void;

  private constructor(spec: PodSpec, opts: PodOptions, infra: PodProcess, createdAt: string) {
    super();
    const { containers: _, initContainers: __, ...podSpec } = spec;
    this.podSpec = podSpec;
    this.opts = opts;
    this.backoff = opts.backoff ?? KUBELET_BACKOFF;
    this.clock = opts.clock ?? realClock;
    this.handler = opts.runHandler ?? runHandler;
    this.persistent = opts.persistent ?? false;
    this.infra = infra;
    this.createdAt = createdAt;
    this.ended = new Promise((r) => (this.resolveEnded = r));
    void infra.exited.then((status) => {
      if (!this.stopping) {
        this.reason = `infra process (pid ${infra.pid}) ${describeExit(status)}`;
        void this.end('infra-exited', spec.terminationGracePeriodSeconds);
      }
    });
  }

  // --- Starting and taking over -------------------------------------------------------------

  /**
   * Starts the infra, then each container in order. On any failure everything already started
   * is killed and reaped before the error is thrown: nothing is left behind.
   */
  static async start(spec: PodSpec, opts: PodOptions): Promise<Pod> {
    let pod: Pod | undefined;
    try {
      const launches = [];
      const mounts: (ContainerFs | undefined)[] = [];
      const every = everyContainer(spec);
      for (const [i, { c, path }] of every.entries()) {
        mounts.push(await opts.storage?.container(c, path));
        launches.push(planContainer(spec, c, opts, true, mounts[i]));
      }
      const joinedUser = opts.infraJoins?.find((j) => j.type === opts.binding.constants.CLONE_NEWUSER);
      const userns = spec.userNamespace && podUserNamespace(opts.binding, spec, mounts, joinedUser);
      const infraIO = opts.io.open(null);
      let infra: PodProcess;
      const cgroups = opts.cgroups?.place();
      try {
        infra = await startInfra(opts.binding, {
          hostname: spec.hostname,
          pause: spec.pause,
          stdio: infraIO.stdio,
          parentDeathSignal: opts.parentDeathSignal,
          ownNetwork: opts.network?.ownNamespace ?? true,
          hostPID: spec.hostPID,
          hostIPC: spec.hostIPC,
          timeOffsets: spec.timeOffsets,
          // Its user namespace last: the namespaces it then makes are that namespace's.
          joins: [...(opts.infraJoins ?? []), ...(userns ? [userns] : [])],
          cgroups,
          sysctls: spec.sysctls,
          cgroupNamespace: spec.share.includes('cgroup'),
        });
      } finally {
        infraIO.release();
        cgroups?.close();
        if (userns) closeSync(userns.fd);
      }
      pod = new Pod(spec, opts, infra, now());
      pod.infraPipes = infraIO.pipes;
      pod.tell('Normal', 'Created', `Created pod (infra pid ${infra.pid})`);
      opts.onStarting?.(pod);
      await opts.network?.attach(infra);
      opts.storage?.setAddress(opts.network?.address, true);
      // The downward API's status.podIP is known from here: those who ask are planned again.
      every.forEach(({ c }, i) => {
        if (usesPodIP(c)) launches[i] = planContainer(spec, c, { ...opts, podIP: opts.network?.address }, true, mounts[i]);
      });
      for (const [i, { c }] of every.entries()) pod.addSlot(c, launches[i], kindOf(spec, c), spec.restartPolicy).held = true;
      // What starts now (the first init containers, or every container) is part of the pod's
      // start: a failure there undoes it all. What starts later goes through its restart policy.
      pod.starting = true;
      try {
        pod.advance();
      } finally {
        pod.starting = false;
      }
      opts.onStarting?.(pod);
      return pod;
    } catch (err) {
      if (pod) {
        await pod.kill(); // also closes the IO and detaches the network
      } else {
        await opts.io.close();
        await opts.network?.detach();
        await opts.storage?.release();
        await opts.cgroups?.release();
      }
      throw err;
    }
  }

  /**
   * Takes over a pod whose supervisor went away, from its record: running processes are found
   * again (pid and start time), waiting containers get their timers back, and a container that
   * ended while nobody watched has an unknown exit status and goes through its restart policy.
   */
  static async adopt(record: PodRecord, opts: PodOptions, adoptedInfra?: PodProcess): Promise<Pod> {
    if (!record.infra || record.state !== 'running') throw new Conflict(`pod "${record.name}" is not running`);
    const spec = specOf(record);
    // Every container is planned before any process is taken over: what can fail here (an image
    // gone from the store, say) leaves the pod running as it was, for a later try.
    const launches: ContainerLaunch[] = [];
    const paths = everyContainer(spec).map((e) => e.path);
    for (const [i, r] of record.containers.entries()) {
      const cfs = await opts.storage?.container(r.spec, paths[i]);
      launches.push(planContainer(spec, r.spec, { ...opts, podIP: opts.network?.address }, false, cfs));
    }
    const infra = adoptedInfra ?? PodProcess.adopt(opts.binding, record.infra.process);
    if (!infra) throw new Conflict(`pod "${record.name}": its infra process (pid ${record.infra.process.pid}) is gone`);
    const pod = new Pod(spec, { ...opts, persistent: record.persistent }, infra, record.createdAt);
    const slots: ContainerSlot[] = [];
    pod.adopting = true;
    try {
      for (const [i, r] of record.containers.entries()) slots.push(pod.addSlot(r.spec, launches[i], r.kind ?? 'app', r.restartPolicy));
      pod.takeOver(record, slots);
    } catch (err) {
      // Nothing of the pod is ended: what this supervisor took of it is let go, for a later try.
      for (const s of slots) {
        s.process?.forget();
        pod.clock.clearTimeout(s.timer);
      }
      if (!adoptedInfra) infra.forget();
      await opts.io.close();
      throw err;
    } finally {
      pod.adopting = false;
    }
    pod.advance();
    pod.checkCompleted();
    return pod;
  }

  /** Adoption's second half: the record's history restored, the running processes watched again. */
  private takeOver(record: PodRecord, slots: ContainerSlot[]): void {
    const { opts } = this;
    opts.storage?.setAddress(opts.network?.address, false);
    if (record.infra?.pipes) {
      this.infraPipes = record.infra.pipes;
      opts.io.adopt?.(null, this.infra.pid, record.infra.pipes);
    }
    for (const [i, r] of record.containers.entries()) {
      const slot = slots[i];
      restoreSlot(slot, r, this.clock);
      if (r.state === 'exited') slot.moveTo('exited');
      const proc = r.state === 'running' && r.process ? PodProcess.adopt(opts.binding, r.process) : undefined;
      if (proc) {
        slot.pipes = r.pipes;
        this.watch(slot, proc);
        if (r.pipes) opts.io.adopt?.(r.name, proc.pid, r.pipes);
        // Its postStart hook ran under the earlier supervisor; its probes start over here.
        this.startProbes(slot, proc, slot.startedAtMs);
      }
    }
    // Only once every running process is watched (the part that can fail): what ended unseen
    // goes through its restart policy, and what waited gets its timer back.
    for (const [i, r] of record.containers.entries()) {
      const slot = slots[i];
      if (r.state === 'running' && !slot.process) {
        this.exited(slot, { code: null, signal: null, coreDumped: false, error: new Error('exited unobserved') });
      } else if (r.state === 'waiting' && !slot.held) {
        const wait = r.nextStartAt ? Math.max(0, Date.parse(r.nextStartAt) - Date.now()) : 0;
        this.schedule(slot, wait);
      }
    }
  }

  /**
   * `policy`: the pod's; an init container's own is OnFailure (Never stays Never), and a sidecar's
   * Always, as the kubelet has them.
   */
  private addSlot(c: ContainerSpec, launch: ContainerLaunch, kind: ContainerKind, policy: RestartPolicy): ContainerSlot {
    if (this.slots.some((s) => s.name === c.name)) {
      throw new Conflict(`pod "${this.podSpec.name}" already has a container "${c.name}"`);
    }
    const own: RestartPolicy = kind === 'sidecar' ? 'Always' : kind === 'init' && policy === 'Always' ? 'OnFailure' : policy;
    const slot = new ContainerSlot(c, launch, own, kind);
    this.slots.push(slot);
    return slot;
  }

  /**
   * Starts what is due: the next init container once the one before it succeeded (a sidecar:
   * once it has started), then every container. During the pod's start a failure is thrown;
   * later it goes through the container's restart policy.
   */
  private advance(): void {
    // An adoption restores every slot first, then advances once.
    if (this.stopping || this.adopting) return;
    const begin = (s: ContainerSlot) => {
      try {
        this.run(s);
      } catch (err) {
        if (this.starting) throw StartFailed.from(`container ${s.name}`, err as Error);
        this.failedStart(s, err as Error);
      }
    };
    for (const s of this.slots) {
      if (s.kind === 'app') break;
      if (s.held) return begin(s);
      const done = s.kind === 'sidecar' ? s.started : s.state === 'exited' && succeeded(s);
      if (!done) return;
    }
    for (const s of this.slots) if (s.kind === 'app' && s.held) begin(s);
  }

  // --- A container's life: start, exit, restart policy ----------------------------------------

  /** Moves a slot to a new state and tells the record's writer. */
  private move(slot: ContainerSlot, to: ContainerState): void {
    slot.moveTo(to);
    this.emit('change');
  }

  /** Starts a container's process now; throws what the spawn threw. */
  private run(slot: ContainerSlot): void {
    if (!this.slots.includes(slot)) throw new NotFound(`pod "${this.podSpec.name}" has no container "${slot.name}" any more`);
    if (!this.infra.running)
      throw new Conflict(`pod "${this.podSpec.name}": its infra process (pid ${this.infra.pid}) ${describeExit(this.infra.status!)}`);
    this.opts.storage?.beforeStart(slot.spec);
    if (!this.opts.cgroups && (slot.spec.resources || slot.spec.pidsLimit !== undefined)) {
      throw new Conflict(`container ${slot.name} asks for resource limits, and pod "${this.podSpec.name}" has no cgroups`);
    }
    slot.held = false;
    const io = this.opts.io.open(slot.name);
    let proc: PodProcess;
    let cgroups: Placement | undefined;
    try {
      cgroups = this.opts.cgroups?.place(slot.name, resourceAmounts(slot.spec.resources, slot.spec.pidsLimit));
      proc = startContainer(this.opts.binding, this.infra, slot.launch, io.stdio, cgroups);
    } finally {
      io.release();
      cgroups?.close();
    }
    slot.lastError = undefined;
    slot.pipes = io.pipes;
    slot.startedAt = now();
    slot.startedAtMs = this.clock.now();
    this.watch(slot, proc, io.drained);
    this.emit('container-start', slot.name, proc.pid);
    this.tell('Normal', 'Started', `Started container ${slot.name} (pid ${proc.pid})`, slot);
    this.afterStart(slot, proc);
  }

  /** Its postStart hook, then its probes; a hook that fails stops the container (the kubelet's FailedPostStartHook). */
  private afterStart(slot: ContainerSlot, proc: PodProcess): void {
    const hook = slot.spec.lifecycle?.postStart;
    if (!hook) return this.startProbes(slot, proc, slot.startedAtMs);
    void this.handler(this.handlerTarget(slot), hook, POST_START_LIMIT_MS, true).then((outcome) => {
      if (slot.process !== proc) return;
      if (outcome.ok) return this.startProbes(slot, proc, slot.startedAtMs);
      this.tell('Warning', 'FailedPostStartHook', `PostStartHook failed: ${outcome.message}`, slot);
      this.stopFor(slot, proc, 'FailedPostStartHook', this.podSpec.terminationGracePeriodSeconds);
    });
  }

  /** What a probe or hook of `slot` runs against. */
  private handlerTarget(slot: ContainerSlot) {
    return {
      binding: this.opts.binding,
      container: slot.name,
      infraPid: this.infra.pid,
      podIP: this.opts.network?.address,
      execView: () => ({
        name: this.podSpec.name,
        spec: this.podSpec,
        state: 'running' as const,
        containers: [containerRecord(slot)],
        cgroup: this.opts.cgroups?.record(),
      }),
    };
  }

  /**
   * The startup probe first (until it succeeds the others wait); then the container has started:
   * liveness and readiness run, and a sidecar lets the next init container go.
   */
  private startProbes(slot: ContainerSlot, proc: PodProcess, startedAtMs: number): void {
    const startup = slot.spec.startupProbe;
    if (startup && !slot.started) {
      this.probe(slot, proc, 'startupProbe', startedAtMs, (ok) => {
        if (ok) this.markStarted(slot, proc, startedAtMs);
        else this.stopFor(slot, proc, 'startup', startup.terminationGracePeriodSeconds);
      });
      return;
    }
    this.markStarted(slot, proc, startedAtMs);
  }

  private markStarted(slot: ContainerSlot, proc: PodProcess, startedAtMs: number): void {
    slot.started = true;
    const liveness = slot.spec.livenessProbe;
    if (liveness) {
      this.probe(slot, proc, 'livenessProbe', startedAtMs, (ok) => {
        if (!ok) this.stopFor(slot, proc, 'liveness', liveness.terminationGracePeriodSeconds);
      });
    }
    if (slot.spec.readinessProbe) {
      this.probe(slot, proc, 'readinessProbe', startedAtMs, (ok) => {
        slot.ready = ok;
        this.emit('change');
      });
    } else slot.ready = true;
    this.emit('change');
    // A sidecar that has started lets the next init container go.
    if (slot.kind === 'sidecar') this.advance();
  }

  /** A worker for one probe of this run of the container; failures are told as events. */
  private probe(slot: ContainerSlot, proc: PodProcess, kind: ProbeKind, startedAtMs: number, changed: (ok: boolean) => void): void {
    const name = PROBE_NAMES[kind];
    const worker = new ProbeWorker(kind, slot.spec[kind]!, this.clock, (h, ms) => this.handler(this.handlerTarget(slot), h, ms), {
      failed: (o) => {
        if (slot.process === proc) this.tell('Warning', 'Unhealthy', `${name} probe failed: ${o.message}`, slot);
      },
      changed: (ok) => {
        if (slot.process === proc) changed(ok);
      },
    });
    slot.probes.push(worker);
    worker.start(startedAtMs);
  }

  private stopProbes(slot: ContainerSlot): void {
    for (const w of slot.probes) w.stop();
    slot.probes = [];
    slot.started = false;
    slot.ready = false;
  }

  /**
   * Stops a container that failed a probe or its postStart hook, with the probe's grace period
   * (or the pod's); the exit goes through its restart policy, as any other.
   */
  private stopFor(slot: ContainerSlot, proc: PodProcess, why: string, graceSeconds = this.podSpec.terminationGracePeriodSeconds): void {
    const message =
      why === 'FailedPostStartHook'
        ? `Stopping container ${slot.name}: its postStart hook failed`
        : `Container ${slot.name} failed ${why} probe, will be ${slot.policy === 'Never' ? 'stopped' : 'restarted'}`;
    this.tell('Normal', 'Killing', message, slot);
    this.serial(slot, async () => {
      if (slot.process === proc) await this.endProcesses(slot, graceSeconds * 1000, true);
    }).catch((err: Error) => this.emit('warning', `stopping container ${slot.name}: ${err.message}`));
  }

  /** Tells an event about the pod, or about one of its containers. */
  private tell(type: PodEvent['type'], reason: string, message: string, slot?: ContainerSlot): void {
    const event = { type, reason, ...(slot ? { container: slot.name } : {}), message };
    this.opts.onEvent?.(event);
    this.emit('event', event);
  }

  /** `drained`: resolves once its output has been read to the end (not for an adopted process). */
  private watch(slot: ContainerSlot, proc: PodProcess, drained?: Promise<void>): void {
    slot.process = proc;
    this.move(slot, 'running');
    const recorded = (status: ExitStatus, oomKilled = false) => {
      if (slot.process !== proc) return;
      // Read once its output is in its log: FallbackToLogsOnError takes the log's end.
      const failed = status.error !== undefined || statusCode(status) !== 0;
      this.exited(slot, status, oomKilled, this.opts.storage?.terminationMessage(slot.spec, failed));
    };
    const cgroups = this.opts.cgroups;
    slot.settled =
      cgroups || drained
        ? proc.exited.then(async (status) => {
            // When its first process ends, the container has ended: what it left running (a
            // child it forked, a command exec'd into it) is killed before the exit counts, as
            // when a PID 1 dies; and the exit is told after the last of its output (as conmon).
            // Its cgroup goes too, and its next run gets a new one: a process cloned into a
            // cgroup that cgroup.kill has emptied before is killed at birth (Linux 6.18, here).
            // The OOM killer's count is read first: it goes with the cgroup.
            let oomKilled = false;
            try {
              await cgroups?.stop(slot.name, 0);
              oomKilled = (cgroups?.oomKills(slot.name) ?? 0) > 0;
              cgroups?.remove(slot.name);
            } catch (err) {
              this.emit('warning', `container ${slot.name}: ${(err as Error).message}`);
            }
            if (drained) await within(drained, OUTPUT_DRAIN_MS);
            recorded(status, oomKilled);
          })
        : proc.exited.then(recorded);
  }

  /** A container's process ended: record it, then apply its restart policy. */
  private exited(slot: ContainerSlot, status: ExitStatus, oomKilled = false, message?: string): void {
    slot.process = undefined;
    this.stopProbes(slot);
    slot.lastStatus = status;
    slot.lastExit = exitRecord(status, oomKilled, message);
    slot.finishedAt = now();
    this.emit('container-exit', slot.name, status, slot.lastExit.reason);
    const failed = status.error !== undefined || statusCode(status) !== 0;
    if (oomKilled)
      this.tell('Warning', 'OOMKilled', `Container ${slot.name} ${describeExit(status)}: the OOM killer ended a process of it`, slot);
    else this.tell(failed ? 'Warning' : 'Normal', failed ? 'Failed' : 'Completed', `Container ${slot.name} ${describeExit(status)}`, slot);
    this.afterEnd(slot, failed);
  }

  /** A container's process could not be started: a failure, for its restart policy too. */
  private failedStart(slot: ContainerSlot, err: Error): void {
    // An attempt that failed is not a run: the back-off keeps growing.
    slot.startedAtMs = this.clock.now();
    slot.lastError = startError(err);
    slot.finishedAt = now();
    this.emit('container-error', slot.name, err);
    this.tell('Warning', 'Failed', `Error: ${err.message}`, slot);
    this.afterEnd(slot, true);
  }

  private afterEnd(slot: ContainerSlot, failed: boolean): void {
    const again = slot.policy === 'Always' || (slot.policy === 'OnFailure' && failed);
    if (this.stopping || slot.stoppedByUser || !again) {
      this.move(slot, 'exited');
      if (slot.kind === 'init' && !this.stopping && !slot.stoppedByUser) {
        // An init container that failed for good fails the pod (restartPolicy Never).
        if (failed) {
          this.reason = `init container ${slot.name} ${slot.lastStatus ? describeExit(slot.lastStatus) : 'could not start'}`;
          void this.end('completed', this.podSpec.terminationGracePeriodSeconds);
          return;
        }
        this.advance();
      }
      this.checkCompleted();
      return;
    }
    slot.delayMs = nextDelay(this.backoff, slot.delayMs, this.clock.now() - slot.startedAtMs);
    if (failed) this.tell('Warning', 'BackOff', `Back-off ${slot.delayMs / 1000}s restarting failed container ${slot.name}`, slot);
    this.schedule(slot, slot.delayMs);
  }

  private schedule(slot: ContainerSlot, delayMs: number): void {
    slot.nextStartAt = new Date(Date.now() + delayMs).toISOString();
    this.clock.clearTimeout(slot.timer);
    slot.timer = this.clock.setTimeout(() => {
      slot.timer = undefined;
      if (this.stopping || slot.state !== 'waiting' || !this.slots.includes(slot)) return;
      slot.restartCount++;
      try {
        this.run(slot);
      } catch (err) {
        this.failedStart(slot, err as Error);
      }
    }, delayMs);
    this.move(slot, 'waiting');
  }

  /** A pod that is not persistent completes once every container is done for good (a container
   *  being restarted on request is not); its sidecars do not keep it, and are stopped then. */
  private checkCompleted(): void {
    const apps = this.slots.filter((s) => s.kind === 'app');
    if (this.stopping || this.persistent || apps.length === 0 || apps.some((s) => s.restarting)) return;
    if (!apps.every((s) => s.state === 'exited')) return;
    const failed = apps.find((s) => !succeeded(s));
    if (failed) {
      const how = failed.lastStatus ? describeExit(failed.lastStatus) : 'did not run';
      this.reason = `container ${failed.name} ${how}${failed.lastExit?.reason ? ` (${failed.lastExit.reason})` : ''}`;
    }
    void this.end('completed', 0);
  }

  // --- Requests about one container ------------------------------------------------------------

  /** Adds a container to the running pod and starts it; on failure the pod is as before. */
  async addContainer(c: ContainerSpec, policy: RestartPolicy = this.podSpec.restartPolicy): Promise<void> {
    this.assertRunning();
    // Its mounts name the pod's volumes: a pod's volumes are set when it is created.
    c.volumeMounts?.forEach((m, j) => {
      if (!this.podSpec.volumes.some((v) => v.name === m.name))
        throw new InputError(`container.volumeMounts[${j}].name`, `pod ${this.podSpec.name} has no volume "${m.name}"`);
    });
    this.opts.storage?.addObjects(c, 'container');
    const cfs = await this.opts.storage?.container(c, 'container');
    const spec = { ...this.spec, containers: [...this.spec.containers, c] };
    const slot = this.addSlot(c, planContainer(spec, c, { ...this.opts, podIP: this.opts.network?.address }, true, cfs), 'app', policy);
    try {
      this.run(slot);
    } catch (err) {
      this.slots.splice(this.slots.indexOf(slot), 1);
      this.opts.io.forget?.(c.name);
      this.opts.cgroups?.remove(c.name);
      throw StartFailed.from(`container ${c.name}`, err as Error);
    }
  }

  /** Stops one container (SIGTERM, grace, SIGKILL); its policy does not restart it. */
  stopContainer(name: string, graceSeconds = this.podSpec.terminationGracePeriodSeconds): Promise<void> {
    const slot = this.slot(name);
    return this.serial(slot, () => this.stopSlot(slot, graceSeconds));
  }

  /** Stops a container if it runs, and starts it again at once. The infra is not touched. */
  restartContainer(name: string, graceSeconds = this.podSpec.terminationGracePeriodSeconds): Promise<void> {
    this.assertRunning();
    const slot = this.slot(name);
    return this.serial(slot, async () => {
      slot.restarting = true;
      try {
        await this.stopSlot(slot, graceSeconds);
      } finally {
        slot.restarting = false;
      }
      this.assertRunning();
      slot.stoppedByUser = false;
      slot.delayMs = 0;
      slot.restartCount++;
      try {
        this.run(slot);
      } catch (err) {
        this.failedStart(slot, err as Error);
        throw StartFailed.from(`container ${slot.name}`, err as Error);
      }
    });
  }

  /**
   * Changes a container's limits (CRI's UpdateContainerResources; tspod update): in its spec,
   * for every later start, and in its cgroup now if it runs. The limits given replace those of
   * the same name; the result is checked as a manifest's would be (a request above its new
   * limit is refused), and nothing changes on an error.
   */
  updateContainer(name: string, change: { limits?: ResourceList; pidsLimit?: number }): Promise<void> {
    const slot = this.slot(name);
    return this.serial(slot, async () => {
      const cgroups = this.opts.cgroups;
      if (!cgroups) throw new Conflict(`pod "${this.podSpec.name}" has no cgroups: its limits cannot change`);
      const spec = slot.spec;
      const merged = { ...spec.resources, limits: { ...spec.resources?.limits, ...change.limits } };
      const checked = resources(merged, `container ${name}: resources`);
      const pids = change.pidsLimit ?? spec.pidsLimit;
      if (slot.process) cgroups.update(name, resourceAmounts(checked, pids));
      spec.resources = checked;
      if (pids !== undefined) spec.pidsLimit = pids;
      this.emit('change');
    });
  }

  /** Removes a container from the pod; a running one only with force (it is killed first). */
  removeContainer(name: string, force = false): Promise<void> {
    const slot = this.slot(name);
    return this.serial(slot, async () => {
      if (slot.process && !force)
        throw new Conflict(`container "${name}" of pod "${this.podSpec.name}" is running: stop it first, or use -f`);
      slot.stoppedByUser = true;
      this.clock.clearTimeout(slot.timer);
      await this.endProcesses(slot, 0);
      this.slots.splice(this.slots.indexOf(slot), 1);
      this.opts.io.forget?.(name);
      this.opts.cgroups?.remove(name);
      this.opts.storage?.forget(name);
      this.emit('change');
    });
  }

  private slot(name: string): ContainerSlot {
    const s = this.slots.find((c) => c.name === name);
    if (!s) throw new NotFound(`pod "${this.podSpec.name}" has no container "${name}"`);
    return s;
  }

  private assertRunning(): void {
    if (this.stopping || !this.infra.running)
      throw new Conflict(`pod "${this.podSpec.name}" is ${this.podState === 'running' ? 'stopping' : this.podState}`);
  }

  /** Runs requests about one container one after the other: two restarts at once, or a
   *  restart and a remove, would otherwise both act on a half-changed container. */
  private serial<T>(slot: ContainerSlot, fn: () => Promise<T>): Promise<T> {
    const result = slot.busy.then(fn);
    slot.busy = result.catch(() => undefined);
    return result;
  }

  private async stopSlot(slot: ContainerSlot, graceSeconds: number): Promise<void> {
    slot.stoppedByUser = true;
    slot.held = false;
    this.clock.clearTimeout(slot.timer);
    if (slot.state === 'waiting') this.move(slot, 'exited');
    if (slot.process?.running) this.tell('Normal', 'Killing', `Stopping container ${slot.name}`, slot);
    await this.endProcesses(slot, graceSeconds * 1000, true);
  }

  /**
   * SIGTERM, then SIGKILL after graceMs, to the container's process, or with cgroups to every
   * process in its cgroup; resolves once none is left and the exit has been recorded. `preStop`:
   * its preStop hook runs first, within the grace period, which its time counts against.
   */
  private async endProcesses(slot: ContainerSlot, graceMs: number, preStop = false): Promise<void> {
    const hook = slot.spec.lifecycle?.preStop;
    if (preStop && hook && graceMs > 0 && slot.process?.running) {
      const began = this.clock.now();
      const outcome = await this.handler(this.handlerTarget(slot), hook, graceMs, true);
      if (!outcome.ok) this.tell('Warning', 'FailedPreStopHook', `PreStopHook failed: ${outcome.message}`, slot);
      graceMs = Math.max(GRACE_AFTER_PRESTOP_MS, graceMs - (this.clock.now() - began));
    }
    if (this.opts.cgroups) await this.opts.cgroups.stop(slot.name, graceMs, slot.process?.exited);
    else if (slot.process) await terminate([slot.process], graceMs);
    await slot.settled;
  }

  // --- What the pod shows ----------------------------------------------------------------------

  /** The pod's spec, with its containers as they are now. */
  get spec(): PodSpec {
    const init = this.slots.filter((s) => s.kind !== 'app').map((s) => s.spec);
    return {
      ...this.podSpec,
      ...(init.length ? { initContainers: init } : {}),
      containers: this.slots.filter((s) => s.kind === 'app').map((s) => s.spec),
    };
  }

  /** Container name, host pid and state, in the pod's order (init containers first). */
  get containers(): {
    name: string;
    kind: ContainerKind;
    pid: number | undefined;
    state: ContainerState;
    running: boolean;
    ready: boolean;
    exit: ExitStatus | undefined;
    restartCount: number;
  }[] {
    return this.slots.map((s) => ({
      name: s.name,
      kind: s.kind,
      pid: s.process?.pid,
      state: s.state,
      running: s.process?.running ?? false,
      ready: s.ready,
      exit: s.lastStatus,
      restartCount: s.restartCount,
    }));
  }

  get state(): PodState {
    return this.podState;
  }

  /** The record the state directory keeps for this pod. */
  toRecord(supervisor: PodRecord['supervisor']): PodRecord {
    return podRecord(
      {
        spec: this.podSpec,
        createdAt: this.createdAt,
        persistent: this.persistent,
        state: this.podState,
        reason: this.reason,
        endedAt: this.endedAt,
        infra: this.infra,
        infraPipes: this.infraPipes,
        network: this.opts.network?.record(),
        cgroup: this.opts.cgroups?.record(),
        slots: this.slots,
      },
      supervisor,
    );
  }

  // --- The end -----------------------------------------------------------------------------------

  /** SIGTERM, then SIGKILL after the grace period (default: the pod's). Idempotent. */
  stop(graceSeconds = this.podSpec.terminationGracePeriodSeconds): Promise<PodResult> {
    return this.end('stopped', graceSeconds);
  }

  /** SIGKILL to every process of the pod now, also during a stop already under way. */
  async kill(): Promise<PodResult> {
    for (const s of this.slots) s.process?.signal(SIGKILL);
    this.infra.signal(SIGKILL);
    try {
      this.opts.cgroups?.kill();
    } catch (err) {
      this.emit('warning', `killing its cgroup: ${(err as Error).message}`);
    }
    return this.end('stopped', 0);
  }

  private end(reason: PodEndReason, graceSeconds: number): Promise<PodResult> {
    this.stopping ??= (async () => {
      for (const s of this.slots) {
        this.clock.clearTimeout(s.timer);
        s.held = false;
        if (s.state === 'waiting') s.moveTo('exited');
      }
      this.emit('change');
      try {
        // The sidecars outlive the others, and end one by one in reverse order, in what is left of the grace period.
        const deadline = this.clock.now() + graceSeconds * 1000;
        await Promise.all(this.slots.filter((s) => s.kind !== 'sidecar').map((s) => this.endProcesses(s, graceSeconds * 1000, true)));
        for (const s of this.slots.filter((x) => x.kind === 'sidecar').reverse()) {
          await this.endProcesses(s, Math.max(0, deadline - this.clock.now()), true);
        }
        // tspod's pause exits at once on SIGTERM; a custom infra program may not.
        await terminate([this.infra], INFRA_GRACE_MS);
      } finally {
        // Whatever failed above, the pod's resources are released and its end is told; the
        // cgroups first, which end whatever may still run (so no process holds a volume).
        await this.release('cgroups', () => this.opts.cgroups?.release());
        await this.release('network', () => this.opts.network?.detach());
        await this.release('storage', () => this.opts.storage?.release());
        await this.release('output', () => this.opts.io.close());
      }
      this.podState = reason === 'stopped' ? 'stopped' : reason === 'infra-exited' || this.reason ? 'failed' : 'completed';
      this.endedAt = now();
      const failedInit = this.slots.find((s) => s.kind === 'init' && s.state === 'exited' && s.lastStatus && !succeeded(s));
      const ending = { stopped: 'Stopped', completed: 'Completed', failed: 'Failed' } as const;
      const state = this.podState as keyof typeof ending;
      this.tell(state === 'failed' ? 'Warning' : 'Normal', ending[state], `Pod ${state}${this.reason ? `: ${this.reason}` : ''}`);
      const result: PodResult = {
        reason,
        containers: this.slots.filter((s) => s.kind === 'app').map((s) => ({ name: s.name, exit: s.lastStatus })),
        ...(failedInit ? { failedInit: { name: failedInit.name, exit: failedInit.lastStatus } } : {}),
        infraExit: this.infra.status,
      };
      this.emit('change');
      this.emit('end', result);
      this.resolveEnded(result);
      return result;
    })();
    return this.stopping;
  }

  /** Runs a clean-up step; a failure is told as a warning and does not stop the others. */
  private async release(what: string, step: () => Promise<void> | undefined): Promise<void> {
    try {
      await step();
    } catch (err) {
      this.emit('warning', `releasing its ${what}: ${(err as Error).message}`);
    }
  }
}
