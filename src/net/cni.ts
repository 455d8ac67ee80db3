// tspod's CNI client: attaches a pod's network namespace to a CNI network and detaches it,
// following the spec (1.0.0; 0.3.0 and newer accepted) as the libcni-based runtimes do.
//
// - ADD runs the network's plugins in order, each given the previous one's result; when plugin
//   k fails, DEL runs for the whole list in reverse (as the spec recommends and containerd and
//   CRI-O do) before the error is reported, so a failed ADD leaves nothing.
// - The attachment is plain JSON holding everything DEL needs (the configuration as used, the
//   parameters, the capability arguments and the final result): the caller caches it in the
//   pod's state and DEL works from that alone, after a restart, with the namespace gone.
// - DEL runs in reverse order with the ADD's result as prevResult and may be repeated; CHECK
//   runs in order with it.
// - The namespace is identified at ADD (device, inode; pid and start time for /proc/PID/ns/net)
//   and checked before every later call: a path that now names another namespace (a reused pid)
//   is treated as gone, so DEL never deletes an interface in a namespace that is not the pod's.
import { statfsSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { TspodError } from '../errors.js';
import { CNI_NAME, type CniNetwork, type CniPluginConf } from './cni-config.js';
import { CniError, compareVersions, findPlugin, invokePlugin, type CniCommand } from './cni-exec.js';
import { removeMasqueradeChain } from './cni-iptables.js';
import { startTimeOf } from '../native/identity.js';

export { CniError } from './cni-exec.js';
export { cleanupSharedChains, type SharedChainsReport } from './cni-iptables.js';
export {
  DEFAULT_BIN_DIRS,
  DEFAULT_CONF_DIR,
  DEFAULT_NETWORK_NAME,
  ensureDefaultNetwork,
  isTspodManaged,
  listNetworks,
  loadNetwork,
  type CniNetwork,
  type CniPluginConf,
  type LoadOptions,
  type NetworkEntry,
} from './cni-config.js';

const ATTACHMENT_KIND = 'tspod.cni-attachment/v1';

export interface CniPortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
  /** Only this host address; all of them when absent. */
  hostIP?: string;
}

/** Capability arguments (CONVENTIONS.md): given to the plugins that declare the capability. */
export interface CniRuntimeConfig {
  portMappings?: CniPortMapping[];
}

/** A plugin's result (spec section 5), kept as the plugin printed it. */
export interface CniResult {
  cniVersion?: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { address: string; gateway?: string; interface?: number; version?: string }[];
  routes?: { dst: string; gw?: string }[];
  dns?: Record<string, unknown>;
  [field: string]: unknown;
}

/** What identified the namespace at ADD. */
export interface NetnsIdentity {
  dev: number;
  ino: number;
  /** For /proc/PID/ns/net: the process, so a reused pid is recognised. */
  pid?: number;
  startTime?: string;
}

/** One container's attachment to one network: plain JSON, complete for DEL and CHECK. */
export interface CniAttachment {
  kind: typeof ATTACHMENT_KIND;
  network: CniNetwork;
  containerId: string;
  ifName: string;
  netns: string;
  netnsId: NetnsIdentity;
  /** CNI_ARGS as key/value pairs. */
  args: [string, string][];
  runtimeConfig: CniRuntimeConfig;
  /** The final ADD result; null while ADD has not completed (DEL then runs without prevResult). */
  result: CniResult | null;
  createdAt: string;
}

export interface CallOptions {
  /** Per plugin call; default 30 s. */
  timeoutMs?: number;
}

export interface AddOptions extends CallOptions {
  containerId: string;
  /** A network namespace file: /proc/PID/ns/net of the pod's infra, or /run/netns/NAME. */
  netns: string;
  ifName?: string;
  portMappings?: CniPortMapping[];
  /** CNI_ARGS (IgnoreUnknown=1 is added, so plugins pass over keys they do not know). */
  args?: Record<string, string>;
  /**
   * Called with the attachment (result: null) after the checks and before the first plugin runs:
   * cache it, and a crash during ADD can still be undone with del().
   */
  onPending?: (pending: CniAttachment) => void | Promise<void>;
}

