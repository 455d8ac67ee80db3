// The pod model: what a pod is, independent of how it was described (manifest or CLI) and of
// how it is run (foreground or monitor).
import type { Resources } from './resources.js';

/**
 * Namespaces a container can share with its pod's infra process. cgroup (podman's --share
 * cgroup) is for experiments: the infra's cgroup namespace is rooted at the infra's own cgroup.
 */
export const SHAREABLE = ['net', 'ipc', 'uts', 'pid', 'cgroup'] as const;
export type SharedNamespace = (typeof SHAREABLE)[number];
/** Those a pod can take from elsewhere instead of making them (joinNamespaces). */
export type JoinableNamespace = Exclude<SharedNamespace, 'cgroup'> | 'user';

/** The seed's --net/--ipc/--pid=container:pause, plus uts as Kubernetes always shares it. */
export const DEFAULT_SHARE: readonly SharedNamespace[] = ['net', 'ipc', 'uts', 'pid'];

/** Kubernetes' default terminationGracePeriodSeconds. */
export const DEFAULT_GRACE_SECONDS = 30;

export interface EnvVar {
  name: string;
  /** With valueFrom: '' (unused). */
  value: string;
  /** The downward API: a field of the pod, or a container's resource (pod/downward.ts). */
  valueFrom?: EnvSource;
}

/** Exactly one of them. */
export interface EnvSource {
  fieldRef?: { fieldPath: string };
  resourceFieldRef?: { resource: string; containerName?: string; divisor?: string };
  /** A key of a ConfigMap, or of a Secret, in tspod's store (pod/objects.ts). */
  configMapKeyRef?: KeyRef;
  secretKeyRef?: KeyRef;
}

/** One key of a stored object; `optional`: a missing object or key leaves the variable unset. */
export interface KeyRef {
  name: string;
  key: string;
  optional?: boolean;
}

/** Kubernetes' envFrom: every key of a ConfigMap or Secret becomes a variable, PREFIX first. */
export interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
}

export interface VolumeMount {
  /** The pod volume's name. */
  name: string;
  /** Absolute path in the container. */
  mountPath: string;
  readOnly?: boolean;
  /** A path inside the volume to mount instead of its root. */
  subPath?: string;
}

export interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  readOnlyRootFilesystem?: boolean;
  /** Names as Kubernetes writes them (NET_ADMIN), or ALL; changes to the default set (pod/security.ts). */
  capabilities?: { add?: string[]; drop?: string[] };
  /** Every capability, /proc and /sys unmasked and writable, the host's devices. */
  privileged?: boolean;
  /** false: no_new_privs (Kubernetes' default is true). */
  allowPrivilegeEscalation?: boolean;
  /** Unmasked: /proc without masked or read-only paths. */
  procMount?: 'Default' | 'Unmasked';
  /** A container that would run as uid 0 is refused. */
  runAsNonRoot?: boolean;
  /** Unset: RuntimeDefault (pod/seccomp.ts). */
  seccompProfile?: SeccompProfile;
}

/** Kubernetes' seccompProfile; localhostProfile: relative to /etc/tspod/seccomp, or absolute. */
export interface SeccompProfile {
  type: 'RuntimeDefault' | 'Unconfined' | 'Localhost';
  localhostProfile?: string;
}

