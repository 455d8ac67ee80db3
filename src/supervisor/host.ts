// The pods one supervising process holds: the monitor (every detached pod) or a foreground
// `tspod run` (its one pod). Both are this host with a different face: it takes a pod's name in
// the state directory, prepares the pod's storage and network, starts the pod, keeps its record
// on disk up to date, takes over what an earlier supervisor left, and removes pods. What it has
// to say goes to the log it is handed: the monitor's file, the foreground's terminal, or an
// embedding program's own.
import { randomUUID } from 'node:crypto';
import { closeSync, constants as fsConstants, openSync, statfsSync } from 'node:fs';
import { PodCgroups } from '../cgroup/pod.js';
import { Conflict, InputError, TspodError } from '../errors.js';
import type { NativeBinding, NamespaceJoin } from '../native/binding.js';
import { isRunning } from '../native/identity.js';
import { PodNetwork, type NetworkOptions } from '../net/network.js';
import { resourceAmounts } from '../pod/resources.js';
import { everyContainer, type IdRange, type JoinableNamespace, type NamespaceSource, type PodSpec } from '../pod/spec.js';
import type { Backoff, Clock } from '../runtime/backoff.js';
import { LoggingIO, type OutputTee } from '../runtime/io.js';
import { Pod, type PodEvent } from '../runtime/pod.js';
import { PodProcess, openProcess } from '../runtime/process.js';
import { ObjectStore } from '../state/objects.js';
import { appendEvent } from '../state/events.js';
import { RECORD_VERSION, type PodRecord } from '../state/records.js';
import type { StateStore } from '../state/store.js';
import { exitedUnseen, inForeground, isStale } from '../state/view.js';
import { PodStorage, type ObjectLookup } from '../storage/storage.js';
import { cniPaths, releaseRecorded, removeIfStale, withNamesLock } from './stale.js';
import { checkPodNamespaces, sourceText } from '../pod/namespaces.js';
import { checkSysctls } from '../pod/sysctls.js';
import { DEFAULT_USERNS_RANGE, allocateIdRange, checkUserNamespace, joinedIdRange } from '../pod/userns.js';
import { openUserNamespace, userNamespaceMaps } from '../runtime/userns.js';

/**
 * Where a supervisor says what happens to its pods, each message about one pod: what it did
 * (info: a leftover pod removed) and trouble the pod survives (warn: a record or a log that
 * cannot be written, a clean-up step that failed, an adoption that did not work).
 */
export interface SupervisorLog {
  info(pod: string, message: string): void;
  warn(pod: string, message: string): void;
}

/** statfs(2)'s type of the namespace file system, nsfs (linux/magic.h). */
const NSFS_MAGIC = 0x6e736673;

export interface HostOptions extends NetworkOptions {
  backoff?: Backoff;
  clock?: Clock;
  logMaxBytes?: number;
  logMaxFiles?: number;
  /** Called for each pod the host takes: created or adopted. */
  onPod?: (pod: Pod, how: 'created' | 'adopted') => void;
  /**
   * Where pods get their cgroups: the v2 hierarchy's mount, and tspod's root in it (a pod's
   * cgroupParent moves it); podMaxPids, the kubelet's --pod-max-pids, for a pod without a
   * pidsLimit of its own; delegated, a cgroup a service manager gave the monitor (systemd's
   * Delegate=yes), above which tspod writes nothing. Unset: none.
   */
  cgroups?: { mount: string; root: string; podMaxPids?: number; delegated?: string };
  /** Sysctls beyond Kubernetes' safe set that pods may set: names, or prefixes ending in '*' (pod/sysctls.ts). */
  allowedUnsafeSysctls?: string[];
  /** The host ids pods in user namespaces of their own get theirs from (TSPOD_USERNS_RANGE); unset: the default. */
  usernsRange?: IdRange;
}

export interface CreateOptions {
  persistent?: boolean;
  /** SIGKILL for a foreground pod: nothing of it outlives its tspod. */
  parentDeathSignal?: number;
  tee?: OutputTee;
}

