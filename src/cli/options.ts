// Checks of CLI option values, in one place. Each error names the option.
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { delegatedCgroup, enterLeaf } from '../cgroup/delegate.js';
import { ensureV2Hierarchy, findV2Hierarchy } from '../cgroup/hierarchy.js';
import type { NativeBinding } from '../native/binding.js';
import { DEFAULT_CGROUP_ROOT } from '../cgroup/pod.js';
import { checkLabel, envNameProblem } from '../pod/names.js';
import {
  type ContainerSpec,
  type EnvVar,
  type NamespaceSource,
  type PodSpec,
  type PortMapping,
  type SecurityContext,
  type JoinableNamespace,
  type SharedNamespace,
  type Volume,
  type VolumeMount,
} from '../pod/spec.js';
import { localhostProfile } from '../pod/seccomp.js';
import { namespaceOption, namespaceSource, timeOffsetsOption } from '../pod/namespaces.js';
import { allowedUnsafeSysctls, canonicalName, sysctlField } from '../pod/sysctls.js';
import { usernsRangeOption } from '../pod/userns.js';
import { capabilityName, checkEscalation } from '../pod/security.js';
import {
  cgroupPath,
  executableFile,
  graceSeconds,
  id,
  ipAddress,
  networkValue,
  pidsLimit,
  port,
  shareList,
  uniqueHostPorts,
} from '../pod/fields.js';
import { cpuMillis, type ResourceList, type Resources } from '../pod/resources.js';
import type { ImportLimits } from '../image/budget.js';
import type { HostOptions } from '../supervisor/host.js';

export function shareOption(value: string): SharedNamespace[] {
  return shareList(
    value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    () => '--share',
  );
}

export function envOption(values: string[]): EnvVar[] {
  return values.map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new InputError('-e', `"${kv}" is not KEY=VALUE`);
    const name = kv.slice(0, eq);
    const problem = envNameProblem(name);
    if (problem) throw new InputError('-e', problem);
    return { name, value: kv.slice(eq + 1) };
  });
}

export function secondsOption(option: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new InputError(option, `"${value}" is not a whole number of seconds`);
  return graceSeconds(Number(value), option);
}

/** An executable file, as an absolute path. */
export function programOption(option: string, value: string): string {
  return executableFile(resolve(value), option);
}

/**
 * Knobs for tests and experiments, read by whichever process supervises pods (a foreground
 * tspod run, or the monitor, which inherits them from the command that started it):
 * TSPOD_BACKOFF_MS (first crash back-off; the cap is 30 times it, the reset after 60 times it),
 * TSPOD_LOG_MAX_BYTES, TSPOD_LOG_MAX_FILES, TSPOD_UDP_IDLE_MS and TSPOD_UDP_MAX_FLOWS (a pod's
 * published UDP ports' flows), TSPOD_TCP_IDLE_MS, TSPOD_TCP_MAX_CONNECTIONS (a pod's) and
 * TSPOD_TCP_MAX_TOTAL (every pod's) for forwarded TCP connections,
 * TSPOD_CNI_CONF_DIR and TSPOD_CNI_BIN_DIRS (colon-separated) for CNI networks.
 */
/** A whole-number knob of the environment, checked: undefined when unset. */
function envNumber(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
    throw new InputError(name, `"${v}" is not a whole number from ${min} to ${max}`);
  return Number(v);
}

/** TSPOD_IMAGE_MAX_BYTES and TSPOD_IMAGE_MIN_FREE_BYTES over the defaults (image/budget.ts). */
export function importLimitsFromEnv(defaults: ImportLimits, env: NodeJS.ProcessEnv = process.env): ImportLimits {
  return {
    maxBytes: envNumber(env, 'TSPOD_IMAGE_MAX_BYTES', 1, Number.MAX_SAFE_INTEGER) ?? defaults.maxBytes,
    minFreeBytes: envNumber(env, 'TSPOD_IMAGE_MIN_FREE_BYTES', 0, Number.MAX_SAFE_INTEGER) ?? defaults.minFreeBytes,
  };
}

