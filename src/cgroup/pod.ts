// A pod's cgroups, laid out as the kubelet's: one per pod, below it one for the infra and one
// per container. The spawn path creates each process in its cgroup (clone3, native/child.cc),
// so everything it forks, and whatever `tspod exec` starts in it, is found there; a
// container's stop then reaches all of them, not only its first process.
import { randomBytes } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import { closeSync, existsSync, readFileSync, rmdirSync } from 'node:fs';
import type { NativeBinding } from '../native/binding.js';
import { cgroupPath } from '../pod/fields.js';
import type { ResourceAmounts } from '../pod/resources.js';
import { Cgroup, type CgroupJoin } from './cgroup.js';
import { CONTROLLERS, findV1Controllers, findV2Hierarchy, type Controller } from './hierarchy.js';
import { Controllers } from './limits.js';

const { SIGTERM } = osConstants.signals;

/** How long what cgroup.kill hit may take to be gone (a process in uninterruptible sleep). */
const KILL_WAIT_MS = 10_000;

/** tspod's part of the hierarchy, when nothing else is asked for. */
export const DEFAULT_CGROUP_ROOT = '/tspod';

/** What a pod's record keeps of its cgroups. */
export interface PodCgroupsRecord {
  /** The v2 hierarchy's mount point. */
  mount: string;
  /** The pod's cgroup, '/tspod/web-1a2b3c4d'; the same path in each v1 hierarchy. */
  name: string;
  /** Controllers enabled in the v2 tree. */
  v2?: Controller[];
  /** Controllers in v1 hierarchies (a hybrid host), by their mount points. */
  v1?: Partial<Record<Controller, string>>;
}

/** Where a new process of the infra or a container is created; close() closes the fds. */
export interface Placement {
  /** The v2 cgroup's directory, for clone3. */
  into: CgroupJoin;
  /** cgroup.procs of its v1 cgroups, which the process writes itself into before execve. */
  joins: CgroupJoin[];
  close(): void;
}

export class PodCgroups {
  private constructor(
    private readonly binding: NativeBinding,
    readonly pod: Cgroup,
    private readonly root: string,
    readonly controllers: Controllers,
  ) {}

  /**
   * A new pod cgroup, `ROOT/POD-RANDOM` (pods of the same name under two state directories
   * never meet), with the pod's own limits (pod-level resources, a pids limit) on it. Nothing
   * is written above `delegated`, a cgroup a service manager gave tspod (delegate.ts).
   */
  static create(
    binding: NativeBinding,
    mount: string,
    podName: string,
    root = DEFAULT_CGROUP_ROOT,
    limits: ResourceAmounts = {},
    delegated = '/',
  ): PodCgroups {
    const name = `${root}/${podName}-${randomBytes(4).toString('hex')}`;
    Cgroup.make(mount, root);
    const controllers = Controllers.setUp(mount, root, delegated);
    const pod = new PodCgroups(binding, Cgroup.make(mount, name), root, controllers);
    try {
      for (const v1 of controllers.v1MountsFor(limits)) Cgroup.make(v1, name);
      controllers.enableBelow(pod.pod);
      controllers.apply(mount, name, limits, false);
    } catch (err) {
      pod.removeDirs();
      throw err;
    }
    return pod;
  }

  /**
   * The pod cgroup a record names. Only a path below a tspod root of the hierarchy mounted now
   * is taken: a damaged record must not lead a kill or an rmdir anywhere else.
   */
  static adopt(binding: NativeBinding, saved: PodCgroupsRecord): PodCgroups {
    const controllers = checkRecord(saved);
    const root = saved.name.slice(0, saved.name.lastIndexOf('/'));
    return new PodCgroups(binding, new Cgroup(saved.mount, saved.name), root, controllers);
  }

  /** What the pod's record keeps, for adoption and clean-up. */
  record(): PodCgroupsRecord {
    const { v1, v2 } = this.controllers;
    return { mount: this.pod.mount, name: this.pod.name, v2: [...v2], v1: { ...v1 } };
  }

  /** The infra's cgroup (no name) or a container's. */
  member(container?: string): Cgroup {
    return this.pod.child(memberName(container));
  }

  /**
   * The infra's or a container's cgroups in the v1 hierarchies (a hybrid host): `limits`, those
   * its pod has a cgroup in (for the pod's own limits) and those its own limits need; without,
   * those it is in now. Joining a v1 hierarchy is a migration, which waits for an RCU grace
   * period (a pod with three processes was created in 37.6 ms with all three joins, 21.8 ms
   * without, here): no process joins one that no limit needs.
   */
  private v1Members(container?: string, limits?: ResourceAmounts): Cgroup[] {
    const name = this.member(container).name;
    const mounts = this.controllers.v1Mounts();
    const wanted = limits
      ? new Set([...mounts.filter((m) => existsSync(m + this.pod.name)), ...this.controllers.v1MountsFor(limits)])
      : new Set(mounts.filter((m) => existsSync(m + name)));
    return mounts.filter((m) => wanted.has(m)).map((mount) => new Cgroup(mount, name));
  }

  /**
   * The cgroups a new process of the infra or the container is created in, made now with the
   * container's limits on them.
   */
  place(container?: string, limits: ResourceAmounts = {}): Placement {
    const v2 = Cgroup.make(this.pod.mount, this.member(container).name);
    const v1 = this.v1Members(container, limits).map((cg) => Cgroup.make(cg.mount, cg.name));
    this.controllers.apply(this.pod.mount, v2.name, limits, container !== undefined);
    const fds = openEach([v2, ...v1], (cg) => (cg === v2 ? cg.openDir() : cg.openProcs()));
    return { into: fds[0], joins: fds.slice(1), close: () => fds.forEach((j) => closeSync(j.fd)) };
  }