export class PodHost {
  readonly pods = new Map<string, Pod>();
  private readonly store: StateStore;
  private readonly binding: NativeBinding;
  private readonly self: PodRecord['supervisor'];
  private readonly opts: HostOptions;
  private readonly log: SupervisorLog;
  /** Names taken whose pods are still starting: requests about them wait for nothing, they fail. */
  private readonly creating = new Set<string>();
  /** Pods being removed: their records are not written again. */
  private readonly removing = new Set<Pod>();

  constructor(store: StateStore, binding: NativeBinding, self: PodRecord['supervisor'], log: SupervisorLog, opts: HostOptions = {}) {
    this.store = store;
    this.binding = binding;
    this.self = self;
    this.log = log;
    this.opts = opts;
  }

  /**
   * Takes a pod's name and writes its first record, both under the names lock. A name held by
   * a stale pod (its foreground tspod was killed) is taken over.
   */
  private async reserve(spec: PodSpec, persistent: boolean): Promise<void> {
    await withNamesLock(this.store, this.binding, async () => {
      if (!this.store.reserve(spec.name)) {
        if (!(await removeIfStale(this.store, this.binding, spec.name)) || !this.store.reserve(spec.name)) {
          throw new Conflict(`pod "${spec.name}" already exists`);
        }
      }
      try {
        // Under the lock, so two pods never take one range; the record keeps it until rm.
        if (!spec.joinNamespaces?.user) delete spec.userNamespace;
        if (spec.hostUsers === false && !spec.joinNamespaces?.user) {
          const taken = this.store.list().flatMap((r) => r.spec.userNamespace ?? []);
          spec.userNamespace = allocateIdRange(this.opts.usernsRange ?? DEFAULT_USERNS_RANGE, taken);
        }
        const { containers: _, ...podSpec } = spec;
        this.store.write({
          version: RECORD_VERSION,
          name: spec.name,
          spec: podSpec,
          createdAt: new Date().toISOString(),
          supervisor: this.self,
          persistent,
          state: 'creating',
          containers: [],
        });
      } catch (err) {
        this.store.remove(spec.name);
        throw err;
      }
    });
  }

  /** The stored ConfigMaps and Secrets, for the pods' copies (a container added later may name one). */
  private readonly objects: ObjectLookup = (kind, name) => new ObjectStore(this.store.paths).get(kind, name);

  /** Takes the name, starts the pod, and records it; on failure nothing of it remains. */
  async create(spec: PodSpec, opts: CreateOptions = {}): Promise<Pod> {
    if (this.creating.has(spec.name)) throw new Conflict(`pod "${spec.name}" already exists`);
    checkPodNamespaces(spec);
    checkSysctls(spec, this.opts.allowedUnsafeSysctls ?? []);
    checkUserNamespace(spec);
    // Opened now: a namespace that is not there stops the pod before anything is made.
    const joins = this.namespaceJoins(spec);
    try {
      // A user namespace joined: its range is the pod's, as it is (none is allocated).
      const user = joins.find((j) => j.type === this.binding.constants.CLONE_NEWUSER);
      const option = `--userns ${sourceText(spec.joinNamespaces?.user ?? { path: '' })}`;
      if (user) spec.userNamespace = joinedIdRange(userNamespaceMaps(this.binding, user), option);
    } catch (err) {
      for (const j of joins) closeSync(j.fd);
      throw err;
    }
    this.creating.add(spec.name);
    // Its own id, kept in its record (the downward API's metadata.uid).
    spec.uid ??= randomUUID();
    try {
      await this.reserve(spec, opts.persistent ?? false);
      let pod: Pod;
      let cgroups: PodCgroups | undefined;
      try {
        if (!this.opts.cgroups && needsCgroups(spec)) {
          throw new TspodError(`pod "${spec.name}": asks for resource limits or a cgroup parent, and this host has no cgroup v2 hierarchy`);
        }
        if (this.opts.cgroups) {
          cgroups = this.makeCgroups(spec, this.opts.cgroups);
          // Named in the record before anything runs in it, for whoever cleans up after a crash.
          if (cgroups) this.store.write({ ...this.store.need(spec.name), cgroup: cgroups.record() });
        }
        const storage = await PodStorage.prepare(this.binding, spec, this.store.paths.pod(spec.name), false, this.objects);
        let network: PodNetwork;
        try {
          network = await PodNetwork.prepare(this.binding, spec, this.networkOptions(spec.name), cniPaths(this.store, spec.name));
        } catch (err) {
          await storage.release();
          throw err;
        }
        pod = await Pod.start(spec, {
          network,
          storage,
          cgroups,
          binding: this.binding,
          io: this.io(spec.name, opts.tee),
          cwd: '/',
          parentDeathSignal: opts.parentDeathSignal,
          persistent: opts.persistent,
          backoff: this.opts.backoff,
          clock: this.opts.clock,
          infraJoins: joins,
          // Still "creating", but naming its processes: should this supervisor die before the
          // pod is whole, the next one (or rm -f) finds the record stale and kills them.
          onStarting: (p) => this.store.write({ ...p.toRecord(this.self), state: 'creating' }),
          onEvent: (e) => this.event(spec.name, e),
        });
      } catch (err) {
        // Pod.start releases them when it got that far; before, nothing ran in them.
        await cgroups?.release().catch((e: Error) => this.log.warn(spec.name, `releasing its cgroups: ${e.message}`));
        this.store.remove(spec.name);
        throw err;
      }
      this.track(pod, 'created');
      return pod;
    } finally {
      this.creating.delete(spec.name);
      for (const j of joins) closeSync(j.fd);
    }
  }

