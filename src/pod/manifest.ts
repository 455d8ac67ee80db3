// Reads a pod manifest: a Kubernetes Pod v1 object, in YAML or JSON. Every field is checked
// against tspod's table of them (kube-fields.ts): what tspod does is read, what asks nothing of
// one host is accepted, and anything else is an error that names its path
// (spec.containers[1].livenessProbe), never silently ignored.
import { InputError } from '../errors.js';
import { readManifest } from './manifest-file.js';
import {
  checkDns,
  checkContainers,
  checkVolumes,
  dnsName,
  containerSpec,
  dnsConfig,
  dnsPolicyValue,
  hostAliases,
  graceSeconds,
  id,
  ipAddress,
  label,
  list,
  manifestFields,
  mapping,
  networkValue,
  port,
  resources,
  restartPolicyValue,
  securityContext,
  string,
  labels,
  annotations as annotationsField,
  uniqueHostPorts,
  volume,
  type FieldCheck,
} from './fields.js';
import { DEFAULT_GRACE_SECONDS, type NetworkSpec, type PodSpec, type PortMapping, type RestartPolicy } from './spec.js';
import { checkSleep } from './probes.js';
import { sysctlField } from './sysctls.js';

/**
 * 0644 is octal, as kubectl reads it (go-yaml, YAML 1.1): manifests write file modes so
 * (defaultMode: 0400). YAML 1.2, which the yaml package follows otherwise, makes it 644.
 */
const LEADING_ZERO_OCTAL = {
  identify: (v: unknown) => typeof v === 'number',
  default: true,
  tag: 'tag:yaml.org,2002:int',
  format: 'OCT',
  test: /^0[0-7]+$/,
  resolve: (s: string) => parseInt(s, 8),
};

/** How many alias expansions a YAML manifest may make (the yaml package's default, said aloud). */
const MAX_ALIAS_COUNT = 100;

/** The annotation that puts a pod on a CNI network (or in the pod or host mode). */
const NETWORK_ANNOTATION = 'tspod.io/network';

/** A container's ports; those with a hostPort are published. */
function containerPorts(v: unknown, path: string, check: FieldCheck): PortMapping[] {
  return list(v, path).flatMap((item, i) => {
    const where = `${path}[${i}]`;
    const p = mapping(item, where);
    check(p, where, 'ContainerPort');
    if (p.containerPort === undefined) throw new InputError(`${where}.containerPort`, 'is required');
    const containerPort = port(p.containerPort, `${where}.containerPort`);
    const protocol = p.protocol === undefined ? 'TCP' : string(p.protocol, `${where}.protocol`);
    if (protocol !== 'TCP' && protocol !== 'UDP') throw new InputError(`${where}.protocol`, `must be TCP or UDP, not "${protocol}"`);
    if (p.name !== undefined) label(p.name, `${where}.name`);
    if (p.hostPort === undefined) {
      if (p.hostIP !== undefined) throw new InputError(`${where}.hostIP`, 'needs a hostPort');
      return [];
    }
    const mapping_: PortMapping = {
      hostPort: port(p.hostPort, `${where}.hostPort`),
      containerPort,
      protocol: protocol === 'TCP' ? 'tcp' : 'udp',
    };
    if (p.hostIP !== undefined) mapping_.hostIP = ipAddress(p.hostIP, `${where}.hostIP`);
    return [mapping_];
  });
}

/** The volume the API server's ServiceAccount admission adds to every pod it stores. */
const SERVICE_ACCOUNT_VOLUME = /^kube-api-access-[a-z0-9]+$/;
const SERVICE_ACCOUNT_SOURCES = ['serviceAccountToken', 'configMap', 'downwardAPI'];

/**
 * A copy of a cluster's pod (kubectl get pod -o yaml) carries a projected volume with the
 * service account's token, CA and namespace, mounted in each container. tspod has no API
 * server to issue a token for, so that volume and its mounts are dropped, with a warning; any
 * other projected volume is refused by the field table. Returns their indexes in spec.volumes,
 * by name.
 */