export interface ContainerSpec {
  name: string;
  /**
   * Kubernetes `command`: the program and its first arguments (replaces an image's
   * Entrypoint). Required without an image.
   */
  command: string[];
  /** Kubernetes `args`: appended to command (replaces an image's Cmd). */
  args: string[];
  env: EnvVar[];
  /** Variables from whole ConfigMaps and Secrets, before `env` (whose entries win). */
  envFrom?: EnvFromSource[];
  /**
   * Absolute. Unset: the image's WorkingDir, or / in a root file system; a container on the
   * host's file system runs in the directory tspod was started from.
   */
  workingDir?: string;
  /** An image from the local store, NAME[:TAG]: its layers, under a writable layer, are the root. */
  image?: string;
  /** A directory that is the container's root file system (tspod's own field). */
  rootfs?: string;
  volumeMounts?: VolumeMount[];
  securityContext?: SecurityContext;
  /** Kubernetes' requests and limits of cpu and memory, enforced by the container's cgroup. */
  resources?: Resources;
  /** At most this many processes and threads in the container (tspod's field; podman's --pids-limit). */
  pidsLimit?: number;
  /** Where in its root the container writes why it ended (Kubernetes' default: /dev/termination-log). */
  terminationMessagePath?: string;
  /** FallbackToLogsOnError: an empty message of a failed run is the end of its log instead. */
  terminationMessagePolicy?: TerminationMessagePolicy;
  /** Restarted when it fails (policy permitting); a restart is what it takes to recover. */
  livenessProbe?: Probe;
  /** Whether it is ready: shown, never acted on (no Services here). */
  readinessProbe?: Probe;
  /** Until it succeeds the other probes wait; when it fails for good the container is restarted. */
  startupProbe?: Probe;
  lifecycle?: Lifecycle;
  /**
   * Only for an init container: Always makes it a sidecar (Kubernetes 1.29), started in order
   * with the init containers, kept running beside the app containers, stopped after them.
   */
  restartPolicy?: 'Always';
}

export const TERMINATION_MESSAGE_POLICIES = ['File', 'FallbackToLogsOnError'] as const;
export type TerminationMessagePolicy = (typeof TERMINATION_MESSAGE_POLICIES)[number];

/** A command run in the container, as tspod exec runs it: exit 0 is success. */
export interface ExecAction {
  command: string[];
}

/** An HTTP GET from inside the pod's network namespace: 200-399 is success. */
export interface HttpGetAction {
  port: number;
  /** Absolute, with its query; Kubernetes' default "/". */
  path: string;
  /** An IP address; unset: the pod's IP (127.0.0.1 in a pod with only lo). */
  host?: string;
  scheme: 'HTTP' | 'HTTPS';
  httpHeaders: { name: string; value: string }[];
}

/** A TCP connection from inside the pod's network namespace: connected is success. */
export interface TcpSocketAction {
  port: number;
  host?: string;
}

/** gRPC's standard health check (grpc.health.v1.Health/Check) over plain HTTP/2: SERVING is success. */
export interface GrpcAction {
  port: number;
  /** The service asked about; '' (the default) is the server as a whole. */
  service: string;
}

/** What a probe does: exactly one of them. */
export interface ProbeHandler {
  exec?: ExecAction;
  httpGet?: HttpGetAction;
  tcpSocket?: TcpSocketAction;
  grpc?: GrpcAction;
}

/** A probe with Kubernetes' defaults filled in (pod/probes.ts). */
export interface Probe extends ProbeHandler {
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
  successThreshold: number;
  failureThreshold: number;
  /** The grace period of a stop this probe causes (liveness and startup); unset: the pod's. */
  terminationGracePeriodSeconds?: number;
}

/** What a lifecycle hook does: exactly one of them. */
export interface LifecycleHandler {
  exec?: ExecAction;
  httpGet?: HttpGetAction;
  sleep?: { seconds: number };
}

export interface Lifecycle {
  /** Right after the container starts; a failure kills it. */
  postStart?: LifecycleHandler;
  /** Before the SIGTERM of a stop; its time counts against the grace period. */
  preStop?: LifecycleHandler;
}

/** Kubernetes' default terminationMessagePath. */
export const DEFAULT_TERMINATION_MESSAGE_PATH = '/dev/termination-log';

/** Kubernetes' hostPath types that tspod checks. */
export const HOST_PATH_TYPES = [
  '',
  'Directory',
  'DirectoryOrCreate',
  'File',
  'FileOrCreate',
  'Socket',
  'CharDevice',
  'BlockDevice',
] as const;
export type HostPathType = (typeof HOST_PATH_TYPES)[number];

