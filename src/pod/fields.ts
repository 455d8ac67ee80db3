// Checks of single fields, shared by the manifest reader and the monitor's API: each error
// names the path of the field (spec.containers[1].name) and what is wrong with it.
import { InputError } from '../errors.js';
import { kubeFields, supportedFields, type KubeType } from './kube-fields.js';
import { dns1123LabelProblem, envNameProblem, keyProblem } from './names.js';
import { RESOURCE_NAMES, resourceAmount, type ResourceList, type Resources } from './resources.js';
import { checkFieldPath, checkResourceField, checkVolumeFieldPath } from './downward.js';
import { seccompProfileField } from './seccomp.js';
import { capabilityName, checkEscalation } from './security.js';
import { lifecycle, namedPorts, probe, PROBE_KINDS } from './probes.js';
import { boolean, ipAddress, list, mapping, port, string, stringList, type FieldCheck, type Mapping } from './values.js';
export { boolean, ipAddress, list, mapping, port, string, stringList, type FieldCheck, type Mapping };
import { accessSync, constants, statSync } from 'node:fs';
import {
  DNS_POLICIES,
  HOST_PATH_TYPES,
  RESTART_POLICIES,
  SHAREABLE,
  TERMINATION_MESSAGE_POLICIES,
  type TerminationMessagePolicy,
  type ContainerSpec,
  type DnsConfig,
  type DnsPolicy,
  type DownwardVolume,
  everyContainer,
  type PodSpec,
  type EnvFromSource,
  type EnvSource,
  type ObjectVolume,
  type EnvVar,
  type HostAlias,
  type HostPathType,
  type NetworkSpec,
  type PortMapping,
  type RestartPolicy,
  type SecurityContext,
  type SharedNamespace,
  type Volume,
  type VolumeMount,
} from './spec.js';

/** Rejects every key of `o` outside `supported`, naming the first one. */
export function onlyFields(o: Mapping, path: string, supported: readonly string[]): void {
  for (const key of Object.keys(o)) {
    if (!supported.includes(key)) {
      const where = path ? `${path}.${key}` : key;
      throw new InputError(where, `field is not supported by tspod (supported here: ${supported.join(', ')})`);
    }
  }
}

/** What the API's own format leaves out of a Kubernetes type: its pod carries the ports. */
const API_OMITS: Partial<Record<KubeType, string[]>> = { Container: ['ports'] };

/** The API's check: only what tspod does, no field accepted and dropped. */
export const apiFields: FieldCheck = (o, path, type) =>
  onlyFields(
    o,
    path,
    supportedFields(type).filter((f) => !API_OMITS[type]?.includes(f)),
  );

/** A manifest's check; `warn` hears of accepted values worth a word. */
export function manifestFields(warn?: (line: string) => void): FieldCheck {
  return (o, path, type) => kubeFields(o, path, type, warn);
}

/** A map of strings, each key checked by `key`; built as own properties, "__proto__" included. */
function stringMap(v: unknown, path: string, key: (k: string, at: string) => void): Record<string, string> {
  const entries = Object.entries(mapping(v, path)).map(([k, val]) => {
    const at = `${path}[${JSON.stringify(k)}]`;
    key(k, at);
    return [k, string(val, at)] as const;
  });
  return Object.fromEntries(entries);
}

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Kubernetes' rule for label and annotation keys: [prefix/]name, a DNS subdomain and a name of 63. */
function qualifiedName(k: string, at: string): void {
  const slash = k.indexOf('/');
  const prefix = slash < 0 ? undefined : k.slice(0, slash);
  const name = slash < 0 ? k : k.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) {
    throw new InputError(at, `the key's prefix "${prefix}" is not a DNS subdomain (lower-case letters, digits, '-' and '.', at most 253)`);
  }
  if (name.length > 63 || !QUALIFIED_NAME.test(name)) {
    throw new InputError(
      at,
      `"${k}" is not a valid key: [prefix/]name, the name at most 63 of letters, digits, '-', '_' and '.', ` +
        'starting and ending with a letter or digit',
    );
  }
}

/** metadata.labels: qualified keys, and values of at most 63 of the same characters (or empty). */
export function labels(v: unknown, path: string): Record<string, string> {
  const out = stringMap(v, path, qualifiedName);
  for (const [k, val] of Object.entries(out)) {
    if (val !== '' && (val.length > 63 || !QUALIFIED_NAME.test(val))) {
      throw new InputError(
        `${path}[${JSON.stringify(k)}]`,
        `"${val}" is not a valid label value (at most 63 of letters, digits, '-', '_' and '.', starting and ending with a letter or digit)`,
      );
    }
  }
  return out;
}

/** Kubernetes' limit on all of a pod's annotations together, keys and values. */
const ANNOTATIONS_MAX_BYTES = 256 * 1024;