function serviceAccountVolumes(spec: Record<string, unknown>, warn?: (line: string) => void): Map<string, number> {
  const found = new Map<string, number>();
  if (!Array.isArray(spec.volumes)) return found;
  spec.volumes.forEach((v: unknown, i) => {
    const o = v as { name?: unknown; projected?: { sources?: unknown } } | null;
    const sources = o?.projected?.sources;
    if (
      typeof o?.name === 'string' &&
      SERVICE_ACCOUNT_VOLUME.test(o.name) &&
      Object.keys(o).length === 2 &&
      Array.isArray(sources) &&
      sources.every((s) => typeof s === 'object' && s !== null && Object.keys(s).every((k) => SERVICE_ACCOUNT_SOURCES.includes(k)))
    ) {
      found.set(o.name, i);
      warn?.(`spec.volumes[${i}]: ${o.name}, the API server's service account volume, is dropped with its mounts: tspod has no API server`);
    }
  });
  return found;
}

/**
 * Checks a parsed manifest document and returns the pod it describes. `warn` hears of
 * accepted values worth a word (imagePullPolicy: Always: tspod never pulls).
 */
export function podFromManifest(doc: unknown, warn?: (line: string) => void): PodSpec {
  const check = manifestFields(warn);
  const root = mapping(doc, 'manifest');
  check(root, '', 'Pod');
  if (root.apiVersion !== 'v1') throw new InputError('apiVersion', `must be "v1", not ${JSON.stringify(root.apiVersion)}`);
  if (root.kind !== 'Pod') throw new InputError('kind', `must be "Pod", not ${JSON.stringify(root.kind)}`);

  const meta = mapping(root.metadata ?? {}, 'metadata');
  check(meta, 'metadata', 'ObjectMeta');
  if (meta.name === undefined) throw new InputError('metadata.name', 'is required');
  const name = label(meta.name, 'metadata.name');

  if (root.spec === undefined) throw new InputError('spec', 'is required');
  const spec = mapping(root.spec, 'spec');
  check(spec, 'spec', 'PodSpec');

  if (spec.containers === undefined) throw new InputError('spec.containers', 'is required');
  const items = list(spec.containers, 'spec.containers');
  if (items.length === 0) throw new InputError('spec.containers', 'must hold at least one container');
  const containers = items.map((c, i) => containerSpec(c, `spec.containers[${i}]`, check));
  const initItems = spec.initContainers === undefined ? [] : list(spec.initContainers, 'spec.initContainers');
  const initContainers = initItems.map((c, i) => containerSpec(c, `spec.initContainers[${i}]`, check, true));
  // Both lists, with their paths, for the checks that span them (names, volumes, ports).
  const every = [...initContainers, ...containers];
  const pathOf = (i: number) => (i < initContainers.length ? `spec.initContainers[${i}]` : `spec.containers[${i - initContainers.length}]`);
  const dropped = serviceAccountVolumes(spec, warn);
  for (const c of every) {
    if (!c.volumeMounts || !dropped.size) continue;
    c.volumeMounts = c.volumeMounts.filter((m) => !dropped.has(m.name));
    if (!c.volumeMounts.length) delete c.volumeMounts;
  }
  // The pod's securityContext holds defaults for its containers' own, and the pod's groups.
  const groups: Pick<PodSpec, 'fsGroup' | 'supplementalGroups' | 'sysctls'> = {};
  if (spec.securityContext !== undefined) {
    const defaults = securityContext(spec.securityContext, 'spec.securityContext', check, 'PodSecurityContext');
    const psc = spec.securityContext as Record<string, unknown>;
    if (psc.fsGroup !== undefined) groups.fsGroup = id(psc.fsGroup, 'spec.securityContext.fsGroup');
    if (psc.supplementalGroups !== undefined) {
      groups.supplementalGroups = list(psc.supplementalGroups, 'spec.securityContext.supplementalGroups').map((g, i) =>
        id(g, `spec.securityContext.supplementalGroups[${i}]`),
      );
    }
    if (psc.sysctls !== undefined) {
      groups.sysctls = list(psc.sysctls, 'spec.securityContext.sysctls').map((v, i) => {
        const where = `spec.securityContext.sysctls[${i}]`;
        const o = mapping(v, where);
        check(o, where, 'Sysctl');
        return sysctlField(o.name, o.value, where);
      });
    }
    for (const c of every) {
      const own = { ...defaults, ...c.securityContext };
      if (Object.keys(own).length) c.securityContext = own;
    }
  }
  checkContainers({ initContainers, containers }, 'spec');
  // Where each published port came from, for errors: spec.containers[1].ports[0].
  const ports: PortMapping[] = [];
  const portPaths: string[] = [];
  [...initItems, ...items].forEach((c, i) => {
    const raw = (c as Record<string, unknown>).ports;
    if (raw === undefined) return;
    let j = 0;
    for (const p of containerPorts(raw, `${pathOf(i)}.ports`, check)) {
      ports.push(p);
      portPaths.push(`${pathOf(i)}.ports[${j++}].hostPort`);
    }
  });
  uniqueHostPorts(ports, (k) => portPaths[k]);
  const volumes =
    spec.volumes === undefined
      ? []
      : list(spec.volumes, 'spec.volumes').flatMap((v, i) =>
          [...dropped.values()].includes(i) ? [] : [volume(v, `spec.volumes[${i}]`, check)],
        );
  checkVolumes(volumes, containers, 'spec', initContainers);

  const grace =
    spec.terminationGracePeriodSeconds === undefined
      ? DEFAULT_GRACE_SECONDS
      : graceSeconds(spec.terminationGracePeriodSeconds, 'spec.terminationGracePeriodSeconds');
  every.forEach((c, i) => checkSleep(c.lifecycle, grace, `${pathOf(i)}.lifecycle`));
  // Kubernetes' default: Always.
  let restartPolicy: RestartPolicy = 'Always';
  if (spec.restartPolicy !== undefined) restartPolicy = restartPolicyValue(spec.restartPolicy, 'spec.restartPolicy');
  const annotations = meta.annotations === undefined ? {} : annotationsField(meta.annotations, 'metadata.annotations');
  let network: NetworkSpec = { mode: 'pod' };
  if (annotations[NETWORK_ANNOTATION] !== undefined) {
    network = networkValue(annotations[NETWORK_ANNOTATION], `metadata.annotations["${NETWORK_ANNOTATION}"]`);
  }
  if (spec.hostNetwork !== undefined) {
    if (typeof spec.hostNetwork !== 'boolean')
      throw new InputError('spec.hostNetwork', `must be true or false, not ${JSON.stringify(spec.hostNetwork)}`);
    if (spec.hostNetwork && network.mode !== 'pod' && network.mode !== 'host') {
      throw new InputError('spec.hostNetwork', `contradicts the annotation ${NETWORK_ANNOTATION}: ${annotations[NETWORK_ANNOTATION]}`);
    }
    if (spec.hostNetwork) network = { mode: 'host' };
  }
  const out: Partial<PodSpec> = {};
  if (meta.namespace !== undefined) out.namespace = label(meta.namespace, 'metadata.namespace');
  if (spec.subdomain !== undefined) out.subdomain = label(spec.subdomain, 'spec.subdomain');
  if (spec.serviceAccountName !== undefined) out.serviceAccountName = dnsName(spec.serviceAccountName, 'spec.serviceAccountName');
  if (spec.hostAliases !== undefined) out.hostAliases = hostAliases(spec.hostAliases, 'spec.hostAliases', check);
  if (spec.dnsPolicy !== undefined) out.dnsPolicy = dnsPolicyValue(spec.dnsPolicy, 'spec.dnsPolicy');
  if (spec.dnsConfig !== undefined) out.dnsConfig = dnsConfig(spec.dnsConfig, 'spec.dnsConfig', check);
  checkDns(out.dnsPolicy, out.dnsConfig, 'spec');
  const flag = (key: 'shareProcessNamespace' | 'hostPID' | 'hostIPC' | 'hostUsers') => {
    const v = spec[key];
    if (v !== undefined && typeof v !== 'boolean') throw new InputError(`spec.${key}`, `must be true or false, not ${JSON.stringify(v)}`);
    return v === true;
  };
  const sharePid = flag('shareProcessNamespace');
  const hostPID = flag('hostPID');
  if (hostPID && sharePid)
    throw new InputError('spec.shareProcessNamespace', 'cannot go with hostPID: the pod has no PID namespace of its own');
  if (hostPID) out.hostPID = true;
  if (flag('hostIPC')) out.hostIPC = true;
  if (spec.hostUsers !== undefined && !flag('hostUsers')) out.hostUsers = false;

  return {
    name,
    hostname: spec.hostname === undefined ? name : label(spec.hostname, 'spec.hostname'),
    // Kubernetes: containers always share net, ipc and uts; pid only when asked.
    // With hostPID the containers are in the host's PID namespace: the infra's.
    share: sharePid || hostPID ? ['net', 'ipc', 'uts', 'pid'] : ['net', 'ipc', 'uts'],
    terminationGracePeriodSeconds: grace,
    restartPolicy,
    network,
    ports,
    volumes,
    labels: meta.labels === undefined ? {} : labels(meta.labels, 'metadata.labels'),
    annotations,
    ...out,
    ...groups,
    ...(spec.resources !== undefined ? { resources: resources(spec.resources, 'spec.resources', check) } : {}),
    ...(initContainers.length ? { initContainers } : {}),
    containers,
  };
}

