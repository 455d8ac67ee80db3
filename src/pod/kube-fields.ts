// Every field of the Kubernetes Pod v1 object (API 1.32), with tspod's answer to it:
//   supported: tspod does what the field asks;
//   accepted:  on one host the field asks for nothing tspod would have to do (a value written
//              by the API server, a choice among nodes, a credential for a registry tspod never
//              pulls from); it is read and dropped, and its value is checked where only some
//              values ask for nothing (hostPID: false is accepted, hostPID: true is not);
//   refused:   dropping it would drop a meaning, so the manifest is refused with its path.
// The reason is part of the table: it is what docs/MANIFESTS.md prints and what an error says.
import { InputError } from '../errors.js';

/** What tspod does with one field of a Kubernetes object. */
export type FieldAnswer =
  | { answer: 'supported'; why?: string }
  | {
      answer: 'accepted';
      why: string;
      /** Throws an InputError for a value that would ask for something (hostPID: true). */
      check?: (v: unknown, path: string) => void;
      /** What to say of a value that is accepted but deserves a word (imagePullPolicy: Always); undefined: nothing. */
      warning?: (v: unknown) => string | undefined;
    }
  | { answer: 'refused'; why: string };

/** The Pod v1 object's types, as the API reference names them, each with its fields' answers. */
export type KubeType =
  | 'Pod'
  | 'ObjectMeta'
  | 'PodSpec'
  | 'Container'
  | 'ContainerPort'
  | 'EnvVar'
  | 'VolumeMount'
  | 'HostAlias'
  | 'PodDNSConfig'
  | 'PodDNSConfigOption'
  | 'EnvVarSource'
  | 'ObjectFieldSelector'
  | 'ResourceFieldSelector'
  | 'ResourceRequirements'
  | 'SecurityContext'
  | 'Capabilities'
  | 'SeccompProfile'
  | 'Sysctl'
  | 'PodSecurityContext'
  | 'ConfigMapKeySelector'
  | 'SecretKeySelector'
  | 'EnvFromSource'
  | 'ConfigMapEnvSource'
  | 'SecretEnvSource'
  | 'Volume'
  | 'EmptyDirVolumeSource'
  | 'HostPathVolumeSource'
  | 'ConfigMapVolumeSource'
  | 'SecretVolumeSource'
  | 'KeyToPath'
  | 'DownwardAPIVolumeSource'
  | 'DownwardAPIVolumeFile'
  | 'ConfigMap'
  | 'Secret'
  | 'Probe'
  | 'ExecAction'
  | 'HTTPGetAction'
  | 'HTTPHeader'
  | 'TCPSocketAction'
  | 'GRPCAction'
  | 'Lifecycle'
  | 'LifecycleHandler'
  | 'SleepAction';

const supported = (why?: string): FieldAnswer => (why ? { answer: 'supported', why } : { answer: 'supported' });
const accepted = (why: string, check?: (v: unknown, path: string) => void, warning?: (v: unknown) => string | undefined): FieldAnswer => ({
  answer: 'accepted',
  why,
  ...(check ? { check } : {}),
  ...(warning ? { warning } : {}),
});
const refused = (why: string): FieldAnswer => ({ answer: 'refused', why });

/** A check for an accepted field: only the values listed ask for nothing. */
function only(values: readonly unknown[], otherwise: string) {
  return (v: unknown, path: string) => {
    if (!values.includes(v)) {
      const shown = values.map((x) => JSON.stringify(x)).join(' or ');
      throw new InputError(path, `${JSON.stringify(v)} is not supported by tspod (accepted: ${shown}): ${otherwise}`);
    }
  };
}

/** A scheduling field's `requiredDuringScheduling...` terms would need nodes or other pods to test. */
function noRequiredTerms(v: unknown, path: string): void {
  if (typeof v !== 'object' || v === null) return;
  for (const [kind, terms] of Object.entries(v as Record<string, unknown>)) {
    if (typeof terms === 'object' && terms !== null && 'requiredDuringSchedulingIgnoredDuringExecution' in terms) {
      throw new InputError(
        `${path}.${kind}.requiredDuringSchedulingIgnoredDuringExecution`,
        'is not supported by tspod: a required term is a condition on nodes or other pods that tspod cannot test, ' +
          'so running the pod would ignore it (preferred terms are accepted)',
      );
    }
  }
}