/** metadata.annotations: qualified keys, any values, 256 KiB in all. */
export function annotations(v: unknown, path: string): Record<string, string> {
  const out = stringMap(v, path, qualifiedName);
  let bytes = 0;
  for (const [k, val] of Object.entries(out)) bytes += Buffer.byteLength(k) + Buffer.byteLength(val);
  if (bytes > ANNOTATIONS_MAX_BYTES)
    throw new InputError(path, `${bytes} bytes in all: more than Kubernetes takes (${ANNOTATIONS_MAX_BYTES})`);
  return out;
}

export function label(v: unknown, path: string): string {
  const s = string(v, path);
  const problem = dns1123LabelProblem(s);
  if (problem) throw new InputError(path, problem);
  return s;
}

export function absolutePath(v: unknown, path: string): string {
  const s = string(v, path);
  if (!s.startsWith('/')) throw new InputError(path, `"${s}" must be an absolute path`);
  return s;
}

/** A path inside a volume: relative, and never climbing out of it. */
function subPath(v: unknown, path: string): string {
  const s = string(v, path);
  if (s.startsWith('/') || s.split('/').includes('..') || s === '')
    throw new InputError(path, `"${s}" must be a relative path inside the volume, without ".."`);
  return s;
}

/** The largest uid or gid: (uid_t)-1 means "no change" to setresuid. */
export const MAX_ID = 4294967294;

export function id(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_ID) {
    throw new InputError(path, `must be a numeric id from 0 to ${MAX_ID}, not ${JSON.stringify(v)}`);
  }
  return v;
}

function volumeMount(v: unknown, path: string, check: FieldCheck): VolumeMount {
  const m = mapping(v, path);
  check(m, path, 'VolumeMount');
  for (const key of ['name', 'mountPath'] as const) if (m[key] === undefined) throw new InputError(`${path}.${key}`, 'is required');
  const out: VolumeMount = { name: label(m.name, `${path}.name`), mountPath: absolutePath(m.mountPath, `${path}.mountPath`) };
  if (m.readOnly !== undefined) out.readOnly = boolean(m.readOnly, `${path}.readOnly`);
  if (m.subPath !== undefined) out.subPath = subPath(m.subPath, `${path}.subPath`);
  return out;
}

/** A container's securityContext, or (`type` PodSecurityContext) the pod's defaults for it. */
export function securityContext(v: unknown, path: string, check: FieldCheck, type: KubeType = 'SecurityContext'): SecurityContext {
  const c = mapping(v, path);
  check(c, path, type);
  const out: SecurityContext = {};
  if (c.runAsUser !== undefined) out.runAsUser = id(c.runAsUser, `${path}.runAsUser`);
  if (c.runAsGroup !== undefined) out.runAsGroup = id(c.runAsGroup, `${path}.runAsGroup`);
  if (c.readOnlyRootFilesystem !== undefined)
    out.readOnlyRootFilesystem = boolean(c.readOnlyRootFilesystem, `${path}.readOnlyRootFilesystem`);
  if (c.runAsNonRoot !== undefined) out.runAsNonRoot = boolean(c.runAsNonRoot, `${path}.runAsNonRoot`);
  if (c.seccompProfile !== undefined) {
    const sp = mapping(c.seccompProfile, `${path}.seccompProfile`);
    check(sp, `${path}.seccompProfile`, 'SeccompProfile');
    out.seccompProfile = seccompProfileField(sp, `${path}.seccompProfile`);
  }
  if (type === 'PodSecurityContext') return out;
  if (c.capabilities !== undefined) {
    const caps = mapping(c.capabilities, `${path}.capabilities`);
    check(caps, `${path}.capabilities`, 'Capabilities');
    out.capabilities = {};
    for (const key of ['add', 'drop'] as const) {
      if (caps[key] !== undefined) {
        out.capabilities[key] = stringList(caps[key], `${path}.capabilities.${key}`).map((n, i) =>
          capabilityName(n, `${path}.capabilities.${key}[${i}]`),
        );
      }
    }
  }
  if (c.privileged !== undefined) out.privileged = boolean(c.privileged, `${path}.privileged`);
  if (c.allowPrivilegeEscalation !== undefined) {
    out.allowPrivilegeEscalation = boolean(c.allowPrivilegeEscalation, `${path}.allowPrivilegeEscalation`);
    checkEscalation(out, `${path}.allowPrivilegeEscalation`);
  }
  if (c.procMount !== undefined) {
    if (c.procMount !== 'Default' && c.procMount !== 'Unmasked') {
      throw new InputError(`${path}.procMount`, `must be Default or Unmasked, not ${JSON.stringify(c.procMount)}`);
    }
    out.procMount = c.procMount;
  }
  return out;
}

/**
 * A container; a manifest's caller reads its ports itself. `init`: one of initContainers, where
 * restartPolicy Always makes a sidecar, and only a sidecar has probes and hooks (Kubernetes' rule).
 */