/**
 * Who runs the pods, when it is not a command that only asks the monitor: the monitor or a
 * foreground run; `service`, `tspod monitor` run by a service manager (its cgroup may be
 * delegated to it).
 */
export interface Supervisor {
  binding: NativeBinding;
  stateRoot: string;
  service?: boolean;
}

/**
 * `supervisor`: given by the commands that supervise pods (the monitor, a foreground run),
 * which mount a cgroup2 hierarchy of tspod's own in the state directory where none is.
 */
export function hostOptionsFromEnv(env: NodeJS.ProcessEnv = process.env, supervisor?: Supervisor): HostOptions {
  const num = (name: string, min: number, max: number) => envNumber(env, name, min, max);
  // Timers take at most 2^31-1 ms: the cap of the back-off (30 times it) must stay under that.
  const backoff = num('TSPOD_BACKOFF_MS', 1, 60_000_000);
  return {
    ...(backoff !== undefined ? { backoff: { initialMs: backoff, maxMs: backoff * 30, resetMs: backoff * 60 } } : {}),
    logMaxBytes: num('TSPOD_LOG_MAX_BYTES', 1024, 2 ** 40),
    logMaxFiles: num('TSPOD_LOG_MAX_FILES', 1, 1000),
    udpIdleMs: num('TSPOD_UDP_IDLE_MS', 1, 2 ** 31 - 1),
    udpMaxFlows: num('TSPOD_UDP_MAX_FLOWS', 1, 1_000_000),
    tcpIdleMs: num('TSPOD_TCP_IDLE_MS', 1, 2 ** 31 - 1),
    tcpMaxConnections: num('TSPOD_TCP_MAX_CONNECTIONS', 1, 1_000_000),
    tcpMaxTotal: num('TSPOD_TCP_MAX_TOTAL', 1, 1_000_000),
    ...(env.TSPOD_CNI_CONF_DIR ? { cniConfDir: env.TSPOD_CNI_CONF_DIR } : {}),
    ...(env.TSPOD_CNI_BIN_DIRS ? { cniBinDirs: env.TSPOD_CNI_BIN_DIRS.split(':') } : {}),
    ...cgroupOptions(env, supervisor),
    allowedUnsafeSysctls: allowedUnsafeSysctls(env.TSPOD_ALLOWED_UNSAFE_SYSCTLS, 'TSPOD_ALLOWED_UNSAFE_SYSCTLS'),
    usernsRange: usernsRangeOption(env.TSPOD_USERNS_RANGE, 'TSPOD_USERNS_RANGE'),
  };
}

/** --pid host, --ipc host, --time-offset, --sysctl, --userns: the pod's namespaces and what is set in them. */
export function applyNamespaceOptions(
  spec: PodSpec,
  o: { pid?: string; ipc?: string; uts?: string; sysctl?: string[]; timeOffset?: string; userns?: string },
): void {
  if (o.timeOffset !== undefined) spec.timeOffsets = timeOffsetsOption(o.timeOffset);
  const join = (ns: JoinableNamespace, source: NamespaceSource) => (spec.joinNamespaces = { ...spec.joinNamespaces, [ns]: source });
  // podman's words: auto (a range of ids tspod picks), host, ns:PATH; keep-id and nomap are rootless podman's.
  const joined = o.userns === undefined ? undefined : namespaceSource(o.userns, '--userns');
  if (o.userns === 'auto' || joined) spec.hostUsers = false;
  if (joined) join('user', joined);
  else if (o.userns !== undefined && o.userns !== 'auto' && o.userns !== 'host') {
    const kinds = "auto (a user namespace of the pod's own), ns:PATH, pod:NAME or host";
    throw new InputError('--userns', `"${o.userns}" is not one tspod takes: ${kinds}`);
  }
  for (const [ns, value] of [
    ['pid', o.pid],
    ['ipc', o.ipc],
    ['uts', o.uts],
  ] as const) {
    const asked = namespaceOption(`--${ns}`, value);
    if (asked === 'host' && ns === 'uts')
      throw new InputError('--uts', 'host: tspod has no host UTS mode; give the hostname with --hostname');
    if (asked === 'host') spec[ns === 'pid' ? 'hostPID' : 'hostIPC'] = true;
    else if (asked) join(ns, asked);
  }
  applySysctlOptions(spec, o.sysctl);
}

