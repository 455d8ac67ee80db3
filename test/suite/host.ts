// What the suite may change on the host, taken before it runs and compared after: a test that
// leaves a process, mount, link, rule, sysctl, cgroup or file behind fails the run, whichever
// file it is in. tap runs before.ts first and after.ts last (package.json); only one suite may
// run on a machine at a time, or each would see the other's objects.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { allProcesses, nsInode, procInfo, type NsName } from '../helpers/proc.js';

// Per tap process (tap runs both scripts as its children): a second tap run at the same time
// cannot take this run's baseline, though it still sees this run's objects (one at a time).
export const BASELINE = join(tmpdir(), `tspod-suite-baseline-${process.ppid}.json`);
const REPO = resolve(__dirname, '../..');

export interface HostState {
  /** "pid startTime comm" of each process: a pid alone can be reused. */
  processes: string[];
  mounts: string[];
  links: string[];
  rules: string[];
  sysctls: string[];
  cgroups: string[];
  files: string[];
}

const SYSCTLS = [
  'net/ipv4/ip_forward',
  'net/ipv6/conf/all/forwarding',
  'net/ipv4/conf/all/route_localnet',
  'net/bridge/bridge-nf-call-iptables',
];

/** Directories whose entries a test may create (beside the temporary one): each must be as it was. */
// (/etc/cni and /run/cni too: the default-network test creates them when a host has none.)
const WATCHED_DIRS = ['/run/tspod', '/run/netns', '/etc/cni', '/var/lib/cni', '/run/cni'];

function lines(cmd: string, args: string[]): string[] {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter(Boolean);
  } catch {
    return []; // not installed, or not root: nothing of it to compare
  }
}

function entries(dir: string, depth: number): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => [join(dir, n), ...(depth > 1 ? entries(join(dir, n), depth - 1) : [])]);
}

/** Cgroup directories with tspod in their name, to the depth a runtime would make them. */
function cgroups(dir: string, depth: number): string[] {
  let names: { name: string; isDirectory(): boolean }[];
  try {
    names = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return names
    .filter((d) => d.isDirectory())
    .flatMap((d) => {
      const path = join(dir, d.name);
      return [...(d.name.includes('tspod') ? [path] : []), ...(depth > 1 ? cgroups(path, depth - 1) : [])];
    });
}

export function hostState(): HostState {
  return {
    processes: allProcesses().map((p) => `${p.pid} ${p.startTime} ${p.comm}`),
    // Mount point and filesystem type: the fifth field, and the first after the separator.
    mounts: readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => `${l.split(' ')[4]} ${l.split(' - ')[1]?.split(' ')[0]}`),
    // Names only: flags such as a bridge's NO-CARRIER come and go with its ports.
    links: lines('ip', ['-o', 'link', 'show']).map((l) => l.split(': ')[1].split('@')[0]),
    rules: [...lines('iptables-save', []), ...lines('ip6tables-save', [])]
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/ \[\d+:\d+\]$/, '')),
    sysctls: SYSCTLS.flatMap((s) => {
      try {
        return [`${s.replaceAll('/', '.')}=${readFileSync(`/proc/sys/${s}`, 'utf8').trim()}`];
      } catch {
        return [];
      }
    }),
    cgroups: cgroups('/sys/fs/cgroup', 4),
    files: [
      // In the temporary directory, the tests' own names only; the locks of exclusive.ts stay.
      ...entries(tmpdir(), 1).filter(
        (f) => f.startsWith(join(tmpdir(), 'tspod-')) && !/tspod-tests-\w+\.lock$/.test(f) && !/tspod-suite-baseline-\d+\.json$/.test(f),
      ),
      ...WATCHED_DIRS.flatMap((d) => entries(d, 3)),
    ],
  };
}

/** Each entry of `after` not in `before`, counting repeats (a mount made twice over one). */
function added(before: string[], after: string[]): string[] {
  const left = new Map<string, number>();
  for (const b of before) left.set(b, (left.get(b) ?? 0) + 1);
  return after.filter((a) => {
    const n = left.get(a) ?? 0;
    left.set(a, n - 1);
    return n <= 0;
  });
}

function ancestors(pid: number): Set<number> {
  const out = new Set<number>();
  for (let p = procInfo(pid); p && !out.has(p.pid); p = procInfo(p.ppid)) out.add(p.pid);
  return out;
}

function inOtherNamespace(pid: number): boolean {
  try {
    return (['net', 'pid', 'mnt'] as NsName[]).some((ns) => nsInode(pid, ns) !== nsInode(1, ns));
  } catch {
    return false; // gone
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

/**
 * What the suite left: new processes that are a test's (pause, anything in other namespaces,
 * anything running from this repository or a test's temporary directory), and every other
 * object new or changed since `before`. One line each.
 */
export function leftovers(before: HostState, now: HostState = hostState()): string[] {
  const mine = ancestors(process.pid);
  const processes = added(before.processes, now.processes).filter((p) => {
    const pid = Number(p.split(' ')[0]);
    const info = procInfo(pid);
    if (!info || info.state === 'Z' || mine.has(pid)) return false;
    const cmd = cmdline(pid);
    return info.comm === 'pause' || inOtherNamespace(pid) || cmd.includes(REPO) || cmd.includes(join(tmpdir(), 'tspod-'));
  });
  return [
    ...processes.map((p) => `process ${p}: ${cmdline(Number(p.split(' ')[0]))}`),
    ...added(before.mounts, now.mounts).map((m) => `mount ${m}`),
    ...added(before.links, now.links).map((l) => `link ${l}`),
    ...added(before.rules, now.rules).map((r) => `rule added: ${r}`),
    ...added(now.rules, before.rules).map((r) => `rule removed: ${r}`),
    ...added(before.sysctls, now.sysctls).map(
      (s) => `sysctl ${s} (was ${before.sysctls.find((b) => b.startsWith(s.split('=')[0] + '='))})`,
    ),
    ...added(before.cgroups, now.cgroups).map((c) => `cgroup ${c}`),
    ...added(before.files, now.files).map((f) => `file ${f}`),
  ];
}