/** Attaches the namespace to the network: ADD through the list; on failure, DEL for all of it. */
export async function add(network: CniNetwork, opts: AddOptions): Promise<CniAttachment> {
  const ifName = opts.ifName ?? 'eth0';
  const problem = containerIdProblem(opts.containerId) ?? ifNameProblem(ifName);
  if (problem) throw new TspodError(`network "${network.name}": ${problem}`);
  const runtimeConfig: CniRuntimeConfig = {};
  if (opts.portMappings && opts.portMappings.length > 0) runtimeConfig.portMappings = checkPortMappings(network.name, opts.portMappings);
  const args = checkArgs(network.name, opts.args);
  const attachment: CniAttachment = {
    kind: ATTACHMENT_KIND,
    network: structuredClone(network),
    containerId: opts.containerId,
    ifName,
    netns: opts.netns,
    netnsId: identifyNetns(network.name, opts.netns),
    args,
    runtimeConfig,
    result: null,
    createdAt: new Date().toISOString(),
  };
  await opts.onPending?.(structuredClone(attachment));

  let prevResult: CniResult | undefined;
  for (let i = 0; i < network.plugins.length; i++) {
    try {
      const out = await runPlugin(attachment, i, 'ADD', prevResult, opts.netns, opts.timeoutMs);
      if (!out || typeof out !== 'object' || Array.isArray(out)) {
        throw new CniError({
          network: network.name,
          plugin: network.plugins[i].type,
          command: 'ADD',
          msg: 'succeeded but printed no result',
        });
      }
      prevResult = out as CniResult;
    } catch (err) {
      // The spec: after a failed ADD, DEL for every plugin of the list, even those not run.
      // Best effort here (every plugin is tried), so one broken plugin does not keep the others'
      // state; the partial result tells them what was done.
      const failures = await rollback(attachment, i, prevResult, opts.timeoutMs);
      if (failures.length > 0 && err instanceof Error) {
        err.message += `; undoing it failed too: ${failures.join('; ')}`;
      }
      throw err;
    }
  }
  attachment.result = prevResult!;
  return attachment;
}

/** DEL through the list in reverse; succeeds when repeated and when the namespace is gone. */
export async function del(attachment: CniAttachment, opts: CallOptions = {}): Promise<void> {
  const { network } = attachment;
  // prevResult on DEL arrived with 0.4.0; older plugins might refuse it.
  const prevResult = attachment.result && compareVersions(network.cniVersion, '0.4.0') >= 0 ? attachment.result : undefined;
  const netns = currentNetns(attachment) ?? '';
  for (let i = network.plugins.length - 1; i >= 0; i--) {
    await runPlugin(attachment, i, 'DEL', prevResult, netns, opts.timeoutMs);
  }
  await reapMasquerade(attachment);
}

/** CHECK through the list in order; rejects with the first plugin's complaint. */
export async function check(attachment: CniAttachment, opts: CallOptions = {}): Promise<void> {
  const { network } = attachment;
  const fail = (problem: string) => new TspodError(`network "${network.name}": CHECK of container ${attachment.containerId}: ${problem}`);
  if (compareVersions(network.cniVersion, '0.4.0') < 0)
    throw fail(`CHECK needs cniVersion 0.4.0 or newer, the network has ${network.cniVersion}`);
  if (network.disableCheck) return;
  if (!attachment.result) throw fail('its ADD never completed');
  const netns = currentNetns(attachment);
  if (netns === undefined) throw fail(`its network namespace ${attachment.netns} is gone`);
  for (let i = 0; i < network.plugins.length; i++) {
    try {
      await runPlugin(attachment, i, 'CHECK', attachment.result, netns, opts.timeoutMs);
    } catch (err) {
      if (!isPortmapIpv6CheckBug(err, attachment.result)) throw err;
    }
  }
}

/** The first address of the result on the container's interface, without prefix length. */
export function podIP(attachment: CniAttachment): string | undefined {
  const result = attachment.result;
  if (!result?.ips?.length) return undefined;
  const index = result.interfaces?.findIndex((i) => i.name === attachment.ifName && !!i.sandbox) ?? -1;
  // Without interfaces in the result (some plugins give none), the first address is the pod's.
  const ip = index >= 0 ? result.ips.find((i) => i.interface === index) : result.ips[0];
  return ip?.address.split('/')[0];
}

/** The attachment as the text to cache (JSON). */
export function toCache(attachment: CniAttachment): string {
  return JSON.stringify(attachment, null, 1) + '\n';
}