export function containerSpec(v: unknown, path: string, check: FieldCheck = apiFields, init = false): ContainerSpec {
  const c = mapping(v, path);
  check(c, path, 'Container');
  if (c.name === undefined) throw new InputError(`${path}.name`, 'is required');
  const name = label(c.name, `${path}.name`);
  if (c.image !== undefined && c.rootfs !== undefined)
    throw new InputError(`${path}.rootfs`, 'and image cannot both be given: an image is its own root file system');
  if (c.command === undefined && c.image === undefined) {
    throw new InputError(`${path}.command`, 'is required without an image (there is no Entrypoint to take it from)');
  }
  const command = c.command === undefined ? [] : stringList(c.command, `${path}.command`);
  // An empty command with an image is no command: the image's Entrypoint is used.
  if (c.command !== undefined && ((command.length === 0 && c.image === undefined) || command[0] === '')) {
    throw new InputError(`${path}.command`, 'must name a program');
  }
  const spec: ContainerSpec = {
    name,
    command,
    args: c.args === undefined ? [] : stringList(c.args, `${path}.args`),
    env: c.env === undefined ? [] : list(c.env, `${path}.env`).map((e, i) => envVar(e, `${path}.env[${i}]`, check)),
  };
  if (c.envFrom !== undefined)
    spec.envFrom = list(c.envFrom, `${path}.envFrom`).map((e, i) => envFromSource(e, `${path}.envFrom[${i}]`, check));
  if (c.workingDir !== undefined) spec.workingDir = absolutePath(c.workingDir, `${path}.workingDir`);
  if (c.image !== undefined) {
    const image = string(c.image, `${path}.image`);
    // The image name grammar is loaded only for a container that has one.
    (require('./image-ref.js') as typeof import('./image-ref.js')).parseImageRef(image, `${path}.image`);
    spec.image = image;
  }
  if (c.rootfs !== undefined) spec.rootfs = absolutePath(c.rootfs, `${path}.rootfs`);
  if (c.volumeMounts !== undefined) {
    spec.volumeMounts = list(c.volumeMounts, `${path}.volumeMounts`).map((m, i) => volumeMount(m, `${path}.volumeMounts[${i}]`, check));
    spec.volumeMounts.forEach((m, i) => {
      if (spec.volumeMounts!.findIndex((o) => o.mountPath === m.mountPath) !== i) {
        throw new InputError(`${path}.volumeMounts[${i}].mountPath`, `"${m.mountPath}" is mounted twice`);
      }
    });
  }
  if (c.securityContext !== undefined) spec.securityContext = securityContext(c.securityContext, `${path}.securityContext`, check);
  if (c.resources !== undefined) spec.resources = resources(c.resources, `${path}.resources`, check);
  if (c.pidsLimit !== undefined) spec.pidsLimit = pidsLimit(c.pidsLimit, `${path}.pidsLimit`);
  if (c.terminationMessagePath !== undefined) {
    const file = absolutePath(c.terminationMessagePath, `${path}.terminationMessagePath`);
    if (file.split('/').includes('..') || file.endsWith('/') || file.length > 4096)
      throw new InputError(
        `${path}.terminationMessagePath`,
        `"${file}" must name a file: no "..", no trailing "/", at most 4096 characters`,
      );
    spec.terminationMessagePath = file;
  }
  if (c.terminationMessagePolicy !== undefined) {
    const policy = c.terminationMessagePolicy;
    if (!(TERMINATION_MESSAGE_POLICIES as readonly unknown[]).includes(policy)) {
      throw new InputError(
        `${path}.terminationMessagePolicy`,
        `must be one of ${TERMINATION_MESSAGE_POLICIES.join(', ')}, not ${JSON.stringify(policy)}`,
      );
    }
    spec.terminationMessagePolicy = policy as TerminationMessagePolicy;
  }
  if (c.restartPolicy !== undefined) {
    if (!init) throw new InputError(`${path}.restartPolicy`, 'is only for an init container (Always makes it a sidecar)');
    if (c.restartPolicy !== 'Always')
      throw new InputError(`${path}.restartPolicy`, `must be Always (a sidecar), not ${JSON.stringify(c.restartPolicy)}`);
    spec.restartPolicy = 'Always';
  }
  const names = namedPorts(c.ports);
  for (const kind of PROBE_KINDS) {
    if (c[kind] === undefined) continue;
    if (init && !spec.restartPolicy) throw new InputError(`${path}.${kind}`, 'is not for an init container that runs to completion');
    spec[kind] = probe(c[kind], `${path}.${kind}`, kind, check, names);
  }
  if (c.lifecycle !== undefined) {
    if (init && !spec.restartPolicy) throw new InputError(`${path}.lifecycle`, 'is not for an init container that runs to completion');
    spec.lifecycle = lifecycle(c.lifecycle, `${path}.lifecycle`, check, names);
  }
  return spec;
}

