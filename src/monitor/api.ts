// The monitor's side of its API (routes and types: protocol.ts): every request body is checked
// here (the socket may be spoken to with curl, so nothing is trusted), and errors are mapped to
// statuses (docs/MONITOR-API.md).
import { InputError, NotFound, StartFailed, TspodError } from '../errors.js';
import {
  absolutePath,
  shareList,
  stringList,
  checkVolumes,
  executableFile,
  cgroupPath,
  containerSpec,
  pidsLimit,
  resources,
  graceSeconds,
  ipAddress,
  label,
  list,
  mapping,
  networkValue,
  onlyFields,
  port,
  restartPolicyValue,
  string,
  labels,
  annotations,
  uniqueHostPorts,
  volume,
  apiFields,
  checkDns,
  checkContainers,
  dnsConfig,
  dnsName,
  dnsPolicyValue,
  hostAliases,
  id,
  boolean,
} from '../pod/fields.js';
import { podFromManifestText } from '../pod/manifest.js';
import { sysctlField } from '../pod/sysctls.js';
import { namespaceSource, timeOffsetsOption } from '../pod/namespaces.js';
import {
  DEFAULT_GRACE_SECONDS,
  DEFAULT_SHARE,
  workingDirDefault,
  type PodSpec,
  type PortMapping,
  type JoinableNamespace,
} from '../pod/spec.js';
import type { AddContainerRequest, ManifestRequest, UpdateResourcesRequest } from './protocol.js';

function portMapping(v: unknown, path: string): PortMapping {
  const o = mapping(v, path);
  onlyFields(o, path, ['hostPort', 'containerPort', 'protocol', 'hostIP']);
  for (const key of ['hostPort', 'containerPort'] as const) {
    if (o[key] === undefined) throw new InputError(`${path}.${key}`, 'is required');
  }
  const protocol = o.protocol === undefined ? 'tcp' : string(o.protocol, `${path}.protocol`);
  if (protocol !== 'tcp' && protocol !== 'udp') throw new InputError(`${path}.protocol`, `must be tcp or udp, not "${protocol}"`);
  const out: PortMapping = {
    hostPort: port(o.hostPort, `${path}.hostPort`),
    containerPort: port(o.containerPort, `${path}.containerPort`),
    protocol,
  };
  if (o.hostIP !== undefined) out.hostIP = ipAddress(o.hostIP, `${path}.hostIP`);
  return out;
}

