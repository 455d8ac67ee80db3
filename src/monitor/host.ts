// The pods one supervising process holds: the monitor (every detached pod) or a foreground
// `tspod run` (its one pod). It takes a pod's name in the state directory, starts the pod,
// keeps its record on disk up to date, and removes it.
import { closeSync, openSync } from 'node:fs';
import { Conflict, NotFound, TspodError } from '../errors.js';
import type { NativeBinding } from '../native/binding.js';
import type { PodSpec } from '../pod/spec.js';
import { LoggingIO, type OutputTee } from '../runtime/io.js';
import { PodNetwork } from '../net/network.js';
import { Pod, type Backoff, type Clock } from '../runtime/pod.js';
import { PodProcess } from '../runtime/process.js';
import { RECORD_VERSION, type PodRecord, type ProcessId } from '../state/records.js';
import type { StateStore } from '../state/store.js';
import { isStale } from '../state/view.js';

export interface HostOptions {
  backoff?: Backoff;
  clock?: Clock;
  logMaxBytes?: number;
  logMaxFiles?: number;
  udpIdleMs?: number;
  /** Called for each pod the host takes: created or adopted. */
  onPod?: (pod: Pod, how: 'created' | 'adopted') => void;
}

export interface CreateOptions {
  persistent?: boolean;
  /** SIGKILL for a foreground pod: nothing of it outlives its tspod. */
  parentDeathSignal?: number;
  tee?: OutputTee;
}



/**
 * Ends every process a record names that still runs (checked by pid and start time), with
 * SIGKILL, and waits until they are gone. For pods whose supervisor is gone.
 */
export async function killRecorded(binding: NativeBinding, record: PodRecord): Promise<void> {
  const ids: ProcessId[] = [
    ...record.containers.flatMap((c) => (c.state === 'running' && c.process ? [c.process] : [])),
    ...(record.infra ? [record.infra.process] : []),
  ];
  const procs = ids.flatMap((id) => PodProcess.adopt(binding, id) ?? []);
  for (const p of procs) p.signal(9);
  await Promise.all(procs.map((p) => p.exited));
}

/** Runs `fn` holding the state directory's names lock (see PodHost.reserve). */
export async function withNamesLock<T>(store: StateStore, binding: NativeBinding, fn: () => Promise<T>): Promise<T> {
  store.ensureRoot();
  const lock = openSync(store.paths.namesLock, 'a', 0o600);
  try {
    binding.flock(lock, true, true);
    return await fn();
  } finally {
    closeSync(lock);
  }
}

/** Under the names lock: removes the pod if it is stale (kills what is left of it first). */
export async function removeIfStale(store: StateStore, binding: NativeBinding, name: string): Promise<boolean> {
  const record = store.read(name);
  if (!record || !isStale(record)) return false;
  await killRecorded(binding, record);
  store.remove(name);
  return true;
}

export class PodHost {
  readonly pods = new Map<string, Pod>();
  private readonly store: StateStore;
  private readonly binding: NativeBinding;
  private readonly self: PodRecord['supervisor'];
  private readonly opts: HostOptions;

  constructor(store: StateStore, binding: NativeBinding, self: PodRecord['supervisor'], opts: HostOptions = {}) {
    this.store = store;
    this.binding = binding;
    this.self = self;
    this.opts = opts;
  }

  /**
   * Takes a pod's name. A name held by a stale pod (its foreground tspod was killed) is taken
   * over; under a lock, so two takers can never both clean it away and both win.
   */
  private async reserve(name: string): Promise<void> {
    await withNamesLock(this.store, this.binding, async () => {
      if (this.store.reserve(name)) return;
      if (!(await removeIfStale(this.store, this.binding, name)) || !this.store.reserve(name)) {
        throw new Conflict(`pod "${name}" already exists`);
      }
    });
  }

