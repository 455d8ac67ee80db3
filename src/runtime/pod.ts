// A running pod: its infra process and its containers, supervised through pidfds.
//
// Life cycle: the infra starts first; each container then joins it. The pod ends when every
// container has exited (completed), when it is asked to stop, or when its infra process dies
// (failed: the pod's namespaces are gone or going, so its containers are stopped). Stopping is
// SIGTERM to every container, SIGKILL to those left after the grace period, then the infra.
import { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import { TspodError } from '../errors.js';
import type { ExitStatus, NativeBinding } from '../native/binding.js';
import { containerArgv, containerEnv, envStrings } from '../pod/env.js';
import type { ContainerSpec, PodSpec } from '../pod/spec.js';
import { startContainer, type ContainerLaunch } from './container.js';
import { startInfra } from './infra.js';
import { PodProcess, describeExit } from './process.js';
import { EXIT_CANNOT_RUN, EXIT_NOT_FOUND, resolveProgram } from './resolve.js';

const { SIGTERM, SIGKILL } = osConstants.signals;

/** How long tspod's pause is given to exit on SIGTERM (it exits at once) before SIGKILL. */
const INFRA_GRACE_MS = 2000;

/** Where a process's stdin, stdout and stderr go. */
export interface ProcessIO {
  stdio: [number, number, number];
  /** Called after the spawn (successful or not): closes the parent's copies of child ends. */
  release(): void;
}

/** Gives every process of a pod its stdio: a terminal's prefixer, log files, /dev/null. */
export interface PodIO {
  /** `who` is a container name, or null for the infra. */
  open(who: string | null): ProcessIO;
  /** After the pod has ended: waits until the output is flushed. */
  close(): Promise<void>;
}

export interface PodOptions {
  binding: NativeBinding;
  io: PodIO;
  /** Working directory of containers that set none (they see the host's file system). */
  cwd: string;
  /** Sent to every pod process if tspod dies (SIGKILL in the foreground). */
  parentDeathSignal?: number;
}

export type PodEndReason = 'completed' | 'stopped' | 'infra-exited';

export interface ContainerResult {
  name: string;
  exit: ExitStatus | undefined;
}

export interface PodResult {
  reason: PodEndReason;
  containers: ContainerResult[];
  infraExit: ExitStatus | undefined;
}

interface ContainerRecord {
  spec: ContainerSpec;
  launch: ContainerLaunch;
  process: PodProcess | undefined;
  exit: ExitStatus | undefined;
}

/** A container that could not be started; keeps the errno fields of the cause. */
export class ContainerStartError extends TspodError {
  readonly container: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
  constructor(container: string, cause: Error) {
    const e = cause as NodeJS.ErrnoException;
    const status = e.syscall === 'execve' ? (e.code === 'ENOENT' ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN) : 125;
    super(`container ${container}: ${cause.message}`, cause instanceof TspodError ? cause.exitCode : status);
    this.name = 'ContainerStartError';
    this.container = container;
    for (const key of ['code', 'errno', 'syscall', 'path'] as const) {
      if (e[key] !== undefined) (this as Record<string, unknown>)[key] = e[key];
    }
  }
}

/** Works out each container's program, argv, environment and directory. Throws on bad input. */
export function planContainers(spec: PodSpec, opts: Pick<PodOptions, 'cwd' | 'parentDeathSignal'>): ContainerLaunch[] {
  return spec.containers.map((c) => {
    const env = containerEnv(spec, c);
    const argv = containerArgv(c, env);
    const cwd = c.workingDir ?? opts.cwd;
    return {
      name: c.name,
      path: resolveProgram(argv[0], env.get('PATH') ?? '', cwd, `container ${c.name}`),
      argv,
      env: envStrings(env),
      cwd,
      share: spec.share,
      hostname: spec.hostname,
      parentDeathSignal: opts.parentDeathSignal,
    };
  });
}

function timeout(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout;
  const promise = new Promise<void>((r) => (timer = setTimeout(r, ms)));
  return { promise, cancel: () => clearTimeout(timer) };
}

/** Waits for `p`, at most `ms`; true when it settled in time. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  const t = timeout(ms);
  const done = await Promise.race([p.then(() => true), t.promise.then(() => false)]);
  t.cancel();
  return done;
}

export interface PodEvents {
  'container-exit': [name: string, status: ExitStatus];
  'infra-exit': [status: ExitStatus];
  end: [result: PodResult];
}

export class Pod extends EventEmitter<PodEvents> {
  readonly spec: PodSpec;
  readonly infra: PodProcess;
  /** Resolves when the pod has ended and every one of its processes is gone. */
  readonly ended: Promise<PodResult>;
  private readonly opts: PodOptions;
  private readonly records: ContainerRecord[];
  private endReason: PodEndReason | undefined;
  private stopping: Promise<PodResult> | undefined;
  private resolveEnded!: (r: PodResult) => void;

  private constructor(spec: PodSpec, opts: PodOptions, infra: PodProcess, launches: ContainerLaunch[]) {
    super();
    this.spec = spec;
    this.opts = opts;
    this.infra = infra;
    this.records = spec.containers.map((c, i) => ({ spec: c, launch: launches[i], process: undefined, exit: undefined }));
    this.ended = new Promise((r) => (this.resolveEnded = r));
    void infra.exited.then((status) => {
      this.emit('infra-exit', status);
      if (!this.stopping) void this.end('infra-exited', spec.terminationGracePeriodSeconds);
    });
  }

  /**
   * Starts the infra, then each container in order. On any failure everything already started
   * is killed and reaped before the error is thrown: nothing is left behind.
   */
  static async start(spec: PodSpec, opts: PodOptions): Promise<Pod> {
    let pod: Pod | undefined;
    let starting: string | undefined;
    try {
      const launches = planContainers(spec, opts);
      const infraIO = opts.io.open(null);
      let infra: PodProcess;
      try {
        infra = await startInfra(opts.binding, {
          hostname: spec.hostname,
          pause: spec.pause,
          stdio: infraIO.stdio,
          parentDeathSignal: opts.parentDeathSignal,
        });
      } finally {
        infraIO.release();
      }
      pod = new Pod(spec, opts, infra, launches);
      for (const record of pod.records) {
        starting = record.spec.name;
        pod.startRecord(record);
      }
      return pod;
    } catch (err) {
      if (pod) await pod.kill(); // also closes the IO
      else await opts.io.close();
      if (starting === undefined || err instanceof TspodError) throw err;
      throw new ContainerStartError(starting, err as Error);
    }
  }

  private startRecord(record: ContainerRecord): void {
    if (!this.infra.running) throw new TspodError(`infra process ${describeExit(this.infra.status!)}`);
    const io = this.opts.io.open(record.spec.name);
    let proc: PodProcess;
    try {
      proc = startContainer(this.opts.binding, this.infra, record.launch, io.stdio);
    } finally {
      io.release();
    }
    record.process = proc;
    record.exit = undefined;
    void proc.exited.then((status) => {
      record.exit = status;
      this.emit('container-exit', record.spec.name, status);
      if (!this.stopping && this.records.every((r) => r.exit !== undefined)) void this.end('completed', 0);
    });
  }

  /** Container name, host pid and state, in manifest order. */
  get containers(): { name: string; pid: number | undefined; running: boolean; exit: ExitStatus | undefined }[] {
    return this.records.map((r) => ({
      name: r.spec.name,
      pid: r.process?.pid,
      running: r.process?.running ?? false,
      exit: r.exit,
    }));
  }

  /** SIGTERM, then SIGKILL after the grace period (default: the pod's). Idempotent. */
  stop(graceSeconds = this.spec.terminationGracePeriodSeconds): Promise<PodResult> {
    return this.end('stopped', graceSeconds);
  }

  /** SIGKILL to every process of the pod now, also during a stop already under way. */
  async kill(): Promise<PodResult> {
    for (const r of this.records) r.process?.signal(SIGKILL);
    this.infra.signal(SIGKILL);
    return this.end('stopped', 0);
  }

  private end(reason: PodEndReason, graceSeconds: number): Promise<PodResult> {
    this.stopping ??= (async () => {
      this.endReason = reason;
      const running = this.records.map((r) => r.process).filter((p): p is PodProcess => !!p?.running);
      const allExited = Promise.all(running.map((p) => p.exited));
      for (const p of running) p.signal(SIGTERM);
      if (!(await within(allExited, graceSeconds * 1000))) for (const p of running) p.signal(SIGKILL);
      await allExited;
      // tspod's pause exits at once on SIGTERM; a custom infra program may not.
      if (this.infra.signal(SIGTERM) && !(await within(this.infra.exited, INFRA_GRACE_MS))) this.infra.signal(SIGKILL);
      await this.infra.exited;
      await this.opts.io.close();
      const result: PodResult = {
        reason: this.endReason,
        containers: this.records.map((r) => ({ name: r.spec.name, exit: r.exit })),
        infraExit: this.infra.status,
      };
      this.emit('end', result);
      this.resolveEnded(result);
      return result;
    })();
    return this.stopping;
  }
}