  /** cgroup.procs of each of a container's cgroups, for a process that joins it (exec); the caller closes them. */
  joins(container: string): CgroupJoin[] {
    return openEach([this.member(container), ...this.v1Members(container)], (cg) => cg.openProcs());
  }

  /**
   * Changes a running container's limits (tspod update); its spec is updated by the caller. A
   * v1 hierarchy it was not in (it started without such a limit) is made and its processes
   * moved there, until none is left out (one may fork meanwhile).
   */
  update(container: string, limits: ResourceAmounts): void {
    const name = this.member(container).name;
    const fresh = this.v1Members(container, limits).filter((cg) => !cg.exists());
    for (const cg of fresh) Cgroup.make(cg.mount, cg.name);
    this.controllers.apply(this.pod.mount, name, limits, true);
    for (const cg of fresh) {
      for (let pass = 0; pass < 10; pass++) {
        const inside = new Set(cg.pids());
        const left = this.member(container)
          .pids()
          .filter((pid) => !inside.has(pid));
        if (!left.length) break;
        for (const pid of left) cg.move(pid);
      }
    }
  }

  /**
   * How many of the container's processes the OOM killer has ended in its current cgroup
   * (memory.events in v2, memory.oom_control in v1); undefined without a memory controller.
   */
  oomKills(container: string): number | undefined {
    const name = this.member(container).name;
    // A container joins the v1 memory hierarchy only for a memory limit (v1Members).
    const v1 = this.controllers.v1.memory;
    if (v1 && !existsSync(v1 + name)) return undefined;
    const file = v1
      ? `${v1}${name}/memory.oom_control`
      : this.controllers.v2.includes('memory')
        ? `${this.pod.mount}${name}/memory.events`
        : undefined;
    if (!file) return undefined;
    try {
      return Number(/^oom_kill (\d+)$/m.exec(readFileSync(file, 'utf8'))?.[1] ?? 0);
    } catch {
      return undefined;
    }
  }

  /**
   * Ends every process of the infra or a container: SIGTERM to all of them, and after graceMs
   * SIGKILL to whatever is left (at once for 0). Resolves when none is left. `firstExit`, its
   * first process's exit, is when the cgroup is most likely empty: it is looked at then.
   */
  async stop(container: string | undefined, graceMs: number, firstExit?: Promise<unknown>): Promise<void> {
    const cg = this.member(container);
    if (graceMs > 0 && cg.populated()) {
      cg.signal(this.binding, SIGTERM);
      if (await cg.emptied(graceMs, firstExit)) return;
    }
    await this.killAndWait(cg);
  }

  /** SIGKILL to every process of the pod, the infra included. */
  kill(): void {
    if (this.pod.populated()) this.pod.kill(this.binding);
  }

  /** Removes a container's cgroups; its processes must be gone (stop first). */
  remove(container: string): void {
    this.member(container).remove();
    for (const cg of this.v1Members(container)) cg.remove();
  }

  /** Once the pod has ended: what is left is killed, and every cgroup of the pod removed. */
  async release(): Promise<void> {
    await this.killAndWait(this.pod);
    this.removeDirs();
  }

  private removeDirs(): void {
    const v1 = this.controllers.v1Mounts().map((mount) => new Cgroup(mount, this.pod.name));
    for (const cg of [this.pod, ...v1]) {
      cg.remove();
      // tspod's own root goes with the last pod; a busy one (another pod, or one being made)
      // stays, and so does one that was asked for (a --cgroup-parent is the user's).
      if (this.root !== DEFAULT_CGROUP_ROOT) continue;
      try {
        rmdirSync(cg.mount + this.root);
      } catch {
        // not empty, or gone
      }
    }
  }

  private async killAndWait(cg: Cgroup): Promise<void> {
    if (!cg.populated()) return;
    cg.kill(this.binding);
    if (!(await cg.emptied(KILL_WAIT_MS))) {
      throw new Error(`cgroup ${cg.path}: processes still there ${KILL_WAIT_MS / 1000} s after SIGKILL: ${cg.pids().join(', ')}`);
    }
  }
}

/**
 * The controllers a pod's record names, once the record is found to name a pod cgroup of the
 * hierarchies mounted here: a damaged record must not lead a kill, an rmdir or a read
 * anywhere else.
 */
export function checkRecord(saved: PodCgroupsRecord): Controllers {
  const here = findV2Hierarchy();
  const v1Here = findV1Controllers();
  const isPath = () => {
    try {
      return cgroupPath(saved.name, 'cgroup') && saved.name.split('/').length >= 3;
    } catch {
      return false;
    }
  };
  if (saved.mount !== here?.mount || !isPath()) {
    throw new Error(`cgroup ${saved.mount}${saved.name}: not a pod cgroup of this host's hierarchy`);
  }
  for (const [c, mount] of Object.entries(saved.v1 ?? {})) {
    if (v1Here[c as Controller] !== mount) throw new Error(`cgroup ${mount}${saved.name}: not a ${c} hierarchy of this host`);
  }
  const v2 = (saved.v2 ?? []).filter((c) => (CONTROLLERS as readonly string[]).includes(c));
  return new Controllers(v2, saved.v1 ?? {});
}

/** An fd for each cgroup; on a failure, those opened already are closed. */
function openEach(cgroups: Cgroup[], open: (cg: Cgroup) => CgroupJoin): CgroupJoin[] {
  const fds: CgroupJoin[] = [];
  try {
    for (const cg of cgroups) fds.push(open(cg));
  } catch (err) {
    for (const j of fds) closeSync(j.fd);
    throw err;
  }
  return fds;
}

/** The infra's (no name) or a container's cgroup's path below its pod's. */
export const memberName = (container?: string) => (container === undefined ? 'infra' : `ctr-${container}`);