function resourceList(v: unknown, path: string): ResourceList {
  const list = mapping(v ?? {}, path);
  for (const key of Object.keys(list)) {
    if (key === 'ephemeral-storage' || key.startsWith('hugepages-')) {
      throw new InputError(`${path}.${key}`, 'is not enforced by tspod yet (supported here: cpu, memory)');
    }
  }
  onlyFields(list, path, RESOURCE_NAMES);
  const out: ResourceList = {};
  for (const name of RESOURCE_NAMES) {
    if (list[name] === undefined) continue;
    resourceAmount(name, list[name], `${path}.${name}`);
    out[name] = String(list[name]);
  }
  return out;
}

/**
 * `resources` of a container or a pod: every quantity checked, a limit more than 0 and not
 * below its request. As in Kubernetes, a limit without a request is also the request.
 */
export function resources(v: unknown, path: string, check: FieldCheck = apiFields): Resources {
  const r = mapping(v ?? {}, path);
  check(r, path, 'ResourceRequirements');
  const out: Resources = {};
  if (r.requests !== undefined) out.requests = resourceList(r.requests, `${path}.requests`);
  if (r.limits !== undefined) out.limits = resourceList(r.limits, `${path}.limits`);
  for (const name of RESOURCE_NAMES) {
    const limit = out.limits?.[name];
    if (limit === undefined) continue;
    if (resourceAmount(name, limit, `${path}.limits.${name}`) === 0) {
      throw new InputError(`${path}.limits.${name}`, 'must be more than 0 (leave it out for no limit)');
    }
    const request = out.requests?.[name];
    if (request !== undefined && resourceAmount(name, request, '') > resourceAmount(name, limit, '')) {
      throw new InputError(`${path}.requests.${name}`, `${request} is more than the limit ${limit}`);
    }
  }
  return out;
}

/** The largest pids limit: pids.max takes an int; beyond it "max" means no limit. */
const MAX_PIDS = 2 ** 31 - 1;

export function pidsLimit(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_PIDS) {
    throw new InputError(path, `must be a whole number from 1 to ${MAX_PIDS}, not ${JSON.stringify(v)}`);
  }
  return v;
}

/** A cgroup's path in its hierarchy: absolute, each part a plain name (never . or ..). */
export function cgroupPath(v: unknown, path: string): string {
  const s = string(v, path);
  const parts = s.split('/');
  if (parts[0] !== '' || parts.length < 2 || parts.slice(1).some((p) => !/^[\w.@:+-]+$/.test(p) || p === '.' || p === '..')) {
    throw new InputError(path, `"${s}" is not a cgroup path (/NAME[/NAME...], of letters, digits and . _ - @ : +, no . or ..)`);
  }
  return s;
}

/** A Kubernetes quantity for sizeLimit: 64Mi, 1G, 500000. */
export function quantityBytes(v: string, path: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(v);
  if (!m) throw new InputError(path, `"${v}" is not a size (a number, optionally with Ki, Mi, Gi, Ti, k, M, G or T)`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2] ?? ''] ?? 1;
  const bytes = Number(m[1]) * unit;
  // Past 2^53 the number is not exact, and printed it becomes 1e+42: no size a host has.
  if (!Number.isSafeInteger(bytes))
    throw new InputError(path, `"${v}" is more bytes than tspod counts (at most ${Number.MAX_SAFE_INTEGER})`);
  return bytes;
}

const VOLUME_TYPES = ['emptyDir', 'hostPath', 'configMap', 'secret', 'downwardAPI'] as const;

export function volume(v: unknown, path: string, check: FieldCheck = apiFields): Volume {
  const o = mapping(v, path);
  check(o, path, 'Volume');
  if (o.name === undefined) throw new InputError(`${path}.name`, 'is required');
  const name = label(o.name, `${path}.name`);
  const given = VOLUME_TYPES.filter((t) => o[t] !== undefined);
  if (given.length !== 1) throw new InputError(path, `needs exactly one of ${VOLUME_TYPES.join(', ')} (the volume types tspod supports)`);
  if (o.downwardAPI !== undefined) return { name, downwardAPI: downwardVolume(o.downwardAPI, `${path}.downwardAPI`, check) };
  for (const [kind, field] of [
    ['configMap', 'name'],
    ['secret', 'secretName'],
  ] as const) {
    if (o[kind] === undefined) continue;
    const at = `${path}.${kind}`;
    const source = objectVolume(o[kind], at, kind, check);
    const n = (o[kind] as Mapping)[field];
    if (n === undefined) throw new InputError(`${at}.${field}`, 'is required');
    const objectName = dnsName(n, `${at}.${field}`);
    return kind === 'configMap'
      ? { name, configMap: { name: objectName, ...source } }
      : { name, secret: { secretName: objectName, ...source } };
  }
  if (o.emptyDir !== undefined) {
    const e = o.emptyDir === null ? {} : mapping(o.emptyDir, `${path}.emptyDir`);
    check(e, `${path}.emptyDir`, 'EmptyDirVolumeSource');
    const out: { medium?: '' | 'Memory'; sizeLimit?: string } = {};
    if (e.medium !== undefined) {
      const medium = string(e.medium, `${path}.emptyDir.medium`);
      if (medium !== '' && medium !== 'Memory') throw new InputError(`${path}.emptyDir.medium`, `must be "" or "Memory", not "${medium}"`);
      out.medium = medium;
    }
    if (e.sizeLimit !== undefined) {
      out.sizeLimit = typeof e.sizeLimit === 'number' ? String(e.sizeLimit) : string(e.sizeLimit, `${path}.emptyDir.sizeLimit`);
      // For a tmpfs, size=0 means no limit at all: an explicit 0 is refused, not turned into that.
      if (quantityBytes(out.sizeLimit, `${path}.emptyDir.sizeLimit`) === 0) {
        throw new InputError(`${path}.emptyDir.sizeLimit`, 'must be more than 0 (leave it out for a volume without a limit)');
      }
    }
    return { name, emptyDir: out };
  }
  const h = mapping(o.hostPath, `${path}.hostPath`);
  check(h, `${path}.hostPath`, 'HostPathVolumeSource');
  if (h.path === undefined) throw new InputError(`${path}.hostPath.path`, 'is required');
  const out: { path: string; type?: HostPathType } = { path: absolutePath(h.path, `${path}.hostPath.path`) };
  if (h.type !== undefined) {
    const type = string(h.type, `${path}.hostPath.type`);
    if (!(HOST_PATH_TYPES as readonly string[]).includes(type)) {
      throw new InputError(
        `${path}.hostPath.type`,
        `must be one of ${HOST_PATH_TYPES.filter(Boolean).join(', ')} (or empty), not "${type}"`,
      );
    }
    out.type = type as HostPathType;
  }
  return { name, hostPath: out };
}

