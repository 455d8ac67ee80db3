// What a pod's or a container's processes use, read from their cgroup's files (tspod stats,
// tspod top). Read-only, and from the record alone: no supervisor is asked. cpu time comes
// from the v2 tree's cpu.stat, which every cgroup has even with no controller enabled;
// memory and pids from wherever their controller is (v2, or a hybrid host's v1 hierarchy).
import { readFileSync } from 'node:fs';
import { Cgroup } from './cgroup.js';
import { checkRecord, memberName, type PodCgroupsRecord } from './pod.js';

export interface Usage {
  /** cpu time used since the cgroup was made, in microseconds. */
  cpuUsec: number;
  /** Memory in use, less the page cache the kernel may drop (the kubelet's working set). */
  memoryBytes: number | null;
  /** null: no limit. */
  memoryLimitBytes: number | null;
  /** Tasks (processes and threads) as the pids controller counts them, or processes. */
  pids: number;
  pidsLimit: number | null;
}

const read = (file: string) => readFileSync(file, 'utf8');
const field = (text: string, key: string) => Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
/** v1 writes "no limit" as a huge number (LONG_MAX rounded down to a page), v2 as "max". */
const limit = (text: string) => {
  const v = text.trim();
  return v === 'max' || Number(v) >= 2 ** 62 ? null : Number(v);
};

/**
 * The usage of a pod (`member` null: its cgroup, every member included), its infra
 * (undefined) or a container (its name), from the pod's record.
 */
export function usage(saved: PodCgroupsRecord, member: string | null | undefined): Usage {
  const controllers = checkRecord(saved);
  const name = member === null ? saved.name : `${saved.name}/${memberName(member)}`;
  const dir = (c: 'memory' | 'pids') => {
    const v1 = controllers.v1[c];
    return v1 ? { at: v1 + name, v1: true } : controllers.v2.includes(c) ? { at: saved.mount + name, v1: false } : undefined;
  };
  const cpuUsec = field(read(`${saved.mount}${name}/cpu.stat`), 'usage_usec');

  let memoryBytes: number | null = null;
  let memoryLimitBytes: number | null = null;
  const mem = dir('memory');
  if (mem) {
    const stat = read(`${mem.at}/memory.stat`);
    const used = Number(read(`${mem.at}/${mem.v1 ? 'memory.usage_in_bytes' : 'memory.current'}`));
    const inactive = field(stat, mem.v1 ? 'total_inactive_file' : 'inactive_file') || 0;
    memoryBytes = Math.max(0, used - inactive);
    memoryLimitBytes = limit(read(`${mem.at}/${mem.v1 ? 'memory.limit_in_bytes' : 'memory.max'}`));
  }

  const pidsDir = dir('pids');
  const pids = pidsDir ? Number(read(`${pidsDir.at}/pids.current`)) : new Cgroup(saved.mount, name).pids().length;
  const pidsLimit = pidsDir ? limit(read(`${pidsDir.at}/pids.max`)) : null;
  return { cpuUsec, memoryBytes, memoryLimitBytes, pids, pidsLimit };
}

/** The processes of a container (or the infra), as pids of the host, from its v2 cgroup and below. */
export function processes(saved: PodCgroupsRecord, member: string | undefined): number[] {
  checkRecord(saved);
  return new Cgroup(saved.mount, `${saved.name}/${memberName(member)}`).pids();
}