/** Labels that tspod can test on its one node; a nodeSelector on others would be ignored. */
function nodeSelector(v: unknown, path: string): void {
  if (typeof v !== 'object' || v === null) return;
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const known: Record<string, string> = { 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': arch };
  for (const [k, want] of Object.entries(v as Record<string, unknown>)) {
    const at = `${path}[${JSON.stringify(k)}]`;
    if (!(k in known)) {
      throw new InputError(
        at,
        'is not supported by tspod: it selects nodes by a label that tspod cannot test on its host (supported: ' +
          'kubernetes.io/os, kubernetes.io/arch)',
      );
    }
    if (want !== known[k]) throw new InputError(at, `this host is ${known[k]}, not ${JSON.stringify(want)}: the pod would not run here`);
  }
}

const SERVER_SET = 'written by the API server; a copy of an object from a cluster carries it, and it asks nothing of a runtime';
const SCHEDULING = 'chooses among nodes and pods of a cluster; on one host there is no choice to make';
const VOLUME_TYPE = 'this volume type is not supported by tspod (supported: emptyDir, hostPath, configMap, secret, downwardAPI)';
const IMMUTABLE = 'tspod never changes a stored ConfigMap or Secret in place (rm and create again), so each is immutable already';
const OPTIONAL = 'a missing object (or key) is no variable, no file, or an empty volume, as in Kubernetes';

/** The answers, type by type. Field names are those of the API reference, in its order. */
export const KUBE_FIELDS: Record<KubeType, Record<string, FieldAnswer>> = {
  Pod: {
    apiVersion: supported('must be v1'),
    kind: supported('must be Pod'),
    metadata: supported(),
    spec: supported(),
    status: accepted('the observed state, written by the kubelet; tspod reports its own with ps and inspect'),
  },
  ObjectMeta: {
    name: supported("the object's name (a pod's is a DNS label)"),
    generateName: accepted("the API server uses it only when name is empty; tspod needs the name (a copy of a controller's pod has both)"),
    namespace: supported("part of the pod's FQDN (with subdomain); tspod's pods share one set of names, whatever it is"),
    labels: supported(),
    annotations: supported('tspod.io/network chooses the network'),
    uid: accepted(`${SERVER_SET}; tspod gives each pod a uid of its own`),
    resourceVersion: accepted(SERVER_SET),
    generation: accepted(SERVER_SET),
    creationTimestamp: accepted(SERVER_SET),
    deletionTimestamp: accepted(SERVER_SET),
    deletionGracePeriodSeconds: accepted(SERVER_SET),
    managedFields: accepted(`${SERVER_SET} (server-side apply's bookkeeping)`),
    selfLink: accepted(SERVER_SET),
    ownerReferences: accepted(
      'names the controller that made the pod, for the garbage collector of a cluster; here the pod is removed with tspod rm',
    ),
    finalizers: accepted('hold the object in the API server until its controllers finish; tspod has no API server, and rm removes the pod'),
  },
  PodSpec: {
    containers: supported(),
    initContainers: supported('run in order, each to success, before the containers; restartPolicy Always makes a sidecar'),
    ephemeralContainers: refused('are added by kubectl debug to a running pod; use tspod exec'),
    restartPolicy: supported(),
    terminationGracePeriodSeconds: supported(),
    activeDeadlineSeconds: refused('tspod does not end a pod after a deadline yet'),
    dnsPolicy: supported(
      "None: resolv.conf is dnsConfig's alone; ClusterFirst and ClusterFirstWithHostNet ask for a cluster's DNS, which one " +
        "host does not have: the host's resolver is used, as with Default",
    ),
    dnsConfig: supported("merged into the host's resolv.conf (nameservers and searches added, options by name), or all of it with None"),
    hostAliases: supported("lines of the pod's /etc/hosts"),
    hostname: supported(),
    subdomain: supported("the pod's FQDN, hostname.subdomain.NAMESPACE.svc.cluster.local, in its /etc/hosts"),
    setHostnameAsFQDN: accepted(
      'false is the default: the kernel hostname is the short one',
      only([false], 'tspod does not set the FQDN as the kernel hostname yet'),
    ),
    hostNetwork: supported(),
    hostPID: supported("the infra and the containers in the host's PID namespace; pause is then not PID 1 and reaps only its own children"),
    hostIPC: supported("the infra and the containers in the host's IPC namespace"),
    hostUsers: supported(
      "false: a user namespace of the pod's own, 65,536 ids from TSPOD_USERNS_RANGE; images and emptyDirs seen with their owners " +
        'through idmapped mounts (Linux 5.19; tmpfs 6.3)',
    ),
    shareProcessNamespace: supported(),
    volumes: supported(),
    resources: supported('pod-level limits (Kubernetes 1.32)'),
    securityContext: supported("runAsUser and runAsGroup as the containers' defaults"),
    nodeName: accepted('binds the pod to a node; the pod runs on this host, whatever its name'),
    nodeSelector: accepted(
      'kubernetes.io/os and kubernetes.io/arch are tested against this host; a label tspod cannot test is refused',
      nodeSelector,
    ),
    affinity: accepted(`${SCHEDULING}; a required term is refused, as tspod cannot test it`, noRequiredTerms),
    tolerations: accepted('let a pod onto tainted nodes; they never keep one off'),
    topologySpreadConstraints: accepted(`${SCHEDULING}: one pod on one node is always spread`),
    schedulerName: accepted(SCHEDULING),
    schedulingGates: refused('keep a pod from running until a controller removes them; running it would ignore them'),
    priority: accepted("orders scheduling and eviction among a cluster's pods; tspod neither schedules nor evicts"),
    priorityClassName: accepted("orders scheduling and eviction among a cluster's pods; tspod neither schedules nor evicts"),
    preemptionPolicy: accepted('lets the scheduler preempt other pods; tspod does not schedule'),
    overhead: refused("tspod would not add it to the pod's cgroup limits"),
    runtimeClassName: refused('selects a runtime handler (an isolation such as a VM); tspod is its only runtime'),
    readinessGates: refused('are conditions set by outside controllers; tspod has none, and would report the pod ready without them'),
    resourceClaims: refused('dynamic resource allocation is not supported by tspod'),
    enableServiceLinks: accepted("a cluster's Services become environment variables; one host has no Services, so there are none to add"),
    serviceAccountName: supported('what the downward API says of it; tspod has no API server and mounts no token'),
    serviceAccount: accepted(
      'the deprecated name of serviceAccountName, which the API server writes beside it: serviceAccountName is read',
    ),
    automountServiceAccountToken: accepted(
      'false asks for no token, which is what tspod does',
      only([false], 'tspod has no API server, so no token to mount (remove the field or set it to false)'),
    ),
    imagePullSecrets: accepted('credentials for a registry; tspod never pulls, it runs images from its store'),
    os: accepted("linux is this host's", (v, path) => {
      const name = typeof v === 'object' && v !== null ? (v as Record<string, unknown>).name : undefined;
      only(['linux'], 'this host runs Linux')(name, `${path}.name`);
    }),
  },
  Container: {
    name: supported(),
    image: supported('from the local store'),
    imagePullPolicy: accepted(
      "IfNotPresent and Never: the store's image is used; Always too, with a warning: tspod never pulls",
      only(['IfNotPresent', 'Never', 'Always'], 'Kubernetes takes Always, IfNotPresent or Never'),
      (v) => (v === 'Always' ? 'Always: tspod never pulls; the image in its store is used' : undefined),
    ),
    command: supported(),
    args: supported(),
    workingDir: supported(),
    ports: supported('hostPort publishes; the others document the port'),
    env: supported('name and value'),
    envFrom: supported('every key of a ConfigMap or Secret, before env; a key that is no variable name is skipped'),
    resources: supported('requests and limits of cpu and memory'),
    resizePolicy: accepted(
      'tspod update changes limits in place, without a restart, which is what NotRequired asks and what RestartContainer allows',
    ),
    restartPolicy: supported('Always, in an init container: a sidecar (Kubernetes 1.29)'),
    volumeMounts: supported(),
    volumeDevices: refused('raw block volumes are not supported by tspod'),
    livenessProbe: supported('run by the supervisor; network probes connect from inside the pod'),
    readinessProbe: supported("the container's ready, shown by ps (READY) and the API; nothing routes by it on one host"),
    startupProbe: supported(),
    lifecycle: supported(),
    terminationMessagePath: supported(
      "a file bound into a container with a root of its own (default /dev/termination-log); what it holds at the end is the exit's message",
    ),
    terminationMessagePolicy: supported('File, or FallbackToLogsOnError: the end of the log for an empty message of a failed run'),
    securityContext: supported(),
    stdin: accepted('false is the default', only([false], "tspod does not attach to a detached container's stdin")),
    stdinOnce: accepted('false is the default', only([false], "tspod does not attach to a detached container's stdin")),
    tty: accepted('false is the default', only([false], 'tspod run -t gives a terminal to a foreground container only')),
    rootfs: supported("tspod's own field: a directory that is the root file system"),
    pidsLimit: supported("tspod's own field: podman's --pids-limit"),
  },
  ContainerPort: {
    containerPort: supported(),
    hostPort: supported(),
    protocol: supported('TCP and UDP'),
    hostIP: supported(),
    name: supported('documents the port'),
  },
  EnvVar: {
    name: supported(),
    value: supported(),
    valueFrom: supported('the downward API (fieldRef, resourceFieldRef), a key of a ConfigMap or Secret'),
  },
  VolumeMount: {
    name: supported(),
    mountPath: supported(),
    readOnly: supported(),
    subPath: supported(),
    subPathExpr: refused('tspod does not expand environment variables in subPath yet'),
    mountPropagation: refused('tspod mounts volumes private; HostToContainer and Bidirectional are not supported yet'),
    recursiveReadOnly: refused('tspod does not make read-only mounts recursive yet'),
  },
  HostAlias: {
    ip: supported(),
    hostnames: supported(),
  },
  PodDNSConfig: {
    nameservers: supported('at most 3'),
    searches: supported('at most 32'),
    options: supported(),
  },
  PodDNSConfigOption: {
    name: supported(),
    value: supported(),
  },
  EnvVarSource: {
    fieldRef: supported("the pod's name, namespace, uid, labels, annotations, node, service account and addresses"),
    resourceFieldRef: supported("a container's cpu and memory requests and limits"),
    configMapKeyRef: supported('a key of a stored ConfigMap, as the pod was created'),
    secretKeyRef: supported('a key of a stored Secret, as the pod was created'),
  },
  ConfigMapKeySelector: {
    name: supported(),
    key: supported(),
    optional: supported(OPTIONAL),
  },
  SecretKeySelector: {
    name: supported(),
    key: supported(),
    optional: supported(OPTIONAL),
  },
  EnvFromSource: {
    prefix: supported(),
    configMapRef: supported(),
    secretRef: supported(),
  },
  ConfigMapEnvSource: {
    name: supported(),
    optional: supported(OPTIONAL),
  },
  SecretEnvSource: {
    name: supported(),
    optional: supported(OPTIONAL),
  },
  ObjectFieldSelector: {
    fieldPath: supported(),
    apiVersion: supported('must be v1'),
  },
  ResourceFieldSelector: {
    resource: supported('limits.cpu, limits.memory, requests.cpu, requests.memory'),
    containerName: supported(),
    divisor: supported(),
  },
  ResourceRequirements: {
    requests: supported('cpu and memory'),
    limits: supported('cpu and memory'),
    claims: refused('dynamic resource allocation is not supported by tspod'),
  },
  SecurityContext: {
    runAsUser: supported(),
    runAsGroup: supported(),
    readOnlyRootFilesystem: supported(),
    allowPrivilegeEscalation: supported('false sets no_new_privs'),
    privileged: supported('every capability, /proc and /sys unmasked and writable; no host device is bound in (it may mknod them)'),
    capabilities: supported("add and drop (names, or ALL) change containerd's default set"),
    runAsNonRoot: supported('a container that would run as uid 0 is refused before anything starts'),
    seccompProfile: supported("a seccomp filter; unset: RuntimeDefault (a privileged container's is Unconfined)"),
    appArmorProfile: refused('tspod does not apply AppArmor profiles'),
    seLinuxOptions: refused('tspod does not apply SELinux labels'),
    procMount: supported("Default masks runc's paths of /proc and /sys, Unmasked does not"),
    windowsOptions: refused('for Windows containers'),
  },
  Capabilities: {
    add: supported(),
    drop: supported(),
  },
  Sysctl: {
    name: supported('kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, net.*'),
    value: supported(),
  },
  SeccompProfile: {
    type: supported("RuntimeDefault (containerd's list; tspod's default), Unconfined, or Localhost"),
    localhostProfile: supported('an OCI or Docker JSON profile, relative to /etc/tspod/seccomp (or, unlike Kubernetes, absolute)'),
  },
  PodSecurityContext: {
    runAsUser: supported('the default of each container'),
    runAsGroup: supported('the default of each container'),
    runAsNonRoot: supported('the default of each container'),
    fsGroup: supported(
      "a group of every container's processes, and the group of the pod's emptyDir, configMap, secret and downwardAPI volumes",
    ),
    fsGroupChangePolicy: accepted(
      "tspod makes the pod's volumes with fsGroup's group from the start: there is nothing to change, always or on mismatch",
      only(['Always', 'OnRootMismatch'], 'Kubernetes takes Always or OnRootMismatch'),
    ),
    supplementalGroups: supported("groups of every container's processes, besides its user's"),
    supplementalGroupsPolicy: refused('tspod does not set supplementary groups from the pod yet'),
    sysctls: supported(
      "namespaced ones only, set in the pod's namespaces before any container starts; " +
        "Kubernetes' safe set, others where TSPOD_ALLOWED_UNSAFE_SYSCTLS allows them",
    ),
    seccompProfile: supported('the default of each container'),
    appArmorProfile: refused('tspod does not apply AppArmor profiles'),
    seLinuxOptions: refused('tspod does not apply SELinux labels'),
    seLinuxChangePolicy: refused('tspod does not apply SELinux labels'),
    windowsOptions: refused('for Windows pods'),
  },
  Volume: {
    name: supported(),
    emptyDir: supported(),
    hostPath: supported(),
    configMap: supported("the ConfigMap's keys as files, written when the pod is created, mounted read-only"),
    secret: supported("the Secret's keys as files, on a tmpfs of the pod's, written when it is created, mounted read-only"),
    downwardAPI: supported("the pod's metadata and its containers' resources as files, written when the pod is created, read-only"),
    projected: refused(
      'projected volumes are not supported by tspod yet; the one the API server adds for the service account ' +
        '(kube-api-access-*) is dropped with its mounts, with a warning: tspod has no API server to give a token for',
    ),
    persistentVolumeClaim: refused("needs a cluster's volumes; use hostPath"),
    ephemeral: refused("needs a cluster's volume provisioner; use emptyDir"),
    image: refused(VOLUME_TYPE),
    csi: refused(VOLUME_TYPE),
    nfs: refused(VOLUME_TYPE),
    iscsi: refused(VOLUME_TYPE),
    fc: refused(VOLUME_TYPE),
    rbd: refused(VOLUME_TYPE),
    cephfs: refused(VOLUME_TYPE),
    glusterfs: refused(VOLUME_TYPE),
    gitRepo: refused(VOLUME_TYPE),
    awsElasticBlockStore: refused(VOLUME_TYPE),
    azureDisk: refused(VOLUME_TYPE),
    azureFile: refused(VOLUME_TYPE),
    gcePersistentDisk: refused(VOLUME_TYPE),
    cinder: refused(VOLUME_TYPE),
    vsphereVolume: refused(VOLUME_TYPE),
    flexVolume: refused(VOLUME_TYPE),
    flocker: refused(VOLUME_TYPE),
    photonPersistentDisk: refused(VOLUME_TYPE),
    portworxVolume: refused(VOLUME_TYPE),
    quobyte: refused(VOLUME_TYPE),
    scaleIO: refused(VOLUME_TYPE),
    storageos: refused(VOLUME_TYPE),
  },
  EmptyDirVolumeSource: {
    medium: supported('"" (the state directory\'s disk) or Memory (a tmpfs)'),
    sizeLimit: supported(),
  },
  HostPathVolumeSource: {
    path: supported(),
    type: supported(),
  },
  ConfigMapVolumeSource: {
    name: supported(),
    items: supported('chosen keys, each to a relative path'),
    defaultMode: supported('0644 unless said'),
    optional: supported(OPTIONAL),
  },
  SecretVolumeSource: {
    secretName: supported(),
    items: supported('chosen keys, each to a relative path'),
    defaultMode: supported('0644 unless said'),
    optional: supported(OPTIONAL),
  },
  KeyToPath: {
    key: supported(),
    path: supported(),
    mode: supported(),
  },
  DownwardAPIVolumeSource: {
    items: supported(),
    defaultMode: supported('0644 unless said'),
  },
  DownwardAPIVolumeFile: {
    path: supported(),
    fieldRef: supported(
      "metadata.name, namespace, uid, labels and annotations (whole, or one by key); they do not change, so the files don't",
    ),
    resourceFieldRef: supported('a container (containerName) and its cpu or memory request or limit'),
    mode: supported(),
  },
  Probe: {
    exec: supported(),
    httpGet: supported(),
    tcpSocket: supported(),
    grpc: supported(),
    initialDelaySeconds: supported(),
    timeoutSeconds: supported(),
    periodSeconds: supported(),
    successThreshold: supported(),
    failureThreshold: supported(),
    terminationGracePeriodSeconds: supported(),
  },
  ExecAction: {
    command: supported('run in the container as tspod exec runs a command, in its cgroup'),
  },
  HTTPGetAction: {
    path: supported(),
    port: supported("a number, or the name of one of the container's ports"),
    host: supported("an IP address (tspod resolves no names); unset: the pod's IP, or 127.0.0.1 in a pod with only lo"),
    scheme: supported('HTTP, or HTTPS without checking the certificate, as the kubelet does'),
    httpHeaders: supported(),
  },
  HTTPHeader: {
    name: supported(),
    value: supported(),
  },
  TCPSocketAction: {
    port: supported("a number, or the name of one of the container's ports"),
    host: supported('an IP address (tspod resolves no names)'),
  },
  GRPCAction: {
    port: supported(),
    service: supported(),
  },
  Lifecycle: {
    postStart: supported(),
    preStop: supported(),
    stopSignal: refused('tspod stops a container with SIGTERM'),
  },
  LifecycleHandler: {
    exec: supported(),
    httpGet: supported(),
    tcpSocket: refused('the kubelet keeps it for old manifests but never runs it as a hook'),
    sleep: supported(),
  },
  SleepAction: {
    seconds: supported(),
  },
  ConfigMap: {
    apiVersion: supported('must be v1'),
    kind: supported(),
    metadata: supported(),
    data: supported('text values'),
    binaryData: supported('base64 values; files only (a variable takes text keys)'),
    immutable: accepted(IMMUTABLE),
  },
  Secret: {
    apiVersion: supported('must be v1'),
    kind: supported(),
    metadata: supported(),
    data: supported('base64 values'),
    stringData: supported('text values, written over data key by key'),
    type: supported('kept (Opaque unless said); tspod checks no keys by type'),
    immutable: accepted(IMMUTABLE),
  },
};

/** Names of the supported fields of a type: the API's own format takes only these. */
export function supportedFields(type: KubeType): string[] {
  return Object.entries(KUBE_FIELDS[type])
    .filter(([, a]) => a.answer === 'supported')
    .map(([name]) => name);
}

/** The edit distance of two short names, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/**
 * Checks every field of `o`, a `type` of a manifest at `path`: a refused or unknown field is
 * an InputError that names it, an accepted one has its value checked. `warn` gets a line for
 * an accepted value that deserves to be said (imagePullPolicy: Always).
 */
export function kubeFields(o: Record<string, unknown>, path: string, type: KubeType, warn?: (line: string) => void): void {
  const table = KUBE_FIELDS[type];
  for (const [key, value] of Object.entries(o)) {
    const where = path ? `${path}.${key}` : key;
    const entry = Object.hasOwn(table, key) ? table[key] : undefined;
    if (entry === undefined) {
      const names = Object.keys(table);
      const near = names.filter((n) => distance(n, key) <= Math.max(1, Math.floor(key.length / 4)));
      const hint = near.length ? `did you mean ${near.join(' or ')}?` : `fields here: ${names.join(', ')}`;
      throw new InputError(where, `is not a field of the Kubernetes ${type} (${hint})`);
    }
    if (entry.answer === 'refused') throw new InputError(where, `field is not supported by tspod: ${entry.why}`);
    if (entry.answer === 'accepted') {
      entry.check?.(value, where);
      const said = entry.warning?.(value);
      if (said) warn?.(`${where}: ${said}`);
    }
  }
}

/** The table as docs/MANIFESTS.md prints it: one Markdown table per type. */
export function fieldTableMarkdown(): string {
  const cell = (s: string) => s.replaceAll('|', '\\|');
  return Object.entries(KUBE_FIELDS)
    .map(([type, fields]) => {
      const rows = Object.entries(fields).map(([name, a]) => `| \`${name}\` | ${a.answer} | ${cell(a.why ?? '')} |`);
      return [`### ${type}`, '', '| field | answer | why |', '| --- | --- | --- |', ...rows, ''].join('\n');
    })
    .join('\n');
}