export type Volume =
  | { name: string; emptyDir: { medium?: '' | 'Memory'; sizeLimit?: string } }
  | { name: string; hostPath: { path: string; type?: HostPathType } }
  | { name: string; configMap: ObjectVolume & { name: string } }
  | { name: string; secret: ObjectVolume & { secretName: string } }
  | { name: string; downwardAPI: DownwardVolume };

/** A downwardAPI volume: files of the pod's metadata and its containers' resources, written when it is created. */
export interface DownwardVolume {
  items: {
    path: string;
    fieldRef?: { fieldPath: string };
    resourceFieldRef?: { resource: string; containerName: string; divisor?: string };
    mode?: number;
  }[];
  defaultMode?: number;
}

/**
 * A configMap or secret volume: the object's keys (or the `items` chosen) as files, written
 * when the pod is created, mounted read-only.
 */
export interface ObjectVolume {
  /** Which keys, to which relative paths; unset: every key, as a file of its name. */
  items?: { key: string; path: string; mode?: number }[];
  /** The files' mode; Kubernetes' default 0644. */
  defaultMode?: number;
  /** A missing object is an empty volume, a missing item's key no file. */
  optional?: boolean;
}

/** Kubernetes' hostAliases: lines added to the pod's /etc/hosts. */
export interface HostAlias {
  ip: string;
  hostnames: string[];
}

/** Kubernetes' dnsPolicy. ClusterFirst(WithHostNet) is the host's resolver on one host, as Default. */
export const DNS_POLICIES = ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'] as const;
export type DnsPolicy = (typeof DNS_POLICIES)[number];

/** Kubernetes' dnsConfig: merged into the host's resolv.conf, or all of it with dnsPolicy None. */
export interface DnsConfig {
  nameservers?: string[];
  searches?: string[];
  options?: { name: string; value?: string }[];
}

/** Kubernetes' restartPolicy; for a pod it applies to each of its containers. */
export const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

/** A host port forwarded to a port of the pod (Kubernetes hostPort/containerPort). */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
  /** The host address to listen on; unset: every address (0.0.0.0). */
  hostIP?: string;
}

/**
 * pod: a network namespace of its own with only lo; published ports are forwarded in user
 * space. host: the host's network namespace. cni: a namespace of its own attached by CNI
 * plugins (an IP on a bridge, say); published ports through the portmap plugin.
 */
export type NetworkSpec = { mode: 'pod' } | { mode: 'host' } | { mode: 'cni'; name?: string };