  /**
   * The namespaces the pod's infra joins (`joinNamespaces`): a namespace file opened, or another
   * running pod's infra, through its pidfd (one setns for all that pod gives). A user namespace
   * comes last (the infra makes the rest in it), as a namespace file: its maps are read, and
   * idmapped mounts made, through it.
   */
  private namespaceJoins(spec: PodSpec): NamespaceJoin[] {
    const c = this.binding.constants;
    const flag = { net: c.CLONE_NEWNET, ipc: c.CLONE_NEWIPC, uts: c.CLONE_NEWUTS, pid: c.CLONE_NEWPID, user: c.CLONE_NEWUSER };
    const joins: NamespaceJoin[] = [];
    const entries = Object.entries(spec.joinNamespaces ?? {}) as [JoinableNamespace, NamespaceSource][];
    try {
      for (const [ns, source] of entries.sort(([a], [b]) => Number(a === 'user') - Number(b === 'user'))) {
        const label = `${sourceText(source)} (${ns})`;
        const option = `--${{ net: 'network', user: 'userns' }[ns as string] ?? ns}`;
        if ('path' in source) {
          try {
            // Only a namespace file (nsfs), opened so that a FIFO or a device cannot block or act.
            if (statfsSync(source.path).type !== NSFS_MAGIC) throw Object.assign(new Error(), { code: 'not a namespace file' });
            const fd = openSync(source.path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
            joins.push({ fd, type: flag[ns], label });
          } catch (err) {
            throw new InputError(option, `${sourceText(source)}: ${(err as NodeJS.ErrnoException).code}`);
          }
          continue;
        }
        const other = this.store.read(source.pod);
        const pidfd = other?.state === 'running' && other.infra ? openProcess(this.binding, other.infra.process) : undefined;
        if (pidfd === undefined) throw new InputError(option, `${sourceText(source)}: no such running pod`);
        if (ns !== 'user') {
          joins.push({ fd: pidfd, type: flag[ns], label });
          continue;
        }
        try {
          joins.push({ fd: openUserNamespace(this.binding, { pid: other!.infra!.process.pid, pidfd }), type: flag[ns], label });
        } finally {
          closeSync(pidfd);
        }
      }
    } catch (err) {
      for (const j of joins) closeSync(j.fd);
      throw err;
    }
    return joins;
  }

  /**
   * The pod's cgroups; none, said in the pod's log, where the hierarchy cannot be written (a
   * read-only /sys/fs/cgroup inside a container): the pod runs as it would on a host without,
   * unless it asks for what only cgroups give (a limit, a cgroup parent).
   */
  private makeCgroups(spec: PodSpec, where: NonNullable<HostOptions['cgroups']>): PodCgroups | undefined {
    const limits = resourceAmounts(spec.resources, spec.pidsLimit ?? where.podMaxPids);
    try {
      return PodCgroups.create(this.binding, where.mount, spec.name, spec.cgroupParent ?? where.root, limits, where.delegated);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'EROFS' && code !== 'EACCES' && code !== 'EPERM') || needsCgroups(spec)) throw err;
      this.log.warn(spec.name, `runs without cgroups (a container is its first process only): ${(err as Error).message}`);
      return undefined;
    }
  }

  /**
   * Takes over a running pod from its record (a new monitor after the old one died). The infra
   * is found again first (pidfd, then start time): nothing of the pod, its network namespace
   * included, is touched through a pid that may have been reused.
   */
  async adopt(record: PodRecord): Promise<Pod> {
    const infra = record.infra && PodProcess.adopt(this.binding, record.infra.process);
    if (!infra) throw new Conflict(`pod "${record.name}": its infra process (pid ${record.infra?.process.pid}) is gone`);
    let network: PodNetwork | undefined;
    let pod: Pod;
    try {
      network = await this.adoptNetwork(record, infra);
      const spec = { ...record.spec, containers: record.containers.map((c) => c.spec) };
      const storage = await PodStorage.prepare(this.binding, spec, this.store.paths.pod(record.name), true, this.objects);
      const cgroups = record.cgroup && PodCgroups.adopt(this.binding, record.cgroup);
      pod = await Pod.adopt(
        record,
        {
          onEvent: (e) => this.event(record.name, e),
          network,
          storage,
          cgroups,
          binding: this.binding,
          io: this.io(record.name),
          cwd: '/',
          backoff: this.opts.backoff,
          clock: this.opts.clock,
        },
        infra,
      );
    } catch (err) {
      // The pod runs on as it was, for a later monitor to try again: this one lets go of it.
      await network?.letGo();
      infra.forget();
      throw err;
    }
    this.track(pod, 'adopted');
    return pod;
  }

  /**
   * Takes over what earlier supervisors left in the state directory (a new monitor, before it
   * serves). A monitor's running pod is adopted; a pod whose infra died meanwhile is marked failed
   * and what is left of it killed; a pod of a foreground tspod that is gone, or one that never
   * finished being created, is cleaned away. One pod's trouble (an unreadable record, a failed
   * adoption) is logged; the others go on.
   */
  async adoptAll(): Promise<void> {
    for (const name of this.store.names()) {
      try {
        await this.adoptLeftover(name);
      } catch (err) {
        this.log.warn(name, `not adopted: ${(err as Error).message}`);
      }
    }
  }

  private async adoptLeftover(name: string): Promise<void> {
    const { store, binding } = this;
    const record = store.read(name);
    if (!record || this.pods.has(name)) return;
    if (isStale(record)) {
      if (await withNamesLock(store, binding, () => removeIfStale(store, binding, name))) {
        this.log.info(name, `its ${record.supervisor.kind} supervisor (pid ${record.supervisor.pid}) is gone: removed it`);
      }
      return;
    }
    // A foreground pod, or one being created by a live process: not ours.
    if (record.supervisor.kind === 'foreground' || record.state !== 'running') return;
    if (record.infra && isRunning(record.infra.process)) {
      await this.adopt(record);
      return;
    }
    // Only a pod whose infra is verifiably gone is failed: what is left of it is ended.
    await releaseRecorded(binding, store, record);
    const at = new Date().toISOString();
    store.write({
      ...record,
      state: 'failed',
      reason: `its infra process (pid ${record.infra?.process.pid}) ended while no monitor was running`,
      endedAt: at,
      containers: record.containers.map((c) => (c.state === 'exited' ? c : exitedUnseen(c, at))),
    });
    this.log.info(name, 'failed: its infra process ended while no monitor was running');
  }

  /** The pod's network again; its published ports are left closed if they cannot be bound. */
  private async adoptNetwork(record: PodRecord, infra: PodProcess): Promise<PodNetwork> {
    const saved = record.network ?? { mode: 'pod', ports: [] };
    const paths = cniPaths(this.store, record.name);
    try {
      return await PodNetwork.adopt(this.binding, record, saved, infra, this.networkOptions(record.name), paths);
    } catch (err) {
      this.log.warn(record.name, `its published ports stay closed: ${(err as Error).message}`);
      const ports = saved.mode === 'cni' ? saved.ports : [];
      return PodNetwork.adopt(this.binding, record, { ...saved, ports }, infra, this.networkOptions(record.name), paths);
    }
  }

  /** The network options, with the pod's own voice for what its published ports have to say. */
  private networkOptions(pod: string): NetworkOptions {
    return { ...this.opts, warn: (message) => this.log.warn(pod, message) };
  }

  /** A pod this host runs; a pod that exists but is not running here is a Conflict saying so. */
  get(name: string): Pod {
    const pod = this.pods.get(name);
    if (pod) return pod;
    if (this.creating.has(name)) throw new Conflict(`pod "${name}" is being created`);
    const record = this.store.need(name);
    if (inForeground(record)) {
      throw new Conflict(`pod "${name}" runs in the foreground of tspod pid ${record.supervisor.pid}`);
    }
    throw new Conflict(`pod "${name}" is ${record.state === 'running' ? 'not supervised' : record.state}`);
  }

  /** Every pod's record, as on disk; one that cannot be read is logged and left out. */
  list(): PodRecord[] {
    return this.store.list((name, problem) => this.log.warn(name, `left out of the listing: ${problem}`));
  }

  /** The pod's record: as it is now for a pod this host runs, as on disk for any other. */
  record(name: string): PodRecord {
    const pod = this.pods.get(name);
    return pod ? pod.toRecord(this.self) : this.store.need(name);
  }

  /** Forgets a pod and deletes its state; a running pod only with force (killed first). */
  async remove(name: string, force: boolean): Promise<void> {
    if (this.creating.has(name)) throw new Conflict(`pod "${name}" is being created`);
    const pod = this.pods.get(name);
    if (pod) {
      if (pod.state === 'running' && !force) throw new Conflict(`pod "${name}" is running: stop it first, or use rm -f`);
      // Its record is about to go: the changes of its end are not written (3 writes of 6 in a
      // pod's life).
      this.removing.add(pod);
      try {
        await pod.kill();
      } finally {
        this.removing.delete(pod);
      }
      this.pods.delete(name);
      this.store.remove(name);
      return;
    }
    await withNamesLock(this.store, this.binding, async () => {
      const record = this.store.need(name);
      if (isRunning(record.supervisor) && record.supervisor.pid !== this.self.pid) {
        throw new Conflict(`pod "${name}" is supervised by ${record.supervisor.kind} pid ${record.supervisor.pid}, not by this monitor`);
      }
      await releaseRecorded(this.binding, this.store, record);
      this.store.remove(name);
    });
  }

  /** Writes the pod's record. A failure (a full /run, say) is reported; the pod goes on. */
  save(pod: Pod): void {
    const name = pod.spec.name;
    if (this.pods.get(name) !== pod || this.removing.has(pod)) return;
    try {
      this.store.write(pod.toRecord(this.self));
    } catch (err) {
      this.log.warn(name, `cannot write its record: ${(err as Error).message}`);
      // Its directory was removed under us: whoever did that also ended it.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.pods.delete(name);
    }
  }

  /** Keeps an event in the pod's events file; a failure (a full /run) is reported, the pod goes on. */
  private event(name: string, e: PodEvent): void {
    try {
      appendEvent(this.store.paths.eventsFile(name), e);
    } catch (err) {
      this.log.warn(name, `cannot keep an event: ${(err as Error).message}`);
    }
  }

  private track(pod: Pod, how: 'created' | 'adopted'): void {
    const name = pod.spec.name;
    this.pods.set(name, pod);
    pod.on('change', () => this.save(pod));
    pod.on('warning', (message) => this.log.warn(name, message));
    this.save(pod);
    this.opts.onPod?.(pod, how);
  }

  private io(name: string, tee?: OutputTee): LoggingIO {
    const paths = this.store.paths;
    return new LoggingIO(this.binding, {
      logPath: (who) => (who === null ? paths.infraLog(name) : paths.log(name, who)),
      tee,
      onError: (who, err) => this.log.warn(name, `log of ${who ?? 'infra'}: ${err.message}`),
      maxBytes: this.opts.logMaxBytes,
      maxFiles: this.opts.logMaxFiles,
    });
  }
}

/** Whether the pod asks for something only its cgroups can do. */
function needsCgroups(spec: PodSpec): boolean {
  return (
    spec.resources !== undefined ||
    spec.pidsLimit !== undefined ||
    spec.cgroupParent !== undefined ||
    everyContainer(spec).some(({ c }) => c.resources !== undefined || c.pidsLimit !== undefined)
  );
}