function podSpecFromBody(v: unknown, path = 'spec'): PodSpec {
  const o = mapping(v, path);
  onlyFields(o, path, [
    'name',
    'hostname',
    'share',
    'terminationGracePeriodSeconds',
    'restartPolicy',
    'network',
    'ports',
    'volumes',
    'pause',
    'labels',
    'annotations',
    'resources',
    'pidsLimit',
    'cgroupParent',
    'namespace',
    'subdomain',
    'serviceAccountName',
    'hostAliases',
    'dnsPolicy',
    'dnsConfig',
    'fsGroup',
    'supplementalGroups',
    'sysctls',
    'hostPID',
    'hostIPC',
    'timeOffsets',
    'hostUsers',
    'joinNamespaces',
    'initContainers',
    'containers',
  ]);
  for (const key of ['name', 'containers'] as const) {
    if (o[key] === undefined) throw new InputError(`${path}.${key}`, 'is required');
  }
  const name = label(o.name, `${path}.name`);
  const containers = list(o.containers, `${path}.containers`).map((c, i) => containerSpec(c, `${path}.containers[${i}]`));
  const initContainers =
    o.initContainers === undefined
      ? []
      : list(o.initContainers, `${path}.initContainers`).map((c, i) => containerSpec(c, `${path}.initContainers[${i}]`, apiFields, true));
  checkContainers({ initContainers, containers }, path);
  const ports = o.ports === undefined ? [] : list(o.ports, `${path}.ports`).map((p, i) => portMapping(p, `${path}.ports[${i}]`));
  uniqueHostPorts(ports, (i) => `${path}.ports[${i}].hostPort`);
  const volumes = o.volumes === undefined ? [] : list(o.volumes, `${path}.volumes`).map((v, i) => volume(v, `${path}.volumes[${i}]`));
  checkVolumes(volumes, containers, path, initContainers);
  const spec: PodSpec = {
    name,
    hostname: o.hostname === undefined ? name : label(o.hostname, `${path}.hostname`),
    share: o.share === undefined ? [...DEFAULT_SHARE] : shareList(stringList(o.share, `${path}.share`), (i) => `${path}.share[${i}]`),
    terminationGracePeriodSeconds:
      o.terminationGracePeriodSeconds === undefined
        ? DEFAULT_GRACE_SECONDS
        : graceSeconds(o.terminationGracePeriodSeconds, `${path}.terminationGracePeriodSeconds`),
    restartPolicy: o.restartPolicy === undefined ? 'Always' : restartPolicyValue(o.restartPolicy, `${path}.restartPolicy`),
    network: o.network === undefined ? { mode: 'pod' } : networkBody(o.network, `${path}.network`),
    ports,
    volumes,
    labels: o.labels === undefined ? {} : labels(o.labels, `${path}.labels`),
    annotations: o.annotations === undefined ? {} : annotations(o.annotations, `${path}.annotations`),
    ...(initContainers.length ? { initContainers } : {}),
    containers,
  };
  if (o.pause !== undefined) spec.pause = executableFile(o.pause, `${path}.pause`);
  if (o.resources !== undefined) spec.resources = resources(o.resources, `${path}.resources`);
  if (o.pidsLimit !== undefined) spec.pidsLimit = pidsLimit(o.pidsLimit, `${path}.pidsLimit`);
  if (o.cgroupParent !== undefined) spec.cgroupParent = cgroupPath(o.cgroupParent, `${path}.cgroupParent`);
  if (o.namespace !== undefined) spec.namespace = label(o.namespace, `${path}.namespace`);
  if (o.subdomain !== undefined) spec.subdomain = label(o.subdomain, `${path}.subdomain`);
  if (o.serviceAccountName !== undefined) spec.serviceAccountName = dnsName(o.serviceAccountName, `${path}.serviceAccountName`);
  if (o.hostAliases !== undefined) spec.hostAliases = hostAliases(o.hostAliases, `${path}.hostAliases`, apiFields);
  if (o.dnsPolicy !== undefined) spec.dnsPolicy = dnsPolicyValue(o.dnsPolicy, `${path}.dnsPolicy`);
  if (o.dnsConfig !== undefined) spec.dnsConfig = dnsConfig(o.dnsConfig, `${path}.dnsConfig`, apiFields);
  checkDns(spec.dnsPolicy, spec.dnsConfig, path);
  if (o.fsGroup !== undefined) spec.fsGroup = id(o.fsGroup, `${path}.fsGroup`);
  if (o.supplementalGroups !== undefined) {
    spec.supplementalGroups = list(o.supplementalGroups, `${path}.supplementalGroups`).map((g, i) =>
      id(g, `${path}.supplementalGroups[${i}]`),
    );
  }
  for (const key of ['hostPID', 'hostIPC'] as const) if (o[key] !== undefined && boolean(o[key], `${path}.${key}`)) spec[key] = true;
  if (o.hostUsers !== undefined && !boolean(o.hostUsers, `${path}.hostUsers`)) spec.hostUsers = false;
  if (o.joinNamespaces !== undefined) {
    const j = mapping(o.joinNamespaces, `${path}.joinNamespaces`);
    onlyFields(j, `${path}.joinNamespaces`, ['net', 'ipc', 'uts', 'pid', 'user']);
    spec.joinNamespaces = {};
    for (const [ns, v] of Object.entries(j) as [JoinableNamespace, unknown][]) {
      const where = `${path}.joinNamespaces.${ns}`;
      const src = mapping(v, where);
      onlyFields(src, where, ['path', 'pod']);
      const text = src.path !== undefined ? `ns:${string(src.path, `${where}.path`)}` : `pod:${string(src.pod, `${where}.pod`)}`;
      spec.joinNamespaces[ns] = namespaceSource(text, where);
    }
  }
  if (o.timeOffsets !== undefined) {
    const t = mapping(o.timeOffsets, `${path}.timeOffsets`);
    onlyFields(t, `${path}.timeOffsets`, ['monotonic', 'boottime']);
    const text = Object.entries(t).map(([k, v]) => `${k}=${typeof v === 'number' ? v : JSON.stringify(v)}`);
    spec.timeOffsets = timeOffsetsOption(text.join(','), `${path}.timeOffsets`);
  }
  if (o.sysctls !== undefined) {
    spec.sysctls = list(o.sysctls, `${path}.sysctls`).map((v, i) => {
      const s = mapping(v, `${path}.sysctls[${i}]`);
      onlyFields(s, `${path}.sysctls[${i}]`, ['name', 'value']);
      return sysctlField(s.name, s.value, `${path}.sysctls[${i}]`);
    });
  }
  return spec;
}