/** --sysctl NAME=VALUE (podman's): added to the pod's, a later one of the same name winning. */
export function applySysctlOptions(spec: PodSpec, given: string[] | undefined): void {
  if (!given?.length) return;
  const byName = new Map((spec.sysctls ?? []).map((s) => [canonicalName(s.name), s]));
  for (const opt of given) {
    const eq = opt.indexOf('=');
    if (eq <= 0) throw new InputError('--sysctl', `"${opt}" is not NAME=VALUE`);
    const s = sysctlField(opt.slice(0, eq), opt.slice(eq + 1), `--sysctl ${opt.slice(0, eq)}`);
    byName.set(canonicalName(s.name), s);
  }
  spec.sysctls = [...byName.values()];
}

/**
 * Pods get cgroups wherever the host has a cgroup v2 hierarchy mounted (docs/CGROUPS.md):
 * below TSPOD_CGROUP_ROOT (default /tspod; for `tspod monitor` under systemd with Delegate=yes,
 * the service's own cgroup), each limited to TSPOD_POD_MAX_PIDS processes.
 */
function cgroupOptions(env: NodeJS.ProcessEnv, supervisor?: Supervisor): Pick<HostOptions, 'cgroups'> {
  const v2 = supervisor ? ensureV2Hierarchy(supervisor.binding, join(supervisor.stateRoot, 'cgroup2')) : findV2Hierarchy();
  if (!v2) return {};
  const podMaxPids = envNumber(env, 'TSPOD_POD_MAX_PIDS', 1, 2 ** 31 - 1);
  const limits = podMaxPids !== undefined ? { podMaxPids } : {};
  if (env.TSPOD_CGROUP_ROOT)
    return { cgroups: { mount: v2.mount, root: cgroupParentOption('TSPOD_CGROUP_ROOT', env.TSPOD_CGROUP_ROOT), ...limits } };
  // tspod monitor as a service whose cgroup was delegated to it: its pods' cgroups go there.
  const delegated = supervisor?.service ? delegatedCgroup(supervisor.binding, v2.mount) : undefined;
  if (delegated) {
    enterLeaf(v2.mount, delegated);
    return { cgroups: { mount: v2.mount, root: delegated, delegated, ...limits } };
  }
  return { cgroups: { mount: v2.mount, root: DEFAULT_CGROUP_ROOT, ...limits } };
}

/**
 * A cgroup for pods to be made in: a path in the v2 hierarchy (/mypods), or the same as a
 * path of the file system (/sys/fs/cgroup/mypods). Never a path out of the hierarchy, nor one
 * that is there and not a cgroup.
 */
export function cgroupParentOption(option: string, value: string): string {
  const v2 = findV2Hierarchy();
  if (!v2) throw new InputError(option, 'needs a cgroup v2 hierarchy, and this host has none mounted');
  let name = value.replace(/\/+$/, '');
  if (name === v2.mount) throw new InputError(option, `"${value}" is the hierarchy's root: give a cgroup below it`);
  if (name.startsWith(v2.mount + '/')) name = name.slice(v2.mount.length);
  else if (name.startsWith('/sys/fs/cgroup/') || name === '/sys/fs/cgroup')
    throw new InputError(option, `"${value}" is outside the cgroup v2 hierarchy (mounted at ${v2.mount})`);
  name = cgroupPath(name, option);
  let st;
  try {
    st = statSync(v2.mount + name);
  } catch {
    return name; // made with the first pod
  }
  if (!st.isDirectory()) throw new InputError(option, `"${value}" is not a cgroup (${v2.mount}${name} is not a directory)`);
  return name;
}

/** podman's --cpus: a decimal number of cpus, more than 0 (Kubernetes' quantity, as a limit). */
function cpusOption(value: string): string {
  if (!/^(\d+\.?\d*|\.\d+)$/.test(value)) throw new InputError('--cpus', `"${value}" is not a number of cpus (1, 0.5, 2.25)`);
  if (cpuMillis(value, '--cpus') === 0) throw new InputError('--cpus', `"${value}" must be more than 0`);
  return value;
}

