// A pod's network, around its infra process's life: prepared before the infra starts (host
// ports bound, a CNI network's configuration read, so a mistake fails before anything exists),
// attached once the infra holds the network namespace, detached when the pod ends. Three modes
// (PodSpec.network):
//   pod   the infra's own namespace with only lo; published ports forwarded in user space;
//   host  the host's namespace: nothing to set up, ports are the host's own;
//   cni   the infra's own namespace, attached by CNI plugins (an IP on a bridge); published
//         ports through the portmap plugin (kernel DNAT).
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { Conflict, InputError } from '../errors.js';
import type { NativeBinding } from '../native/binding.js';
import type { NetworkSpec, PodSpec, PortMapping } from '../pod/spec.js';
import { startTimeOf, type ProcessId } from '../native/identity.js';
import { withLock } from '../fs/lock.js';
import type { NetworkRecord } from '../state/records.js';
import { PortForwarder, type ForwarderOptions } from './forwarder.js';
import type { CniAttachment, CniNetwork } from './cni.js';

/** With the published ports' UDP knobs (forwarder.ts). */
export interface NetworkOptions extends ForwarderOptions {
  /** CNI configuration and plugin directories (defaults: /etc/cni/net.d; /opt/cni/bin, /usr/lib/cni). */
  cniConfDir?: string;
  cniBinDirs?: string[];
}

/** Where one pod's CNI state lives: the attachment cache, and the lock CNI calls are made under. */
export interface CniPaths {
  cache: string;
  lock: string;
}

/** Checks what no field check can see alone: how the mode and the ports go together. */
function checkNetwork(spec: Pick<PodSpec, 'network' | 'ports'>): void {
  if (spec.network.mode === 'host') {
    const moved = spec.ports.find((p) => p.hostPort !== p.containerPort);
    if (moved) {
      throw new InputError(
        'ports',
        `host port ${moved.hostPort} -> ${moved.containerPort}: ` +
          "with the host network a pod's ports are the host's own, so they cannot be mapped",
      );
    }
  }
}

function writeCache(path: string, attachment: CniAttachment, toCache: (a: CniAttachment) => string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, toCache(attachment), { mode: 0o600 });
  renameSync(tmp, path);
}

/**
 * DEL of a cached attachment (the supervisor that made it is gone), then the shared iptables
 * chains the plugins leave once no pod uses them. Nothing to do without a cache.
 */