/** Volumes have unique names, and every volumeMount names one of them. */
export function checkVolumes(volumes: Volume[], containers: ContainerSpec[], path: string, initContainers: ContainerSpec[] = []): void {
  volumes.forEach((v, i) => {
    if (volumes.findIndex((o) => o.name === v.name) !== i)
      throw new InputError(`${path}.volumes[${i}].name`, `duplicate volume name "${v.name}"`);
  });
  volumes.forEach((v, i) => {
    if (!('downwardAPI' in v)) return;
    v.downwardAPI.items.forEach((item, j) => {
      const name = item.resourceFieldRef?.containerName;
      if (name !== undefined && ![...initContainers, ...containers].some((c) => c.name === name)) {
        const at = `${path}.volumes[${i}].downwardAPI.items[${j}].resourceFieldRef.containerName`;
        throw new InputError(at, `no container named "${name}" in the pod`);
      }
    });
  });
  for (const [key, list_] of [['initContainers', initContainers] as const, ['containers', containers] as const]) {
    list_.forEach((c, i) =>
      c.volumeMounts?.forEach((m, j) => {
        if (!volumes.some((v) => v.name === m.name)) {
          throw new InputError(`${path}.${key}[${i}].volumeMounts[${j}].name`, `no volume named "${m.name}" in ${path}.volumes`);
        }
      }),
    );
  }
}

function envVar(v: unknown, path: string, check: FieldCheck): EnvVar {
  const e = mapping(v, path);
  check(e, path, 'EnvVar');
  const name = string(e.name, `${path}.name`);
  const problem = envNameProblem(name);
  if (problem) throw new InputError(`${path}.name`, problem);
  if (e.valueFrom === undefined) return { name, value: e.value === undefined ? '' : string(e.value, `${path}.value`) };
  if (e.value !== undefined && e.value !== '') throw new InputError(`${path}.valueFrom`, 'and a non-empty value cannot both be given');
  return { name, value: '', valueFrom: envSource(e.valueFrom, `${path}.valueFrom`, check) };
}

/** `{ optional }` when it is given (a boolean), else nothing. */
function optional(v: unknown, path: string): { optional?: boolean } {
  return v === undefined ? {} : { optional: boolean(v, path) };
}

/** An envFrom entry: a whole ConfigMap or Secret, with an optional prefix. */
function envFromSource(v: unknown, path: string, check: FieldCheck): EnvFromSource {
  const o = mapping(v, path);
  check(o, path, 'EnvFromSource');
  if ((o.configMapRef === undefined) === (o.secretRef === undefined))
    throw new InputError(path, 'needs exactly one of configMapRef and secretRef');
  const field = o.configMapRef !== undefined ? 'configMapRef' : 'secretRef';
  const at = `${path}.${field}`;
  const r = mapping(o[field], at);
  check(r, at, field === 'configMapRef' ? 'ConfigMapEnvSource' : 'SecretEnvSource');
  if (r.name === undefined) throw new InputError(`${at}.name`, 'is required');
  const out: EnvFromSource = { [field]: { name: dnsName(r.name, `${at}.name`), ...optional(r.optional, `${at}.optional`) } };
  if (o.prefix !== undefined) {
    const prefix = string(o.prefix, `${path}.prefix`);
    const problem = prefix && envNameProblem(prefix);
    if (problem) throw new InputError(`${path}.prefix`, problem);
    out.prefix = prefix;
  }
  return out;
}

