// Where tspod keeps its state: one directory per host (per monitor), by default /run/tspod,
// a tmpfs, so pods do not outlive a reboot. Every name is checked before it becomes a path.
import { resolve } from 'node:path';
import { checkLabel } from '../pod/names.js';

export const DEFAULT_ROOT = '/run/tspod';

/** The state root: --root, else $TSPOD_ROOT, else /run/tspod. */
export function stateRoot(option?: string): string {
  return resolve(option ?? process.env.TSPOD_ROOT ?? DEFAULT_ROOT);
}

export class StatePaths {
  constructor(readonly root: string) {}

  /** The monitor's control socket (HTTP with JSON bodies). */
  get socket(): string {
    return `${this.root}/monitor.sock`;
  }
  /** Held (flock) by the running monitor: at most one per state directory. */
  get monitorLock(): string {
    return `${this.root}/monitor.lock`;
  }
  /** The running monitor's pid and start time. */
  get monitorFile(): string {
    return `${this.root}/monitor.json`;
  }
  /** Held (flock) while CNI plugins run: an ADD and the clean-up of shared chains never overlap. */
  get cniLock(): string {
    return `${this.root}/cni.lock`;
  }
  /** Held (flock) while a name is checked and taken. */
  get namesLock(): string {
    return `${this.root}/names.lock`;
  }
  get monitorLog(): string {
    return `${this.root}/monitor.log`;
  }
  get podsDir(): string {
    return `${this.root}/pods`;
  }
  pod(name: string): string {
    return `${this.podsDir}/${checkLabel('pod', name)}`;
  }
  podFile(name: string): string {
    return `${this.pod(name)}/pod.json`;
  }
  /** The pod's events, one JSON line each (state/events.ts). */
  eventsFile(name: string): string {
    return `${this.pod(name)}/events.jsonl`;
  }
  /** CRI-format log of one container. */
  log(pod: string, container: string): string {
    return `${this.pod(pod)}/logs/${checkLabel('container', container)}.log`;
  }
  /** The pod's CNI attachment, cached so DEL works without the process that did the ADD. */
  podNetwork(pod: string): string {
    return `${this.pod(pod)}/network.json`;
  }
  /** The infra's own output: '.infra' can never be a container's name. */
  infraLog(pod: string): string {
    return `${this.pod(pod)}/logs/.infra.log`;
  }
}