export async function releaseCni(binding: NativeBinding, paths: CniPaths): Promise<void> {
  if (!existsSync(paths.cache)) return;
  const cni = require('./cni.js') as typeof import('./cni.js');
  await withLock(binding, paths.lock, async () => {
    // Read under the lock: a DEL that ran meanwhile removed it, and a newer pod of the same
    // name may have written its own.
    let text: string;
    try {
      text = readFileSync(paths.cache, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    await cni.del(cni.fromCache(text, paths.cache));
    rmSync(paths.cache, { force: true });
    await cni.cleanupSharedChains();
  });
}

export class PodNetwork {
  readonly spec: NetworkSpec;
  readonly ports: PortMapping[];
  private readonly binding: NativeBinding;
  private readonly podName: string;
  private readonly cniPaths: CniPaths | undefined;
  private forwarder: PortForwarder | undefined;
  private netns: number | undefined;
  private cniNetwork: CniNetwork | undefined;
  private attachment: CniAttachment | undefined;
  private podIP: string | undefined;

  private constructor(binding: NativeBinding, spec: Pick<PodSpec, 'name' | 'network' | 'ports'>, cniPaths?: CniPaths) {
    this.binding = binding;
    this.podName = spec.name;
    this.spec = spec.network;
    this.ports = spec.ports;
    this.cniPaths = cniPaths;
  }

  /** Before the infra starts: checks the plan, binds host ports, reads the CNI network. */
  static async prepare(
    binding: NativeBinding,
    spec: Pick<PodSpec, 'name' | 'network' | 'ports'>,
    opts: NetworkOptions = {},
    cniPaths?: CniPaths,
  ): Promise<PodNetwork> {
    checkNetwork(spec);
    const net = new PodNetwork(binding, spec, cniPaths);
    if (spec.network.mode === 'pod' && spec.ports.length) net.forwarder = await PortForwarder.listen(spec.ports, opts);
    if (spec.network.mode === 'cni') {
      if (!cniPaths) throw new InputError('network', 'a CNI network needs a state directory for its cache');
      const cni = require('./cni.js') as typeof import('./cni.js');
      const load = { confDir: opts.cniConfDir, binDirs: opts.cniBinDirs };
      // With no network named and no configuration at all, tspod writes its own (tspod0).
      if (spec.network.name === undefined) await cni.ensureDefaultNetwork(load.confDir, { binDirs: load.binDirs });
      net.cniNetwork = await cni.loadNetwork(spec.network.name, load);
    }
    return net;
  }

  /**
   * A pod taken over from its record: host ports are bound again (they closed with the
   * supervisor that had them); a CNI attachment is read back from its cache, not made again.
   */
  static async adopt(
    binding: NativeBinding,
    spec: Pick<PodSpec, 'name'>,
    record: NetworkRecord,
    infra: ProcessId,
    opts: NetworkOptions = {},
    cniPaths?: CniPaths,
  ): Promise<PodNetwork> {
    const net = new PodNetwork(binding, { name: spec.name, network: { mode: record.mode } as NetworkSpec, ports: record.ports }, cniPaths);
    if (record.mode === 'pod' && record.ports.length) net.forwarder = await PortForwarder.listen(record.ports, opts);
    try {
      if (record.mode === 'cni' && cniPaths) {
        const cni = require('./cni.js') as typeof import('./cni.js');
        net.attachment = cni.fromCache(readFileSync(cniPaths.cache, 'utf8'), cniPaths.cache);
        net.podIP = cni.podIP(net.attachment);
      }
      net.openNamespace(infra);
    } catch (err) {
      // Its host ports are not held for a pod that was not adopted.
      await net.forwarder?.close();
      throw err;
    }
    net.forwarder?.attach(binding, net.netns!);
    return net;
  }

  /** Whether the infra gets a network namespace of its own. */
  get ownNamespace(): boolean {
    return this.spec.mode !== 'host';
  }

  /** The pod's address on its CNI network, once attached. */
  get address(): string | undefined {
    return this.podIP;
  }

  private openNamespace(infra: ProcessId): void {
    if (this.spec.mode === 'host') return;
    this.netns = openSync(`/proc/${infra.pid}/ns/net`, 'r');
    // Checked after the open: had the pid been reused, this would be someone else's network.
    if (startTimeOf(infra.pid) !== infra.startTime) {
      closeSync(this.netns);
      this.netns = undefined;
      throw new Conflict(`the infra process (pid ${infra.pid}) is gone`);
    }
  }

  /** Once the infra runs: the CNI ADD, or the forwarder pointed at its network namespace. */
  async attach(infra: ProcessId): Promise<void> {
    this.openNamespace(infra);
    if (this.forwarder) this.forwarder.attach(this.binding, this.netns!);
    if (this.cniNetwork && this.cniPaths) {
      const cni = require('./cni.js') as typeof import('./cni.js');
      const paths = this.cniPaths;
      const attachment = await withLock(this.binding, paths.lock, async () => {
        const added = await cni.add(this.cniNetwork!, {
          containerId: `tspod-${this.podName}-${randomBytes(4).toString('hex')}`,
          netns: `/proc/${infra.pid}/ns/net`,
          portMappings: this.ports,
          // Cached before any plugin runs: a crash in the middle of ADD can still be undone.
          onPending: (pending) => writeCache(paths.cache, pending, cni.toCache),
        });
        writeCache(paths.cache, added, cni.toCache);
        return added;
      });
      this.attachment = attachment;
      this.podIP = cni.podIP(attachment);
    }
  }

  record(): NetworkRecord {
    return { mode: this.spec.mode, ports: this.ports, ...(this.podIP ? { podIP: this.podIP } : {}) };
  }

  /** A pod that runs on without us (an adoption that failed): listeners and namespace closed,
   *  its CNI attachment left as it is. */
  async letGo(): Promise<void> {
    await this.forwarder?.close();
    this.forwarder = undefined;
    if (this.netns !== undefined) closeSync(this.netns);
    this.netns = undefined;
  }

  /** When the pod has ended: listeners closed, CNI DEL, namespace released. Idempotent. */
  async detach(): Promise<void> {
    await this.letGo();
    if (this.cniPaths && (this.attachment || this.cniNetwork)) {
      this.attachment = undefined;
      this.cniNetwork = undefined;
      // The DEL is given the namespace's path from the cache, never this process's fd.
      await releaseCni(this.binding, this.cniPaths);
    }
  }
}
