// The downward API: a container's env[].valueFrom.fieldRef (the pod's name, namespace, uid,
// labels, annotations, node, service account, addresses) and resourceFieldRef (a container's cpu
// and memory requests and limits), with Kubernetes' values; and the files of a downwardAPI
// volume, which take the pod's metadata (its labels and annotations whole too) and resources.
import { readFileSync } from 'node:fs';
import { cpus, hostname, networkInterfaces, totalmem } from 'node:os';
import { InputError } from '../errors.js';
import { cpuMillis, memoryBytes } from './resources.js';
import type { ContainerSpec, EnvSource, PodSpec } from './spec.js';

/** The fieldPaths Kubernetes takes in an env var's fieldRef (a label or annotation by its key). */
export const FIELD_PATHS = [
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'spec.serviceAccountName',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
] as const;
const KEYED = /^metadata\.(labels|annotations)\['([^']*)'\]$/;

/** resourceFieldRef's resources, and the divisors Kubernetes allows for each. */
export const RESOURCE_FIELDS = ['limits.cpu', 'limits.memory', 'requests.cpu', 'requests.memory'] as const;
const CPU_DIVISORS = ['1m', '1'];
const MEMORY_DIVISORS = ['1', '1k', '1M', '1G', '1T', '1P', '1E', '1Ki', '1Mi', '1Gi', '1Ti', '1Pi', '1Ei'];

/** A fieldRef's fieldPath, checked: one of FIELD_PATHS, or metadata.labels['KEY'] / annotations. */
export function checkFieldPath(v: string, path: string): void {
  if ((FIELD_PATHS as readonly string[]).includes(v) || KEYED.test(v)) return;
  throw new InputError(
    path,
    `"${v}" is not a field the downward API gives (${FIELD_PATHS.join(', ')}, metadata.labels['KEY'], metadata.annotations['KEY'])`,
  );
}

/** The fieldPaths a downwardAPI volume's file takes: the pod's metadata, not where it runs. */
export const VOLUME_FIELD_PATHS = [
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'metadata.labels',
  'metadata.annotations',
] as const;

/** A downwardAPI volume file's fieldPath, checked. */
export function checkVolumeFieldPath(v: string, path: string): void {
  if ((VOLUME_FIELD_PATHS as readonly string[]).includes(v) || KEYED.test(v)) return;
  throw new InputError(
    path,
    `"${v}" is not a field a downwardAPI volume gives (${VOLUME_FIELD_PATHS.join(', ')}, metadata.labels['KEY'], ` +
      "metadata.annotations['KEY']; the node's and the pod's addresses are for env only)",
  );
}

/** Labels or annotations as the kubelet writes them in a file: KEY="VALUE" lines in key order, the last without its newline. */
export function formatMap(m: Record<string, string>): string {
  return Object.keys(m)
    .sort()
    .map((k) => `${k}=${JSON.stringify(m[k])}`)
    .join('\n');
}

/** The content of a downwardAPI volume's file. */
export function volumeFileValue(pod: PodSpec, from: EnvSource): string {
  const path = from.fieldRef?.fieldPath;
  if (path === 'metadata.labels') return formatMap(pod.labels);
  if (path === 'metadata.annotations') return formatMap(pod.annotations);
  // The volume's paths need nothing of where the pod runs; a resourceFieldRef names its container.
  const c = pod.containers.find((o) => o.name === from.resourceFieldRef?.containerName) ?? pod.containers[0];
  return downwardValue(pod, c, from, { hostIP: '', nodeName: '' });
}

/** A resourceFieldRef's resource and divisor, checked. */
export function checkResourceField(resource: string, divisor: string | undefined, path: string): void {
  if (!(RESOURCE_FIELDS as readonly string[]).includes(resource)) {
    throw new InputError(`${path}.resource`, `"${resource}" is not one tspod gives (${RESOURCE_FIELDS.join(', ')})`);
  }
  const allowed = resource.endsWith('.cpu') ? CPU_DIVISORS : MEMORY_DIVISORS;
  if (divisor !== undefined && !allowed.includes(divisor)) {
    throw new InputError(`${path}.divisor`, `"${divisor}" is not a divisor for ${resource} (${allowed.join(', ')})`);
  }
}

/** What the pod's fields are read from, besides its spec: where it runs. */
export interface DownwardFacts {
  /** The pod's address; undefined before its network is attached, or on a network without one. */
  podIP?: string;
  /** This host's address: that of the interface of its default route. */
  hostIP: string;
  nodeName: string;
}

/** This host's address, as the kubelet reports a node's: IPv4 of the default route's interface. */
export function hostAddress(): string {
  try {
    const routes = readFileSync('/proc/net/route', 'utf8').split('\n').slice(1);
    const iface = routes.map((l) => l.split('\t')).find((f) => f[1] === '00000000' && f[7] === '00000000')?.[0];
    const addr = iface ? networkInterfaces()[iface]?.find((a) => a.family === 'IPv4') : undefined;
    return addr?.address ?? '';
  } catch {
    return '';
  }
}

export function hostFacts(podIP?: string): DownwardFacts {
  return { ...(podIP ? { podIP } : {}), hostIP: hostAddress(), nodeName: hostname() };
}

/** Whether a container's env asks for the pod's address (known only once it is attached). */
export function usesPodIP(c: ContainerSpec): boolean {
  return c.env.some((e) => e.valueFrom?.fieldRef?.fieldPath.startsWith('status.podIP'));
}

/** The value of a valueFrom for container `c` of `pod`. */
export function downwardValue(pod: PodSpec, c: ContainerSpec, from: EnvSource, facts: DownwardFacts): string {
  if (from.fieldRef) {
    const path = from.fieldRef.fieldPath;
    const keyed = KEYED.exec(path);
    if (keyed) return (keyed[1] === 'labels' ? pod.labels : pod.annotations)[keyed[2]] ?? '';
    switch (path) {
      case 'metadata.name':
        return pod.name;
      case 'metadata.namespace':
        return pod.namespace ?? 'default';
      case 'metadata.uid':
        return pod.uid ?? '';
      case 'spec.nodeName':
        return facts.nodeName;
      case 'spec.serviceAccountName':
        return pod.serviceAccountName ?? 'default';
      case 'status.hostIP':
      case 'status.hostIPs':
        return facts.hostIP;
      default:
        return facts.podIP ?? (pod.network.mode === 'host' ? facts.hostIP : '');
    }
  }
  const ref = from.resourceFieldRef!;
  const target = ref.containerName ? pod.containers.find((o) => o.name === ref.containerName) : c;
  if (!target) throw new InputError(`container ${c.name}`, `resourceFieldRef: no container named "${ref.containerName}" in the pod`);
  const [kind, name] = ref.resource.split('.') as ['limits' | 'requests', 'cpu' | 'memory'];
  const given = target?.resources?.[kind]?.[name] ?? (kind === 'requests' ? target?.resources?.limits?.[name] : undefined);
  if (name === 'cpu') {
    // No limit: the node's capacity, as the kubelet gives (its allocatable); no request: 0.
    const millis = given !== undefined ? cpuMillis(given, ref.resource) : kind === 'limits' ? cpus().length * 1000 : 0;
    return String(Math.ceil(millis / (ref.divisor === '1m' ? 1 : 1000)));
  }
  const bytes = given !== undefined ? memoryBytes(given, ref.resource) : kind === 'limits' ? totalmem() : 0;
  return String(Math.ceil(bytes / memoryBytes(ref.divisor ?? '1', `${ref.resource}.divisor`)));
}