/** Parses manifest text, JSON or YAML (one document). `file` names it in errors. */
export async function parseManifestText(text: string, file: string): Promise<unknown> {
  const docs = await parseDocuments(text, file);
  if (docs.length !== 1)
    throw new InputError(file, `holds ${docs.length} YAML documents; tspod runs one pod per manifest (tspod play runs several)`);
  return docs[0];
}

/**
 * Parses manifest text: one JSON value, or YAML documents (empty ones, as a trailing "---"
 * makes, left out). `file` names it in errors.
 */
export async function parseDocuments(text: string, file: string): Promise<unknown[]> {
  if (/^\s*[{[]/.test(text)) {
    try {
      return [JSON.parse(text)];
    } catch (err) {
      throw new InputError(file, `invalid JSON: ${(err as Error).message}`);
    }
  }
  // The YAML parser is loaded only for YAML manifests: it is most of a run's module loading.
  const { parseAllDocuments } = require('yaml') as typeof import('yaml');
  const parsed = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true, customTags: (tags) => [LEADING_ZERO_OCTAL, ...tags] });
  const docs = Array.isArray(parsed) ? parsed : [];
  const values = docs.map((doc, i) => {
    const [first] = doc.errors;
    const which = docs.length > 1 ? ` (document ${i + 1})` : '';
    // prettyErrors puts "at line L, column C:" at the end of the first line.
    if (first) throw new InputError(file, `invalid YAML${which}: ${first.message.split('\n')[0].replace(/:$/, '')}`);
    try {
      // An alias is expanded wherever it is used: nested ones multiply (a "billion laughs").
      return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
    } catch (err) {
      // The yaml package throws ReferenceError for an unresolved or an excessive alias.
      const why = /Excessive alias count/.test((err as Error).message) ? ` (at most ${MAX_ALIAS_COUNT} alias expansions)` : '';
      throw new InputError(file, `invalid YAML${which}: ${(err as Error).message}${why}`);
    }
  });
  const given = values.filter((v) => v !== null && v !== undefined);
  if (given.length === 0) throw new InputError(file, 'is empty');
  return given;
}

/**
 * Checks manifest text; field errors are prefixed with `file`, the manifest's name, and so are
 * the lines `warn` hears.
 */
export async function podFromManifestText(text: string, file: string, warn?: (line: string) => void): Promise<PodSpec> {
  const doc = await parseManifestText(text, file);
  try {
    return podFromManifest(doc, warn && ((line) => warn(`${file}: ${line}`)));
  } catch (err) {
    if (err instanceof InputError) throw new InputError(err.field, err.problem, file);
    throw err;
  }
}

/** Reads and checks a manifest file; field errors (and warnings) are prefixed with the file's name. */
export async function loadManifest(file: string, warn?: (line: string) => void): Promise<PodSpec> {
  return podFromManifestText(readManifest(file), file, warn);
}
