// A cgroup that a service manager delegated to tspod's monitor: systemd's Delegate=yes in
// examples/systemd/tspod.service. There the monitor keeps to its own subtree, as systemd's
// rules for delegation ask: the pods' cgroups go below the service's cgroup, the monitor moves
// into a leaf of it (v2 passes controllers on only from a cgroup with no process in it), and
// nothing above it is written.
import { readFileSync } from 'node:fs';
import type { NativeBinding } from '../native/binding.js';
import { Cgroup } from './cgroup.js';

/** The leaf the monitor moves into, beside its pods' cgroups (whose names end in -HEX). */
export const SUPERVISOR_LEAF = 'supervisor';

/** This process's cgroup in the v2 hierarchy ("0::/system.slice/tspod.service"), or undefined. */
function ownCgroup(): string | undefined {
  const line = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  return line?.slice(3) || undefined;
}

/**
 * systemd marks a cgroup it delegated with trusted.delegate=1 (v251). Only the trusted.*
 * mark counts: setting it takes CAP_SYS_ADMIN, while the user.delegate=1 that v254 adds too can
 * be set by a user on the cgroups their own systemd manages.
 */
function isDelegated(binding: NativeBinding, dir: string): boolean {
  try {
    return binding.lgetxattr(dir, 'trusted.delegate')?.toString() === '1';
  } catch {
    return false; // no xattrs on this cgroupfs: not marked
  }
}

/**
 * The delegated cgroup this process runs in (or in whose supervisor leaf it runs: a monitor that
 * moved there), or undefined. The caller moves into the leaf with `enterLeaf`.
 */
export function delegatedCgroup(binding: NativeBinding, mount: string): string | undefined {
  let own = ownCgroup();
  if (!own || own === '/') return undefined;
  if (own.endsWith(`/${SUPERVISOR_LEAF}`)) own = own.slice(0, -SUPERVISOR_LEAF.length - 1);
  return own !== '' && isDelegated(binding, mount + own) ? own : undefined;
}

/** Moves this process (all its threads) into the delegated cgroup's supervisor leaf. */
export function enterLeaf(mount: string, delegated: string): void {
  Cgroup.make(mount, `${delegated}/${SUPERVISOR_LEAF}`).move(process.pid);
}