/** An attachment back from its cached text; `source` (a file name) goes into errors. */
export function fromCache(text: string, source = 'CNI attachment cache'): CniAttachment {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new TspodError(`${source}: not JSON: ${(err as Error).message}`);
  }
  const a = doc as Partial<CniAttachment> | null;
  const bad = (field: string) => new TspodError(`${source}: not a tspod CNI attachment (${field})`);
  if (!a || typeof a !== 'object' || a.kind !== ATTACHMENT_KIND) throw bad(`kind must be ${ATTACHMENT_KIND}`);
  const n = a.network;
  if (!n || typeof n.name !== 'string' || typeof n.cniVersion !== 'string' || !Array.isArray(n.plugins) || !Array.isArray(n.binDirs))
    throw bad('network');
  if (!n.plugins.every((p) => p && typeof p.type === 'string')) throw bad('network.plugins');
  if (typeof a.containerId !== 'string' || typeof a.ifName !== 'string' || typeof a.netns !== 'string')
    throw bad('containerId, ifName, netns');
  if (!a.netnsId || typeof a.netnsId.ino !== 'number') throw bad('netnsId');
  if (!Array.isArray(a.args) || !a.runtimeConfig || typeof a.runtimeConfig !== 'object') throw bad('args, runtimeConfig');
  if (a.result !== null && (typeof a.result !== 'object' || Array.isArray(a.result))) throw bad('result');
  return a as CniAttachment;
}

/**
 * The configuration one plugin gets on stdin (spec, "Deriving execution configuration"): its own
 * fields unchanged, name and cniVersion of the list, runtimeConfig with the capability arguments
 * it declares, prevResult when there is one, and no `capabilities`.
 */
export function pluginConfig(
  network: CniNetwork,
  plugin: CniPluginConf,
  runtimeConfig: CniRuntimeConfig,
  prevResult?: CniResult,
): Record<string, unknown> {
  const { capabilities, ...conf } = structuredClone(plugin) as CniPluginConf;
  const out: Record<string, unknown> = { ...conf, name: network.name, cniVersion: network.cniVersion };
  const rc: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(capabilities ?? {})) {
    const value = (runtimeConfig as Record<string, unknown>)[cap];
    if (on === true && value !== undefined) rc[cap] = value;
  }
  if (Object.keys(rc).length > 0) out.runtimeConfig = rc;
  if (prevResult) out.prevResult = prevResult;
  return out;
}

async function runPlugin(
  a: CniAttachment,
  index: number,
  command: CniCommand,
  prevResult: CniResult | undefined,
  netns: string,
  timeoutMs?: number,
): Promise<unknown> {
  const plugin = a.network.plugins[index];
  return invokePlugin({
    network: a.network.name,
    type: plugin.type,
    command,
    binDirs: a.network.binDirs,
    config: pluginConfig(a.network, plugin, a.runtimeConfig, prevResult),
    containerId: a.containerId,
    netns,
    ifName: a.ifName,
    args: a.args.map(([k, v]) => `${k}=${v}`).join(';'),
    timeoutMs,
  });
}

/**
 * DEL for every plugin, last first, whatever fails; returns the failures' messages. A plugin from
 * the failed one on whose executable is missing did nothing to undo, and is passed over.
 */
async function rollback(a: CniAttachment, failed: number, partial: CniResult | undefined, timeoutMs?: number): Promise<string[]> {
  const failures: string[] = [];
  const netns = currentNetns(a) ?? '';
  const prevResult = compareVersions(a.network.cniVersion, '0.4.0') >= 0 ? partial : undefined;
  for (let i = a.network.plugins.length - 1; i >= 0; i--) {
    if (i >= failed && !findPlugin(a.network.plugins[i].type, a.network.binDirs)) continue;
    try {
      await runPlugin(a, i, 'DEL', prevResult, netns, timeoutMs);
    } catch (err) {
      failures.push((err as Error).message);
    }
  }
  try {
    await reapMasquerade(a);
  } catch (err) {
    failures.push((err as Error).message);
  }
  return failures;
}

/** bridge/ptp leak their ipMasq chain when DEL cannot find the interface: see cni-iptables.ts. */
async function reapMasquerade(a: CniAttachment): Promise<void> {
  if (!a.network.plugins.some((p) => p.ipMasq === true)) return;
  try {
    await removeMasqueradeChain(a.network.name, a.containerId);
  } catch (err) {
    throw new TspodError(`network "${a.network.name}": removing the ipMasq chain of container ${a.containerId}: ${(err as Error).message}`);
  }
}

/**
 * portmap before 1.3 (Debian 12 ships 1.1.1) fails CHECK of every IPv4-only attachment with port
 * mappings: it looks for the ip6tables chain it never created (containernetworking/plugins#819).
 * It checks IPv4 first, so that message, with no IPv6 address in the result, means IPv4 passed.
 */