function networkBody(v: unknown, path: string): PodSpec['network'] {
  const o = mapping(v, path);
  onlyFields(o, path, ['mode', 'name']);
  const mode = string(o.mode, `${path}.mode`);
  if (o.name !== undefined && mode !== 'cni') throw new InputError(`${path}.name`, 'names a CNI network: only with mode "cni"');
  return networkValue(o.name === undefined ? mode : `cni:${string(o.name, `${path}.name`)}`, `${path}.mode`);
}

/** A checked POST /v1/pods: a pod's spec, read from a manifest if one was sent. */
export interface CreatePod {
  spec: PodSpec;
  persistent: boolean;
  /** What reading its manifest had to say (manifest.ts's warnings). */
  warnings: string[];
}

export async function createPodFromBody(v: unknown): Promise<CreatePod> {
  const o = mapping(v, 'request body');
  onlyFields(o, '', ['spec', 'manifest', 'persistent']);
  if (o.persistent !== undefined && typeof o.persistent !== 'boolean') throw new InputError('persistent', 'must be true or false');
  if ((o.spec === undefined) === (o.manifest === undefined)) throw new InputError('spec', 'give either spec or manifest');
  const { spec, warnings } =
    o.spec !== undefined
      ? { spec: podSpecFromBody(o.spec), warnings: [] }
      : await specFromManifest(manifestFromBody(o.manifest, 'manifest'));
  const req = { spec, persistent: o.persistent === true, warnings };
  // A pod that ends when its containers have all ended would never end without any.
  if (!req.persistent && req.spec.containers.length === 0)
    throw new InputError('spec.containers', 'must hold at least one container (or set persistent: true)');
  return req;
}

/** A manifest request; `path` is where it is in the body ('' for the whole body). */
export function manifestFromBody(v: unknown, path = ''): ManifestRequest {
  const o = mapping(v, path || 'request body');
  onlyFields(o, path, ['text', 'file', 'workingDir']);
  const at = (key: string) => (path ? `${path}.${key}` : key);
  for (const key of ['text', 'file'] as const) {
    if (o[key] === undefined) throw new InputError(at(key), 'is required');
  }
  return {
    text: string(o.text, at('text')),
    file: string(o.file, at('file')),
    ...(o.workingDir === undefined ? {} : { workingDir: absolutePath(o.workingDir, at('workingDir')) }),
  };
}

/** The pod a manifest describes, checked (errors name the file and the field), and its warnings. */
export async function specFromManifest(m: ManifestRequest): Promise<{ spec: PodSpec; warnings: string[] }> {
  const warnings: string[] = [];
  const spec = await podFromManifestText(m.text, m.file, (line) => warnings.push(line));
  if (m.workingDir !== undefined) workingDirDefault(spec, m.workingDir);
  return { spec, warnings };
}

export function addContainerFromBody(v: unknown): AddContainerRequest {
  const o = mapping(v, 'request body');
  onlyFields(o, '', ['container', 'restartPolicy']);
  if (o.container === undefined) throw new InputError('container', 'is required');
  return {
    container: containerSpec(o.container, 'container'),
    ...(o.restartPolicy === undefined ? {} : { restartPolicy: restartPolicyValue(o.restartPolicy, 'restartPolicy') }),
  };
}

/** A checked POST /v1/pods/NAME/containers/NAME/resources. */
export function updateFromBody(v: unknown): UpdateResourcesRequest {
  const o = mapping(v, 'request body');
  onlyFields(o, '', ['limits', 'pidsLimit']);
  const out: UpdateResourcesRequest = {};
  if (o.limits !== undefined) out.limits = resources({ limits: o.limits }, 'resources').limits;
  if (o.pidsLimit !== undefined) out.pidsLimit = pidsLimit(o.pidsLimit, 'pidsLimit');
  if (!out.limits && out.pidsLimit === undefined) throw new InputError('request body', 'changes nothing: give limits or pidsLimit');
  return out;
}

export function graceFromBody(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  const o = mapping(v, 'request body');
  onlyFields(o, '', ['grace']);
  return o.grace === undefined ? undefined : graceSeconds(o.grace, 'grace');
}

/** The HTTP status of an error (docs/MONITOR-API.md). */
export function errorStatus(err: unknown): number {
  if (err instanceof InputError) return 400;
  if (err instanceof NotFound) return 404;
  if (err instanceof StartFailed) return 422;
  if (err instanceof TspodError) return 409;
  return 500;
}
