// A pod's network, around its infra process's life: prepared before the infra starts (host
// ports bound, so one in use fails before anything exists), attached once the infra holds the
// network namespace, detached when the pod ends. Three modes (PodSpec.network):
//   pod   the infra's own namespace with only lo; published ports forwarded in user space;
//   host  the host's namespace: nothing to set up, ports are the host's own;
//   cni   the infra's own namespace, attached by CNI plugins; ports through portmap.
import { closeSync, openSync } from 'node:fs';
import { Conflict, InputError, TspodError } from '../errors.js';
import { startTimeOf } from '../runtime/process.js';
import type { ProcessId } from '../state/records.js';
import type { NativeBinding } from '../native/binding.js';
import type { NetworkSpec, PodSpec, PortMapping } from '../pod/spec.js';
import { PortForwarder } from './forwarder.js';

/** What a pod's record keeps of its network: enough to tear it down without the supervisor. */
export interface NetworkRecord {
  mode: NetworkSpec['mode'];
  ports: PortMapping[];
}

export interface NetworkOptions {
  /** How long a silent UDP client keeps its flow (see forwarder.ts). */
  udpIdleMs?: number;
}

/** Checks what no field check can see alone: how the mode and the ports go together. */
export function checkNetwork(spec: Pick<PodSpec, 'network' | 'ports'>): void {
  if (spec.network.mode === 'host') {
    const moved = spec.ports.find((p) => p.hostPort !== p.containerPort);
    if (moved) {
      throw new InputError('ports', `host port ${moved.hostPort} -> ${moved.containerPort}: with the host network a pod's ports are the host's own, so they cannot be mapped`);
    }
  }
}

export class PodNetwork {
  readonly spec: NetworkSpec;
  readonly ports: PortMapping[];
  private readonly binding: NativeBinding;
  private forwarder: PortForwarder | undefined;
  private netns: number | undefined;

  private constructor(binding: NativeBinding, spec: Pick<PodSpec, 'network' | 'ports'>) {
    this.binding = binding;
    this.spec = spec.network;
    this.ports = spec.ports;
  }

  /** Before the infra starts: checks the plan and binds the host ports. */
  static async prepare(binding: NativeBinding, spec: Pick<PodSpec, 'network' | 'ports'>, opts: NetworkOptions = {}): Promise<PodNetwork> {
    checkNetwork(spec);
    const net = new PodNetwork(binding, spec);
    if (spec.network.mode === 'pod' && spec.ports.length) net.forwarder = await PortForwarder.listen(spec.ports, opts);
    return net;
  }

  /** A pod taken over from its record: its host ports are bound again (they closed with the
   *  supervisor that had them), and it is attached to the running infra's namespace. */
  static async adopt(binding: NativeBinding, record: NetworkRecord, infra: ProcessId, opts: NetworkOptions = {}): Promise<PodNetwork> {
    const net = await PodNetwork.prepare(binding, { network: { mode: record.mode } as NetworkSpec, ports: record.ports }, opts);
    await net.attach(infra);
    return net;
  }

  /** Whether the infra gets a network namespace of its own. */
  get ownNamespace(): boolean {
    return this.spec.mode !== 'host';
  }

  /** Once the infra runs: forwards the published ports into its network namespace. */
  async attach(infra: ProcessId): Promise<void> {
    if (this.spec.mode === 'host') return;
    this.netns = openSync(`/proc/${infra.pid}/ns/net`, 'r');
    // Checked after the open: had the pid been reused, this would be someone else's network.
    if (startTimeOf(infra.pid) !== infra.startTime) {
      closeSync(this.netns);
      this.netns = undefined;
      throw new Conflict(`the infra process (pid ${infra.pid}) is gone`);
    }
    if (this.spec.mode === 'cni') throw new TspodError('CNI networks are not available yet');
    this.forwarder?.attach(this.binding, this.netns);
  }

  record(): NetworkRecord {
    return { mode: this.spec.mode, ports: this.ports };
  }

  /** Listeners and connections of the forwarder, for tests and inspect. */
  get forwarding(): { connections: number; flows: number } | undefined {
    return this.forwarder?.active;
  }

  /** When the pod has ended: closes the listeners, releases the namespace. Idempotent. */
  async detach(): Promise<void> {
    await this.forwarder?.close();
    this.forwarder = undefined;
    if (this.netns !== undefined) closeSync(this.netns);
    this.netns = undefined;
  }
}