  /** Takes the name, starts the pod, and records it; on failure nothing of it remains. */
  async create(spec: PodSpec, opts: CreateOptions = {}): Promise<Pod> {
    await this.reserve(spec.name);
    const { containers: _, ...podSpec } = spec;
    this.store.write({
      version: RECORD_VERSION,
      name: spec.name,
      spec: podSpec,
      createdAt: new Date().toISOString(),
      supervisor: this.self,
      persistent: opts.persistent ?? false,
      state: 'creating',
      containers: [],
    });
    let pod: Pod;
    try {
      const network = await PodNetwork.prepare(this.binding, spec, this.opts);
      pod = await Pod.start(spec, {
        network,
        binding: this.binding,
        io: this.io(spec.name, opts.tee),
        cwd: '/',
        parentDeathSignal: opts.parentDeathSignal,
        persistent: opts.persistent,
        backoff: this.opts.backoff,
        clock: this.opts.clock,
      });
    } catch (err) {
      this.store.remove(spec.name);
      throw err;
    }
    this.track(pod, 'created');
    return pod;
  }

  /** Takes over a running pod from its record (a new monitor after the old one died). */
  async adopt(record: PodRecord): Promise<Pod> {
    const network = await this.adoptNetwork(record);
    const pod = Pod.adopt(record, {
      network,
      binding: this.binding,
      io: this.io(record.name),
      cwd: '/',
      backoff: this.opts.backoff,
      clock: this.opts.clock,
    });
    this.track(pod, 'adopted');
    return pod;
  }

  /** The pod's network again; its published ports are left closed if they cannot be bound. */
  private async adoptNetwork(record: PodRecord): Promise<PodNetwork> {
    const saved = record.network ?? { mode: 'pod', ports: [] };
    const infraPid = record.infra!.process.pid;
    try {
      return await PodNetwork.adopt(this.binding, saved, infraPid, this.opts);
    } catch (err) {
      process.stderr.write(`tspod: pod ${record.name}: its published ports stay closed: ${(err as Error).message}\n`);
      return PodNetwork.adopt(this.binding, { ...saved, ports: [] }, infraPid);
    }
  }

  get(name: string): Pod {
    const pod = this.pods.get(name);
    if (!pod) throw new NotFound(`pod "${name}" does not exist`);
    return pod;
  }

  /** Forgets a pod and deletes its state; a running pod only with force (killed first). */
  async remove(name: string, force: boolean): Promise<void> {
    const pod = this.pods.get(name);
    if (pod) {
      if (pod.state === 'running' && !force) {
        throw new TspodError(`pod "${name}" is running: stop it first, or use rm -f`);
      }
      await pod.kill();
      this.pods.delete(name);
    } else {
      const record = this.store.read(name);
      if (!record) throw new NotFound(`pod "${name}" does not exist`);
      await killRecorded(this.binding, record);
    }
    this.store.remove(name);
  }

  /** Writes the pod's record now. */
  save(pod: Pod): void {
    if (this.pods.get(pod.spec.name) === pod) this.store.write(pod.toRecord(this.self));
  }

  /** The pod's record, as now (and written). */
  record(name: string): PodRecord {
    const record = this.get(name).toRecord(this.self);
    this.store.write(record);
    return record;
  }

  private track(pod: Pod, how: 'created' | 'adopted'): void {
    this.pods.set(pod.spec.name, pod);
    pod.on('change', () => this.save(pod));
    this.save(pod);
    this.opts.onPod?.(pod, how);
  }

  private io(name: string, tee?: OutputTee): LoggingIO {
    const paths = this.store.paths;
    return new LoggingIO(this.binding, {
      logPath: (who) => (who === null ? paths.infraLog(name) : paths.log(name, who)),
      tee,
      onError: (who, err) => process.stderr.write(`tspod: pod ${name}: log of ${who ?? 'infra'}: ${err.message}\n`),
      maxBytes: this.opts.logMaxBytes,
      maxFiles: this.opts.logMaxFiles,
    });
  }
}