/** A file mode of a configMap or secret volume: 0 to 0777 (a manifest writes 0644 in YAML or 420 in JSON). */
function fileMode(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0o777) {
    throw new InputError(path, `must be a file mode from 0 to 0777 (511), not ${JSON.stringify(v)}`);
  }
  return v;
}

/** A configMap or secret volume source. */
function objectVolume(v: unknown, path: string, kind: 'configMap' | 'secret', check: FieldCheck): ObjectVolume {
  const o = mapping(v, path);
  check(o, path, kind === 'configMap' ? 'ConfigMapVolumeSource' : 'SecretVolumeSource');
  const out: ObjectVolume = optional(o.optional, `${path}.optional`);
  if (o.defaultMode !== undefined) out.defaultMode = fileMode(o.defaultMode, `${path}.defaultMode`);
  if (o.items !== undefined) {
    out.items = list(o.items, `${path}.items`).map((item, i) => {
      const at = `${path}.items[${i}]`;
      const k = mapping(item, at);
      check(k, at, 'KeyToPath');
      for (const key of ['key', 'path'] as const) if (k[key] === undefined) throw new InputError(`${at}.${key}`, 'is required');
      const key = string(k.key, `${at}.key`);
      const problem = keyProblem(key);
      if (problem) throw new InputError(`${at}.key`, problem);
      return { key, path: itemPath(k.path, `${at}.path`), ...(k.mode !== undefined ? { mode: fileMode(k.mode, `${at}.mode`) } : {}) };
    });
    uniquePaths(out.items, `${path}.items`);
  }
  return out;
}

/** A volume item's file: relative, no ".." element, not starting with "..", as Kubernetes checks it. */
function itemPath(v: unknown, path: string): string {
  const file = string(v, path);
  if (!file || file.startsWith('/') || file.split('/').some((e) => e === '..' || e === '') || file.startsWith('..')) {
    throw new InputError(path, `"${file}" must be a relative path without ".." or empty elements`);
  }
  return file;
}

function uniquePaths(items: { path: string }[], path: string): void {
  items.forEach((item, i) => {
    if (items.findIndex((o) => o.path === item.path) !== i) throw new InputError(`${path}[${i}].path`, `"${item.path}" is given twice`);
  });
}

/** A downwardAPI volume source: each item a fieldRef or a resourceFieldRef (naming its container). */
function downwardVolume(v: unknown, path: string, check: FieldCheck): DownwardVolume {
  const o = mapping(v, path);
  check(o, path, 'DownwardAPIVolumeSource');
  const out: DownwardVolume = { items: [] };
  if (o.defaultMode !== undefined) out.defaultMode = fileMode(o.defaultMode, `${path}.defaultMode`);
  out.items = (o.items === undefined ? [] : list(o.items, `${path}.items`)).map((item, i) => {
    const at = `${path}.items[${i}]`;
    const k = mapping(item, at);
    check(k, at, 'DownwardAPIVolumeFile');
    if (k.path === undefined) throw new InputError(`${at}.path`, 'is required');
    const file: DownwardVolume['items'][number] = { path: itemPath(k.path, `${at}.path`) };
    if (k.mode !== undefined) file.mode = fileMode(k.mode, `${at}.mode`);
    if ((k.fieldRef === undefined) === (k.resourceFieldRef === undefined)) {
      throw new InputError(at, 'needs exactly one of fieldRef and resourceFieldRef');
    }
    if (k.fieldRef !== undefined) {
      const fieldPath = fieldSelector(k.fieldRef, `${at}.fieldRef`, check);
      checkVolumeFieldPath(fieldPath, `${at}.fieldRef.fieldPath`);
      file.fieldRef = { fieldPath };
    } else {
      const r = envSource({ resourceFieldRef: k.resourceFieldRef }, at, check).resourceFieldRef!;
      if (r.containerName === undefined) throw new InputError(`${at}.resourceFieldRef.containerName`, 'is required in a volume');
      file.resourceFieldRef = { ...r, containerName: r.containerName };
    }
    return file;
  });
  uniquePaths(out.items, `${path}.items`);
  return out;
}

/** A fieldRef's fieldPath; which paths are taken is the caller's to check. */
function fieldSelector(v: unknown, at: string, check: FieldCheck): string {
  const f = mapping(v, at);
  check(f, at, 'ObjectFieldSelector');
  if (f.apiVersion !== undefined && f.apiVersion !== 'v1') throw new InputError(`${at}.apiVersion`, 'must be v1');
  if (f.fieldPath === undefined) throw new InputError(`${at}.fieldPath`, 'is required');
  return string(f.fieldPath, `${at}.fieldPath`);
}

