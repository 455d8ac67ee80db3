// A pod's sysctls (Kubernetes' spec.securityContext.sysctls, podman's --sysctl): only those the
// kernel keeps per namespace, so that a pod changes nothing of the host; Kubernetes' safe set
// allowed by default, the rest only where the host allows them (the kubelet's
// --allowed-unsafe-sysctls, tspod's TSPOD_ALLOWED_UNSAFE_SYSCTLS). Policy only: the infra's child
// writes them into /proc/sys in the pod's new namespaces, before pause runs.
import { InputError } from '../errors.js';
import type { PodSpec, Sysctl } from './spec.js';

/** The kernel's namespaced sysctls, as Kubernetes lists them, with the namespace each is kept in. */
const NAMESPACED: [RegExp, 'net' | 'ipc'][] = [
  [/^kernel\.shm/, 'ipc'],
  [/^kernel\.msg/, 'ipc'],
  [/^kernel\.sem$/, 'ipc'],
  [/^fs\.mqueue\./, 'ipc'],
  [/^net\./, 'net'],
];

/** Kubernetes' safe sysctls (kubelet's allow-list as of 1.32): namespaced, and no pod's change reaches another. */
export const SAFE_SYSCTLS = [
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
  'net.ipv4.tcp_rmem',
  'net.ipv4.tcp_wmem',
] as const;

// Kubernetes' name rule: parts of lower-case letters, digits, '-' and '_' (starting and ending
// with a letter or digit), joined by '.' or '/'. No part can be '..'.
const NAME = /^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$/;

/** The name with '.' between its parts (net/ipv4/conf/eth0.100/forwarding: net.ipv4.conf.eth0/100.forwarding). */
export function canonicalName(name: string): string {
  const sep = name.indexOf('/') === -1 || (name.indexOf('.') !== -1 && name.indexOf('.') < name.indexOf('/')) ? '.' : '/';
  return sep === '.' ? name : name.replace(/[./]/g, (c) => (c === '/' ? '.' : '/'));
}

/** Its file under /proc/sys; a name that is none (it could lead elsewhere) is refused here too. */
export function sysctlPath(name: string): string {
  if (!NAME.test(name)) throw new InputError('sysctl', `${JSON.stringify(name)} is not a sysctl name`);
  return `/proc/sys/${canonicalName(name).replace(/[./]/g, (c) => (c === '.' ? '/' : '.'))}`;
}

/** The namespace a sysctl is kept in; undefined: it is the host's. */
export function sysctlNamespace(name: string): 'net' | 'ipc' | undefined {
  const n = canonicalName(name);
  return NAMESPACED.find(([p]) => p.test(n))?.[1];
}

/** One sysctl as a manifest or --sysctl gives it; `path` names it in errors. */
export function sysctlField(name: unknown, value: unknown, path: string): Sysctl {
  if (typeof name !== 'string' || name.length > 253 || !NAME.test(name)) {
    throw new InputError(`${path}.name`, `${JSON.stringify(name)} is not a sysctl name (net.ipv4.ip_local_port_range)`);
  }
  if (!sysctlNamespace(name)) {
    throw new InputError(
      `${path}.name`,
      `${name} is not a namespaced sysctl (kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, net.*): it would change the whole host`,
    );
  }
  if (typeof value !== 'string') throw new InputError(`${path}.value`, `must be a string, not ${JSON.stringify(value)}`);
  if (value.length > 4096 || /[\0\n]/.test(value)) throw new InputError(`${path}.value`, 'must be one line of at most 4096 bytes');
  return { name, value };
}

/** Whether a name is allowed by a pattern of the kubelet's --allowed-unsafe-sysctls: a name, or a prefix ending in '*'. */
function matches(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/**
 * A pod's sysctls checked against the host's policy and the pod's namespaces, before anything
 * is created: each must be safe or allowed, and kept in a namespace that the pod has of its own
 * and that its containers share.
 */
export function checkSysctls(
  spec: Pick<PodSpec, 'sysctls' | 'share' | 'network' | 'hostIPC' | 'joinNamespaces'>,
  allowedUnsafe: readonly string[],
): void {
  const seen = new Set<string>();
  (spec.sysctls ?? []).forEach((s, i) => {
    const where = `spec.securityContext.sysctls[${i}]`;
    // Checked again: a library caller may hand a spec that no field check has seen.
    sysctlField(s.name, s.value, where);
    const name = canonicalName(s.name);
    if (seen.has(name)) throw new InputError(`${where}.name`, `${s.name} is given twice`);
    seen.add(name);
    const safe = (SAFE_SYSCTLS as readonly string[]).includes(name);
    if (!safe && !allowedUnsafe.some((p) => matches(canonicalName(p), name))) {
      throw new InputError(
        `${where}.name`,
        `${s.name} is not one of Kubernetes' safe sysctls; ` +
          "the host allows it with TSPOD_ALLOWED_UNSAFE_SYSCTLS (the kubelet's --allowed-unsafe-sysctls)",
      );
    }
    const ns = sysctlNamespace(name)!;
    if (ns === 'net' && spec.network.mode === 'host') {
      throw new InputError(`${where}.name`, `${s.name} would change the host's network: the pod is on the host's network`);
    }
    if (spec.joinNamespaces?.[ns]) {
      throw new InputError(`${where}.name`, `${s.name} would change the ${ns} namespace the pod joins, which is not its own`);
    }
    if (ns === 'ipc' && spec.hostIPC) {
      throw new InputError(`${where}.name`, `${s.name} would change the host's: the pod is in the host's IPC namespace`);
    }
    if (!spec.share.includes(ns)) {
      throw new InputError(`${where}.name`, `${s.name} is kept per ${ns} namespace, and the pod's containers do not share its own`);
    }
  });
}

/** TSPOD_ALLOWED_UNSAFE_SYSCTLS: comma-separated names or prefixes ending in '*', each namespaced. */
export function allowedUnsafeSysctls(value: string | undefined, option: string): string[] {
  if (!value) return [];
  return value.split(',').map((p) => {
    const pattern = p.trim();
    const name = pattern.endsWith('*') ? pattern.slice(0, -1).replace(/[./]$/, '') : pattern;
    if (!NAME.test(name) || !sysctlNamespace(pattern.endsWith('*') ? pattern.slice(0, -1) : pattern)) {
      throw new InputError(
        option,
        `"${pattern}" is not a namespaced sysctl or a prefix of them ending in * (kernel.msg*, net.core.somaxconn)`,
      );
    }
    return pattern;
  });
}
