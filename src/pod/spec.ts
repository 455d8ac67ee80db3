// The pod model: what a pod is, independent of how it was described (manifest or CLI) and of
// how it is run (foreground or monitor).

/** Namespaces a container can share with its pod's infra process. */
export const SHAREABLE = ['net', 'ipc', 'uts', 'pid'] as const;
export type SharedNamespace = (typeof SHAREABLE)[number];

/** The seed's --net/--ipc/--pid=container:pause, plus uts as Kubernetes always shares it. */
export const DEFAULT_SHARE: readonly SharedNamespace[] = SHAREABLE;

/** Kubernetes' default terminationGracePeriodSeconds. */
export const DEFAULT_GRACE_SECONDS = 30;

export interface EnvVar {
  name: string;
  value: string;
}

export interface ContainerSpec {
  name: string;
  /** Kubernetes `command`: the program and its first arguments. */
  command: string[];
  /** Kubernetes `args`: appended to command. */
  args: string[];
  env: EnvVar[];
  /** Absolute; unset means the directory tspod was started from. */
  workingDir?: string;
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
  /** A custom infra program (like the kubelet's --pod-infra-container-image); unset: tspod's pause. */
  pause?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  containers: ContainerSpec[];
}