/** A valueFrom: exactly one source, of the downward API or a key of a ConfigMap or Secret. */
function envSource(v: unknown, path: string, check: FieldCheck): EnvSource {
  const o = mapping(v, path);
  check(o, path, 'EnvVarSource');
  const keys = Object.keys(o);
  if (keys.length !== 1) throw new InputError(path, `needs exactly one source, not ${keys.length}`);
  for (const field of ['configMapKeyRef', 'secretKeyRef'] as const) {
    if (o[field] === undefined) continue;
    const at = `${path}.${field}`;
    const r = mapping(o[field], at);
    check(r, at, field === 'configMapKeyRef' ? 'ConfigMapKeySelector' : 'SecretKeySelector');
    for (const key of ['name', 'key'] as const) if (r[key] === undefined) throw new InputError(`${at}.${key}`, 'is required');
    const key = string(r.key, `${at}.key`);
    const problem = keyProblem(key);
    if (problem) throw new InputError(`${at}.key`, problem);
    return { [field]: { name: dnsName(r.name, `${at}.name`), key, ...optional(r.optional, `${at}.optional`) } };
  }
  if (o.fieldRef !== undefined) {
    const fieldPath = fieldSelector(o.fieldRef, `${path}.fieldRef`, check);
    checkFieldPath(fieldPath, `${path}.fieldRef.fieldPath`);
    return { fieldRef: { fieldPath } };
  }
  const at = `${path}.resourceFieldRef`;
  const r = mapping(o.resourceFieldRef, at);
  check(r, at, 'ResourceFieldSelector');
  if (r.resource === undefined) throw new InputError(`${at}.resource`, 'is required');
  const resource = string(r.resource, `${at}.resource`);
  const divisor =
    r.divisor === undefined ? undefined : typeof r.divisor === 'number' ? String(r.divisor) : string(r.divisor, `${at}.divisor`);
  checkResourceField(resource, divisor, at);
  return {
    resourceFieldRef: {
      resource,
      ...(r.containerName !== undefined ? { containerName: label(r.containerName, `${at}.containerName`) } : {}),
      ...(divisor !== undefined ? { divisor } : {}),
    },
  };
}

/** A resourceFieldRef's containerName names a container of the pod. */
export function checkEnvSources(containers: ContainerSpec[], path: string): void {
  containers.forEach((c, i) =>
    c.env.forEach((e, j) => {
      const name = e.valueFrom?.resourceFieldRef?.containerName;
      if (name !== undefined && !containers.some((o) => o.name === name)) {
        throw new InputError(`${path}[${i}].env[${j}].valueFrom.resourceFieldRef.containerName`, `no container named "${name}" in the pod`);
      }
    }),
  );
}

export function restartPolicyValue(v: unknown, path: string): RestartPolicy {
  if (!(RESTART_POLICIES as readonly unknown[]).includes(v)) {
    throw new InputError(path, `must be one of ${RESTART_POLICIES.join(', ')}, not ${JSON.stringify(v)}`);
  }
  return v as RestartPolicy;
}

/** Timers take at most 2^31-1 ms; a longer grace period would fire at once. */
const MAX_GRACE_SECONDS = 2_147_483;

