// A container's privileges, as containerd and runc give a rootful container and a Kubernetes
// securityContext changes them: the capability sets, no_new_privs, and the /proc and /sys paths
// that are masked or read-only. Policy only; the child applies it (native/child.cc).
import { InputError } from '../errors.js';
import type { CapabilitySets } from '../native/binding.js';
import type { SecurityContext } from './spec.js';

/** Linux's capabilities by number (include/uapi/linux/capability.h), as Kubernetes names them. */
export const CAPABILITIES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE',
] as const;

/** containerd's and Docker's default set for a container (oci.DefaultCapabilities, Docker's defaults). */
export const DEFAULT_CAPABILITIES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FSETID',
  'FOWNER',
  'MKNOD',
  'NET_RAW',
  'SETGID',
  'SETUID',
  'SETFCAP',
  'SETPCAP',
  'NET_BIND_SERVICE',
  'SYS_CHROOT',
  'KILL',
  'AUDIT_WRITE',
] as const;

/** runc's and containerd's masked paths: what a container must not read of the host's kernel. */
export const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
] as const;

/** ... and its read-only ones: what a container must not change of the host's kernel. */
export const READONLY_PATHS = ['/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'] as const;

/** A capability's name as Kubernetes writes it (NET_ADMIN; CAP_NET_ADMIN is taken too), checked. */
export function capabilityName(v: string, path: string): string {
  const name = v.toUpperCase().replace(/^CAP_/, '');
  if (name !== 'ALL' && !(CAPABILITIES as readonly string[]).includes(name)) {
    throw new InputError(path, `"${v}" is not a Linux capability (NET_ADMIN, SYS_TIME, ...; or ALL)`);
  }
  return name;
}

const numbers = (names: Iterable<string>) => [...names].map((n) => (CAPABILITIES as readonly string[]).indexOf(n)).sort((a, b) => a - b);

/**
 * The capability names a container has, in containerd's and CRI-O's order: the default set; add
 * ALL gives every one, drop ALL none; then each named add, then each named drop (a drop always
 * wins). privileged: every one.
 */
export function capabilityNames(sc: SecurityContext | undefined): string[] {
  if (sc?.privileged) return [...CAPABILITIES];
  const drop = sc?.capabilities?.drop ?? [];
  const add = sc?.capabilities?.add ?? [];
  let set = new Set<string>(DEFAULT_CAPABILITIES);
  if (add.includes('ALL')) set = new Set(CAPABILITIES);
  if (drop.includes('ALL')) set.clear();
  for (const c of add) if (c !== 'ALL') set.add(c);
  for (const c of drop) set.delete(c);
  return CAPABILITIES.filter((c) => set.has(c));
}

/**
 * The sets the child applies, for a process running as `uid`. Root gets the set as its bounding,
 * permitted and effective sets (execve gives root the bounding set anyway). Another user gets it
 * as the bounding set only, and no effective capability but those added by name (not by ALL)
 * and not dropped, which it keeps across execve as ambient ones, as podman gives them.
 */
export function capabilitySets(sc: SecurityContext | undefined, uid: number): CapabilitySets {
  const names = capabilityNames(sc);
  const bounding = numbers(names);
  if (uid === 0) return { bounding, effective: bounding, permitted: bounding, inheritable: [], ambient: [] };
  const named = sc?.privileged ? [] : (sc?.capabilities?.add ?? []).filter((c) => c !== 'ALL' && names.includes(c));
  const added = numbers(named);
  return { bounding, effective: added, permitted: added, inheritable: added, ambient: added };
}

/**
 * Kubernetes' validation: allowPrivilegeEscalation cannot be false for a container that can gain
 * privileges anyway (privileged, or given SYS_ADMIN). `where` names the field or option.
 */
export function checkEscalation(sc: SecurityContext, where: string): void {
  if (sc.allowPrivilegeEscalation !== false) return;
  if (sc.privileged || capabilityNames(sc).includes('SYS_ADMIN')) {
    throw new InputError(where, 'cannot be false for a container that is privileged or given SYS_ADMIN: it can gain privileges anyway');
  }
}

/** The infra needs none: it waits, reaps and forwards signals to its own children. */
export const NO_CAPABILITIES: CapabilitySets = { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] };

/**
 * Kubernetes' rule: privilege escalation is allowed unless allowPrivilegeEscalation says false;
 * it cannot be false for a privileged container or one given SYS_ADMIN.
 */
export function noNewPrivileges(sc: SecurityContext | undefined): boolean {
  return sc?.allowPrivilegeEscalation === false;
}

/** /proc and /sys are masked and partly read-only unless the container is privileged or asks for procMount: Unmasked. */
export function masksProc(sc: SecurityContext | undefined): boolean {
  return !sc?.privileged && sc?.procMount !== 'Unmasked';
}