function isPortmapIpv6CheckBug(err: unknown, result: CniResult): boolean {
  if (!(err instanceof CniError) || err.plugin !== 'portmap') return false;
  if (!/^could not check ipv6 dnat: chain CNI-DN-\w+ not found in iptables table nat$/.test(err.msg)) return false;
  return !(result.ips ?? []).some((i) => i.address.includes(':'));
}

const NSFS_MAGIC = 0x6e736673;

/** Identifies the namespace at ADD; refuses what is not a network namespace, or is the host's. */
function identifyNetns(network: string, path: string): NetnsIdentity {
  const fail = (problem: string) => new TspodError(`network "${network}": netns ${path}: ${problem}`);
  let st;
  try {
    st = statSync(path);
    if (statfsSync(path).type !== NSFS_MAGIC) throw fail('not a namespace file (nsfs)');
  } catch (err) {
    if (err instanceof TspodError) throw err;
    throw fail((err as Error).message);
  }
  // Adding the host's own namespace would give the plugins the host's interfaces: a rollback DEL
  // of "eth0" there deletes the host's eth0.
  for (const own of ['/proc/thread-self/ns/net', '/proc/self/ns/net', '/proc/1/ns/net']) {
    try {
      const o = statSync(own);
      if (o.ino === st.ino && o.dev === st.dev) throw fail(`is the host's network namespace (${own})`);
    } catch (err) {
      if (err instanceof TspodError) throw err;
    }
  }
  // Network namespace files only: /proc/PID/ns/net names the namespace of PID.
  const id: NetnsIdentity = { dev: st.dev, ino: st.ino };
  const m = /^\/proc\/(\d+)\/ns\/net$/.exec(path);
  if (m) {
    const startTime = startTimeOf(Number(m[1]));
    if (startTime) Object.assign(id, { pid: Number(m[1]), startTime });
  }
  return id;
}

/** The namespace path when it still names the attachment's namespace; undefined when gone. */
function currentNetns(a: CniAttachment): string | undefined {
  try {
    const st = statSync(a.netns);
    if (st.ino !== a.netnsId.ino || st.dev !== a.netnsId.dev) return undefined;
    if (a.netnsId.pid !== undefined && startTimeOf(a.netnsId.pid) !== a.netnsId.startTime) return undefined;
    return a.netns;
  } catch {
    return undefined;
  }
}

function containerIdProblem(id: string): string | null {
  return CNI_NAME.test(id) ? null : `container ID "${id}" is not valid (letters, digits, '_', '.', '-', starting with a letter or digit)`;
}

/** The spec's (and the kernel's) rules for interface names. */
function ifNameProblem(name: string): string | null {
  if (name === '' || name === '.' || name === '..' || name.length > 15 || /[/:\s]/.test(name)) {
    return `interface name "${name}" is not valid (1 to 15 characters, no '/', ':' or blanks, not . or ..)`;
  }
  return null;
}

function checkPortMappings(network: string, mappings: CniPortMapping[]): CniPortMapping[] {
  const seen = new Set<string>();
  return mappings.map((m, i) => {
    const bad = (problem: string) => new TspodError(`network "${network}": portMappings[${i}]: ${problem}`);
    for (const key of ['hostPort', 'containerPort'] as const) {
      if (!Number.isInteger(m[key]) || m[key] < 1 || m[key] > 65535) throw bad(`${key} must be a port number (1-65535)`);
    }
    if (m.protocol !== 'tcp' && m.protocol !== 'udp') throw bad('protocol must be tcp or udp');
    if (m.hostIP !== undefined && !isIP(m.hostIP)) throw bad(`hostIP "${m.hostIP}" is not an IP address`);
    const key = `${m.hostIP ?? '*'}:${m.hostPort}/${m.protocol}`;
    if (seen.has(key)) throw bad(`host port ${key} is mapped twice`);
    seen.add(key);
    const out: CniPortMapping = { hostPort: m.hostPort, containerPort: m.containerPort, protocol: m.protocol };
    if (m.hostIP !== undefined) out.hostIP = m.hostIP;
    return out;
  });
}

function checkArgs(network: string, args: Record<string, string> | undefined): [string, string][] {
  const entries = Object.entries(args ?? {});
  if (entries.length === 0) return [];
  for (const [k, v] of entries) {
    if (!/^[A-Za-z0-9_]+$/.test(k) || typeof v !== 'string' || /[;=]/.test(v)) {
      throw new TspodError(`network "${network}": CNI argument ${k}=${v} is not valid (key: letters, digits, '_'; value: no ';' or '=')`);
    }
  }
  return [['IgnoreUnknown', '1'], ...entries.filter(([k]) => k !== 'IgnoreUnknown')];
}