export function graceSeconds(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > MAX_GRACE_SECONDS) {
    throw new InputError(path, `must be a whole number of seconds from 0 to ${MAX_GRACE_SECONDS}, not ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * Checks what spans a pod's containers, init containers included (`base`: the spec's path):
 * each name once in the pod, and the ConfigMap and Secret references of their environments.
 */
export function checkContainers(spec: Pick<PodSpec, 'initContainers' | 'containers'>, base: string): void {
  const every = everyContainer(spec, base);
  every.forEach(({ c, path }, i) => {
    const first = every.findIndex((o) => o.c.name === c.name);
    if (first !== i) throw new InputError(`${path}.name`, `duplicate container name "${c.name}" (also ${every[first].path})`);
  });
  checkEnvSources(spec.containers, `${base}.containers`);
  if (spec.initContainers) checkEnvSources(spec.initContainers, `${base}.initContainers`);
}

/** Two mappings may not take the same host port (and protocol) on the same address. */
export function uniqueHostPorts(ports: PortMapping[], path: (i: number) => string): void {
  ports.forEach((p, i) => {
    const j = ports.findIndex(
      (o) => o.hostPort === p.hostPort && o.protocol === p.protocol && (o.hostIP ?? '0.0.0.0') === (p.hostIP ?? '0.0.0.0'),
    );
    if (j !== i) throw new InputError(path(i), `host port ${p.hostPort}/${p.protocol} is published twice`);
  });
}

/** A host name as /etc/hosts and resolv.conf's search take it: a lower-case DNS subdomain. */
export function dnsName(v: unknown, path: string): string {
  const s = string(v, path);
  if (s.length > 253 || !DNS1123_SUBDOMAIN.test(s)) {
    throw new InputError(path, `"${s}" is not a DNS name (lower-case letters, digits, '-' and '.', at most 253)`);
  }
  return s;
}

/** hostAliases: each an IP address and its names, for the pod's /etc/hosts. */
export function hostAliases(v: unknown, path: string, check: FieldCheck): HostAlias[] {
  return list(v, path).map((item, i) => {
    const where = `${path}[${i}]`;
    const a = mapping(item, where);
    check(a, where, 'HostAlias');
    if (a.ip === undefined) throw new InputError(`${where}.ip`, 'is required');
    const hostnames = a.hostnames === undefined ? [] : list(a.hostnames, `${where}.hostnames`);
    if (!hostnames.length) throw new InputError(`${where}.hostnames`, 'must name at least one host');
    return { ip: ipAddress(a.ip, `${where}.ip`), hostnames: hostnames.map((h, j) => dnsName(h, `${where}.hostnames[${j}]`)) };
  });
}

export function dnsPolicyValue(v: unknown, path: string): DnsPolicy {
  if (!(DNS_POLICIES as readonly unknown[]).includes(v)) {
    throw new InputError(path, `must be one of ${DNS_POLICIES.join(', ')}, not ${JSON.stringify(v)}`);
  }
  return v as DnsPolicy;
}

/** Kubernetes' limits: glibc reads three nameservers; 32 search domains of 2048 characters in all. */
const MAX_NAMESERVERS = 3;
const MAX_SEARCHES = 32;
const MAX_SEARCH_CHARS = 2048;

export function dnsConfig(v: unknown, path: string, check: FieldCheck): DnsConfig {
  const d = mapping(v ?? {}, path);
  check(d, path, 'PodDNSConfig');
  const out: DnsConfig = {};
  if (d.nameservers !== undefined) {
    const servers = list(d.nameservers, `${path}.nameservers`);
    if (servers.length > MAX_NAMESERVERS) throw new InputError(`${path}.nameservers`, `at most ${MAX_NAMESERVERS}, not ${servers.length}`);
    out.nameservers = servers.map((s, i) => ipAddress(s, `${path}.nameservers[${i}]`));
  }
  if (d.searches !== undefined) {
    const searches = list(d.searches, `${path}.searches`).map((s, i) => dnsName(s, `${path}.searches[${i}]`));
    if (searches.length > MAX_SEARCHES) throw new InputError(`${path}.searches`, `at most ${MAX_SEARCHES}, not ${searches.length}`);
    if (searches.join(' ').length > MAX_SEARCH_CHARS)
      throw new InputError(`${path}.searches`, `more than ${MAX_SEARCH_CHARS} characters in all`);
    out.searches = searches;
  }
  if (d.options !== undefined) {
    out.options = list(d.options, `${path}.options`).map((item, i) => {
      const where = `${path}.options[${i}]`;
      const o = mapping(item, where);
      check(o, where, 'PodDNSConfigOption');
      if (o.name === undefined) throw new InputError(`${where}.name`, 'is required');
      const name = string(o.name, `${where}.name`);
      // One word each: resolv.conf's options line is split on white space.
      if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new InputError(`${where}.name`, `"${name}" is not a resolver option name`);
      if (o.value === undefined) return { name };
      const value = string(o.value, `${where}.value`);
      if (!/^\S+$/.test(value)) throw new InputError(`${where}.value`, `"${value}" must be one word`);
      return { name, value };
    });
  }
  return out;
}

/** dnsPolicy None takes resolv.conf from dnsConfig alone: it must name a nameserver. */
export function checkDns(policy: DnsPolicy | undefined, config: DnsConfig | undefined, path: string): void {
  if (policy === 'None' && !config?.nameservers?.length) {
    throw new InputError(`${path}.dnsConfig.nameservers`, 'must name at least one nameserver with dnsPolicy None');
  }
}

/** tspod's own forms, as the API and the CLI use them: pod, host, cni or cni:NAME. */
export function networkValue(v: unknown, path: string): NetworkSpec {
  const s = string(v, path);
  if (s === 'pod' || s === 'host' || s === 'cni') return { mode: s };
  const m = /^cni:(.+)$/.exec(s);
  if (m) return { mode: 'cni', name: m[1] };
  throw new InputError(path, `"${s}" is not a network: pod, host, cni, or cni:NAME`);
}

/** An absolute path to an executable regular file (a custom infra program). */
export function executableFile(v: unknown, path: string): string {
  const file = absolutePath(v, path);
  let st;
  try {
    st = statSync(file);
  } catch {
    throw new InputError(path, `${file} does not exist`);
  }
  if (!st.isFile()) throw new InputError(path, `${file} is not a regular file`);
  try {
    accessSync(file, constants.X_OK);
  } catch {
    throw new InputError(path, `${file} is not executable`);
  }
  return file;
}

/** Namespaces to share, in the canonical order; each item checked (`at(i)` names it). */
export function shareList(items: string[], at: (i: number) => string): SharedNamespace[] {
  items.forEach((s, i) => {
    if (!(SHAREABLE as readonly string[]).includes(s)) {
      throw new InputError(at(i), `"${s}" is not a namespace a pod can share (${SHAREABLE.join(', ')})`);
    }
  });
  return SHAREABLE.filter((ns) => items.includes(ns));
}