export interface PodSpec {
  name: string;
  hostname: string;
  /** Which of the infra's namespaces the containers join; the others are new per container. */
  share: SharedNamespace[];
  terminationGracePeriodSeconds: number;
  restartPolicy: RestartPolicy;
  network: NetworkSpec;
  ports: PortMapping[];
  volumes: Volume[];
  /** A custom infra program (like the kubelet's --pod-infra-container-image); unset: tspod's pause. */
  pause?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** metadata.namespace: part of the pod's FQDN (with subdomain) and the downward API's; unset: "default". */
  namespace?: string;
  /** The pod's own id (the downward API's metadata.uid), given when it is created. */
  uid?: string;
  /** What the downward API says of spec.serviceAccountName; unset: "default". tspod has no API server. */
  serviceAccountName?: string;
  /** With it, the pod's FQDN is hostname.subdomain.NAMESPACE.svc.cluster.local in its /etc/hosts. */
  subdomain?: string;
  hostAliases?: HostAlias[];
  /** Unset: Kubernetes' ClusterFirst, which is the host's resolver here. */
  dnsPolicy?: DnsPolicy;
  dnsConfig?: DnsConfig;
  /** Limits of the whole pod (Kubernetes 1.32's pod-level resources; podman's pod create --cpus/--memory). */
  resources?: Resources;
  /** At most this many processes and threads in the pod, the infra's included (kubelet's --pod-max-pids). */
  pidsLimit?: number;
  /** Kubernetes' fsGroup: a group of every container's processes, and its volumes' group. */
  fsGroup?: number;
  /** Groups of every container's processes, besides its user's. */
  supplementalGroups?: number[];
  /** The cgroup the pod's cgroup is made in, a path in the cgroup v2 hierarchy (podman's --cgroup-parent). */
  cgroupParent?: string;
  /** Kubernetes' hostPID: the infra and containers in the host's PID namespace (containers share it). */
  hostPID?: boolean;
  /** Kubernetes' hostIPC: in the host's IPC namespace. */
  hostIPC?: boolean;
  /**
   * Namespaces the infra joins instead of making them (`--network ns:PATH`, `--ipc pod:OTHER`,
   * ...): a namespace file (/run/netns/NAME, /proc/PID/ns/ipc) or another running pod's.
   */
  joinNamespaces?: Partial<Record<JoinableNamespace, NamespaceSource>>;
  /**
   * A time namespace of the pod's own, its clocks shifted by these seconds (podman's and tspod's
   * --time-offset; Linux 5.6): the infra and every container see them.
   */
  timeOffsets?: TimeOffsets;
  /** Kubernetes' securityContext.sysctls: namespaced ones, set in the pod's namespaces before any container starts. */
  sysctls?: Sysctl[];
  /**
   * Kubernetes' hostUsers (tspod's --userns auto for false): false puts the pod in a user
   * namespace of its own, its root an unprivileged id on the host. Unset: the host's.
   */
  hostUsers?: boolean;
  /** The host ids of that user namespace: assigned by tspod when the pod is created (pod/userns.ts). */
  userNamespace?: IdRange;
  /**
   * Run in order before the containers, each to success; those with restartPolicy Always are
   * sidecars, which keep running. Unset: none.
   */
  initContainers?: ContainerSpec[];
  containers: ContainerSpec[];
}

/** Ids 0..size-1 of a user namespace are the host's hostId..hostId+size-1, for users and groups alike. */
export interface IdRange {
  hostId: number;
  size: number;
}

export type NamespaceSource = { path: string } | { pod: string };

export interface TimeOffsets {
  monotonic?: number;
  boottime?: number;
}

export interface Sysctl {
  /** net.ipv4.ip_local_port_range (or with '/' between its parts, as Kubernetes takes too). */
  name: string;
  value: string;
}

/** Every container of a pod, init containers first, each with its path in the spec (spec.initContainers[0]). */
export function everyContainer(spec: Pick<PodSpec, 'initContainers' | 'containers'>, base = 'spec'): { c: ContainerSpec; path: string }[] {
  return [
    ...(spec.initContainers ?? []).map((c, i) => ({ c, path: `${base}.initContainers[${i}]` })),
    ...spec.containers.map((c, i) => ({ c, path: `${base}.containers[${i}]` })),
  ];
}

/**
 * Containers on the host's file system (no image, no rootfs) run in `dir` unless they name a
 * directory: the CLI's own directory, so that relative paths mean what they mean there.
 */
export function workingDirDefault(spec: PodSpec, dir: string): void {
  for (const { c } of everyContainer(spec)) if (!c.image && !c.rootfs) c.workingDir ??= dir;
}

/** A pod with tspod's defaults: all four namespaces shared, its own network, nothing else. */
export function newPodSpec(name: string, containers: ContainerSpec[] = []): PodSpec {
  return {
    name,
    hostname: name,
    share: [...DEFAULT_SHARE],
    terminationGracePeriodSeconds: DEFAULT_GRACE_SECONDS,
    restartPolicy: 'Never',
    network: { mode: 'pod' },
    ports: [],
    volumes: [],
    labels: {},
    annotations: {},
    containers,
  };
}