/** podman's --memory: bytes, or a number with b, k, m or g (powers of 1024), more than 0. */
function memoryOption(value: string): string {
  const m = /^(\d+\.?\d*|\.\d+)([bkmg])?$/i.exec(value);
  if (!m) throw new InputError('--memory', `"${value}" is not a size (a number, optionally with b, k, m or g)`);
  const bytes = Math.floor(Number(m[1]) * 1024 ** 'bkmg'.indexOf((m[2] ?? 'b').toLowerCase()));
  if (!Number.isSafeInteger(bytes)) throw new InputError('--memory', `"${value}" is more bytes than tspod counts`);
  if (bytes === 0) throw new InputError('--memory', `"${value}" must be more than 0`);
  return String(bytes);
}

export interface ResourceOptions {
  cpus?: string;
  memory?: string;
  pidsLimit?: string;
}

/** --cpus, --memory and --pids-limit onto a container's or a pod's spec (their limits). */
export function applyResourceOptions(target: { resources?: Resources; pidsLimit?: number }, o: ResourceOptions): void {
  const limits: ResourceList = { ...target.resources?.limits };
  if (o.cpus !== undefined) limits.cpu = cpusOption(o.cpus);
  if (o.memory !== undefined) limits.memory = memoryOption(o.memory);
  if (o.cpus !== undefined || o.memory !== undefined) target.resources = { ...target.resources, limits };
  if (o.pidsLimit !== undefined) {
    if (!/^\d+$/.test(o.pidsLimit)) throw new InputError('--pids-limit', `"${o.pidsLimit}" is not a whole number`);
    target.pidsLimit = pidsLimit(Number(o.pidsLimit), '--pids-limit');
  }
}

/** -p [hostIP:]hostPort:podPort[/tcp|/udp]; an IPv6 host address goes in brackets. */
export function publishOption(value: string): PortMapping {
  const m = /^(?:(\[[^\]]+\]|[^:[\]]+):)?(\d+):(\d+)(?:\/(tcp|udp))?$/.exec(value);
  if (!m) throw new InputError('-p', `"${value}" is not [hostIP:]hostPort:podPort[/tcp|/udp]`);
  const [, ip, host, pod, proto] = m;
  const out: PortMapping = {
    hostPort: port(Number(host), '-p'),
    containerPort: port(Number(pod), '-p'),
    protocol: proto === 'udp' ? 'udp' : 'tcp',
  };
  if (ip !== undefined) out.hostIP = ipAddress(ip.replace(/^\[|\]$/g, ''), '-p');
  return out;
}

/** --network and -p, onto a pod's spec. */
export function applyNetworkOptions(spec: PodSpec, network: string | undefined, publish: string[]): void {
  // A network namespace joined (ns:PATH, pod:NAME) is the pod's network still: its ports are
  // forwarded into it.
  const joined = network === undefined ? undefined : namespaceSource(network, '--network');
  if (joined) spec.joinNamespaces = { ...spec.joinNamespaces, net: joined };
  else if (network !== undefined) spec.network = networkValue(network, '--network');
  if (publish.length) {
    spec.ports = [...spec.ports, ...publish.map(publishOption)];
    uniqueHostPorts(spec.ports, () => '-p');
  }
}

/** -v SRC:DST[:ro]: an absolute SRC is a hostPath volume; a name, an emptyDir of that name. */
function volumeOption(value: string, index: number): { volume: Volume; mount: VolumeMount } {
  const parts = value.split(':');
  if (parts.length < 2 || parts.length > 3 || (parts.length === 3 && parts[2] !== 'ro' && parts[2] !== 'rw')) {
    throw new InputError('-v', `"${value}" is not SRC:DST[:ro] (SRC a host path or a volume name, DST a path in the container)`);
  }
  const [src, dst, mode] = parts;
  if (!dst.startsWith('/')) throw new InputError('-v', `"${dst}" must be an absolute path in the container`);
  const name = src.startsWith('/') ? `volume-${index}` : checkLabel('-v', src);
  const volume: Volume = src.startsWith('/') ? { name, hostPath: { path: src } } : { name, emptyDir: {} };
  return { volume, mount: { name, mountPath: dst, ...(mode === 'ro' ? { readOnly: true } : {}) } };
}

