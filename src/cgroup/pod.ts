// A pod's cgroups, laid out as the kubelet's: one per pod, below it one for the infra and one
// per container. The spawn path creates each process in its cgroup (clone3, native/child.cc),
// so everything it forks, and whatever `tspod exec` starts in it, is found there; a
// container's stop then reaches all of them, not only its first process.
import { randomBytes } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import { rmdirSync } from 'node:fs';
import type { NativeBinding } from '../native/binding.js';
import { Cgroup, type CgroupJoin } from './cgroup.js';
import { findV2Hierarchy } from './hierarchy.js';

const { SIGTERM } = osConstants.signals;

/** How long what cgroup.kill hit may take to be gone (a process in uninterruptible sleep). */
const KILL_WAIT_MS = 10_000;

/** tspod's part of the hierarchy, when nothing else is asked for. */
export const DEFAULT_CGROUP_ROOT = '/tspod';

export class PodCgroups {
  private constructor(
    private readonly binding: NativeBinding,
    readonly pod: Cgroup,
    private readonly root: string,
  ) {}

  /** A new pod cgroup, `ROOT/POD-RANDOM`: pods of the same name under two state directories never meet. */
  static create(binding: NativeBinding, mount: string, podName: string, root = DEFAULT_CGROUP_ROOT): PodCgroups {
    const pod = Cgroup.make(mount, `${root}/${podName}-${randomBytes(4).toString('hex')}`);
    return new PodCgroups(binding, pod, root);
  }

  /**
   * The pod cgroup a record names. Only a path below a tspod root of the hierarchy mounted now
   * is taken: a damaged record must not lead a kill or an rmdir anywhere else.
   */
  static adopt(binding: NativeBinding, saved: { mount: string; name: string }): PodCgroups {
    const here = findV2Hierarchy();
    const parts = saved.name.split('/');
    if (
      saved.mount !== here?.mount ||
      parts.length < 3 ||
      parts[0] !== '' ||
      parts.some((p, i) => (i > 0 && !/^[\w.-]+$/.test(p)) || p === '.' || p === '..')
    ) {
      throw new Error(`cgroup ${saved.mount}${saved.name}: not a pod cgroup of this host's hierarchy`);
    }
    return new PodCgroups(binding, new Cgroup(saved.mount, saved.name), saved.name.slice(0, saved.name.lastIndexOf('/')));
  }

  /** What the pod's record keeps, for adoption and clean-up. */
  record(): { mount: string; name: string } {
    return { mount: this.pod.mount, name: this.pod.name };
  }

  /** The infra's cgroup (no name) or a container's. */
  member(container?: string): Cgroup {
    return this.pod.child(container === undefined ? 'infra' : `ctr-${container}`);
  }

  /** The cgroup a new process of the infra or the container is created in; the caller closes the fd. */
  place(container?: string): CgroupJoin {
    return Cgroup.make(this.pod.mount, this.member(container).name).openDir();
  }

  /**
   * Ends every process of the infra or a container: SIGTERM to all of them, and after graceMs
   * SIGKILL to whatever is left (at once for 0). Resolves when none is left.
   */
  async stop(container: string | undefined, graceMs: number): Promise<void> {
    const cg = this.member(container);
    if (graceMs > 0 && cg.populated()) {
      cg.signal(this.binding, SIGTERM);
      if (await cg.emptied(graceMs)) return;
    }
    await this.killAndWait(cg);
  }

  /** SIGKILL to every process of the pod, the infra included. */
  kill(): void {
    if (this.pod.populated()) this.pod.kill(this.binding);
  }

  /** Removes a container's cgroup; its processes must be gone (stop first). */
  remove(container: string): void {
    this.member(container).remove();
  }

  /** Once the pod has ended: what is left is killed, and every cgroup of the pod removed. */
  async release(): Promise<void> {
    await this.killAndWait(this.pod);
    this.pod.remove();
    // The root goes with the last pod; a busy one (another pod, or one being made) stays.
    try {
      rmdirSync(this.pod.mount + this.root);
    } catch {
      // not empty, or gone
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
