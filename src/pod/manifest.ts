// Reads a pod manifest: the subset of the Kubernetes Pod v1 object that tspod runs, in YAML or
// JSON. Every field is checked against that subset; a field tspod does not support is an error
// that names its path (spec.containers[1].ports), never silently ignored.
import { InputError } from '../errors.js';
import { readManifest } from './manifest-file.js';
import {
  checkVolumes,
  containerSpec,
  graceSeconds,
  ipAddress,
  label,
  list,
  mapping,
  networkValue,
  onlyFields,
  port,
  resources,
  restartPolicyValue,
  string,
  labels,
  annotations as annotationsField,
  uniqueHostPorts,
  uniqueNames,
  volume,
} from './fields.js';
import { DEFAULT_GRACE_SECONDS, type NetworkSpec, type PodSpec, type PortMapping, type RestartPolicy } from './spec.js';

/** How many alias expansions a YAML manifest may make (the yaml package's default, said aloud). */
const MAX_ALIAS_COUNT = 100;

/** The annotation that puts a pod on a CNI network (or in the pod or host mode). */
const NETWORK_ANNOTATION = 'tspod.io/network';

/** A container's ports; those with a hostPort are published. */
function containerPorts(v: unknown, path: string): PortMapping[] {
  return list(v, path).flatMap((item, i) => {
    const where = `${path}[${i}]`;
    const p = mapping(item, where);
    onlyFields(p, where, ['containerPort', 'hostPort', 'protocol', 'hostIP', 'name']);
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

/** Checks a parsed manifest document and returns the pod it describes. */
export function podFromManifest(doc: unknown): PodSpec {
  const root = mapping(doc, 'manifest');
  onlyFields(root, '', ['apiVersion', 'kind', 'metadata', 'spec']);
  if (root.apiVersion !== 'v1') throw new InputError('apiVersion', `must be "v1", not ${JSON.stringify(root.apiVersion)}`);
  if (root.kind !== 'Pod') throw new InputError('kind', `must be "Pod", not ${JSON.stringify(root.kind)}`);

  const meta = mapping(root.metadata ?? {}, 'metadata');
  onlyFields(meta, 'metadata', ['name', 'labels', 'annotations']);
  if (meta.name === undefined) throw new InputError('metadata.name', 'is required');
  const name = label(meta.name, 'metadata.name');

  if (root.spec === undefined) throw new InputError('spec', 'is required');
  const spec = mapping(root.spec, 'spec');
  onlyFields(spec, 'spec', [
    'containers',
    'hostname',
    'shareProcessNamespace',
    'terminationGracePeriodSeconds',
    'restartPolicy',
    'hostNetwork',
    'volumes',
    'resources',
  ]);

  if (spec.containers === undefined) throw new InputError('spec.containers', 'is required');
  const items = list(spec.containers, 'spec.containers');
  if (items.length === 0) throw new InputError('spec.containers', 'must hold at least one container');
  const containers = items.map((c, i) => containerSpec(c, `spec.containers[${i}]`, ['ports']));
  uniqueNames(containers, 'spec.containers');
  // Where each published port came from, for errors: spec.containers[1].ports[0].
  const ports: PortMapping[] = [];
  const portPaths: string[] = [];
  items.forEach((c, i) => {
    const raw = (c as Record<string, unknown>).ports;
    if (raw === undefined) return;
    let j = 0;
    for (const p of containerPorts(raw, `spec.containers[${i}].ports`)) {
      ports.push(p);
      portPaths.push(`spec.containers[${i}].ports[${j++}].hostPort`);
    }
  });
  uniqueHostPorts(ports, (k) => portPaths[k]);
  const volumes = spec.volumes === undefined ? [] : list(spec.volumes, 'spec.volumes').map((v, i) => volume(v, `spec.volumes[${i}]`));
  checkVolumes(volumes, containers, 'spec');

  const grace =
    spec.terminationGracePeriodSeconds === undefined
      ? DEFAULT_GRACE_SECONDS
      : graceSeconds(spec.terminationGracePeriodSeconds, 'spec.terminationGracePeriodSeconds');
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
  const sharePid = spec.shareProcessNamespace;
  if (sharePid !== undefined && typeof sharePid !== 'boolean') {
    throw new InputError('spec.shareProcessNamespace', `must be true or false, not ${JSON.stringify(sharePid)}`);
  }

  return {
    name,
    hostname: spec.hostname === undefined ? name : label(spec.hostname, 'spec.hostname'),
    // Kubernetes: containers always share net, ipc and uts; pid only when asked.
    share: sharePid ? ['net', 'ipc', 'uts', 'pid'] : ['net', 'ipc', 'uts'],
    terminationGracePeriodSeconds: grace,
    restartPolicy,
    network,
    ports,
    volumes,
    labels: meta.labels === undefined ? {} : labels(meta.labels, 'metadata.labels'),
    annotations,
    ...(spec.resources !== undefined ? { resources: resources(spec.resources, 'spec.resources') } : {}),
    containers,
  };
}

/** Parses manifest text, JSON or YAML (one document). `file` names it in errors. */
export async function parseManifestText(text: string, file: string): Promise<unknown> {
  if (/^\s*[{[]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new InputError(file, `invalid JSON: ${(err as Error).message}`);
    }
  }
  // The YAML parser is loaded only for YAML manifests: it is most of a run's module loading.
  const { parseAllDocuments } = require('yaml') as typeof import('yaml');
  const docs = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true });
  if (!Array.isArray(docs) || docs.length === 0) throw new InputError(file, 'is empty');
  if (docs.length !== 1) throw new InputError(file, `holds ${docs.length} YAML documents; tspod runs one pod per manifest`);
  const [doc] = docs;
  const [first] = doc.errors;
  // prettyErrors puts "at line L, column C:" at the end of the first line.
  if (first) throw new InputError(file, `invalid YAML: ${first.message.split('\n')[0].replace(/:$/, '')}`);
  try {
    // An alias is expanded wherever it is used: nested ones multiply (a "billion laughs").
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // The yaml package throws ReferenceError for an unresolved or an excessive alias.
    const why = /Excessive alias count/.test((err as Error).message) ? ` (at most ${MAX_ALIAS_COUNT} alias expansions)` : '';
    throw new InputError(file, `invalid YAML: ${(err as Error).message}${why}`);
  }
}

/** Checks manifest text; field errors are prefixed with `file`, the manifest's name. */
export async function podFromManifestText(text: string, file: string): Promise<PodSpec> {
  const doc = await parseManifestText(text, file);
  try {
    return podFromManifest(doc);
  } catch (err) {
    if (err instanceof InputError) throw new InputError(err.field, err.problem, file);
    throw err;
  }
}

/** Reads and checks a manifest file; field errors are prefixed with the file's name. */
export async function loadManifest(file: string): Promise<PodSpec> {
  return podFromManifestText(readManifest(file), file);
}