/** --workdir, --rootfs, --image, -v, --user, --read-only: onto the one container of a command. */
export function applyContainerOptions(
  spec: PodSpec,
  o: {
    workdir?: string;
    rootfs?: string;
    image?: string;
    volume?: string[];
    user?: string;
    readOnly?: boolean;
    capAdd?: string[];
    capDrop?: string[];
    privileged?: boolean;
    securityOpt?: string[];
  },
): void {
  const c = spec.containers[0];
  if (o.workdir !== undefined) {
    if (!o.workdir.startsWith('/')) throw new InputError('--workdir', `"${o.workdir}" must be an absolute path`);
    c.workingDir = o.workdir;
  }
  if (o.rootfs !== undefined && o.image !== undefined)
    throw new InputError('--rootfs', 'and --image cannot both be given: an image is its own root file system');
  if (o.rootfs !== undefined) c.rootfs = resolve(o.rootfs);
  if (o.image !== undefined) {
    (require('../pod/image-ref.js') as typeof import('../pod/image-ref.js')).parseImageRef(o.image, '--image');
    c.image = o.image;
  }
  if (o.volume?.length) {
    const vols = o.volume.map(volumeOption);
    spec.volumes = vols.map((v) => v.volume);
    c.volumeMounts = vols.map((v) => v.mount);
  }
  if (o.user !== undefined) {
    const m = /^(\d+)(?::(\d+))?$/.exec(o.user);
    if (!m) throw new InputError('--user', `"${o.user}" is not UID[:GID] (numbers)`);
    c.securityContext = {
      ...c.securityContext,
      runAsUser: id(Number(m[1]), '--user'),
      ...(m[2] !== undefined ? { runAsGroup: id(Number(m[2]), '--user') } : {}),
    };
  }
  if (o.readOnly) c.securityContext = { ...c.securityContext, readOnlyRootFilesystem: true };
  applySecurityOptions(c, o);
}

/** --cap-add, --cap-drop (names, or ALL), --privileged, --security-opt no-new-privileges|unmask=ALL|seccomp=: podman's words. */
function applySecurityOptions(
  c: ContainerSpec,
  o: { capAdd?: string[]; capDrop?: string[]; privileged?: boolean; securityOpt?: string[] },
): void {
  const sc: SecurityContext = { ...c.securityContext };
  const names = (list: string[] | undefined, option: string) => list?.map((n) => capabilityName(n, `${option} ${n}`)) ?? [];
  const add = names(o.capAdd, '--cap-add');
  const drop = names(o.capDrop, '--cap-drop');
  if (add.length || drop.length) sc.capabilities = { ...(add.length ? { add } : {}), ...(drop.length ? { drop } : {}) };
  if (o.privileged) sc.privileged = true;
  for (const opt of o.securityOpt ?? []) {
    if (opt === 'no-new-privileges' || opt === 'no-new-privileges:true') sc.allowPrivilegeEscalation = false;
    else if (opt === 'no-new-privileges:false') sc.allowPrivilegeEscalation = true;
    else if (opt === 'unmask=ALL') sc.procMount = 'Unmasked';
    else if (opt === 'seccomp=unconfined') sc.seccompProfile = { type: 'Unconfined' };
    else if (opt.startsWith('seccomp=') && opt.length > 'seccomp='.length) {
      const file = resolve(localhostProfile(opt.slice('seccomp='.length), '--security-opt seccomp'));
      sc.seccompProfile = { type: 'Localhost', localhostProfile: file };
    } else {
      throw new InputError('--security-opt', `"${opt}" is not one tspod takes (no-new-privileges, unmask=ALL, seccomp=PATH|unconfined)`);
    }
  }
  checkEscalation(sc, '--security-opt no-new-privileges');
  if (Object.keys(sc).length) c.securityContext = sc;
}
