// The bench's sections besides the pod cycle: start-up, memory per pod, scale, pause. Each
// returns plain data for the JSON file; report.ts turns it into tables.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBinding, MonitorClient, PodHost, startInfra, StatePaths, StateStore, type PodRecord } from 'tspod';
import { benchEnv, benchLog, memoryOf, now, Samples, sumMemory, timeCommand, type Memory, type Stats } from './measure.js';
import { onPath, podSpec, PORT } from './cycle.js';
import { concise } from './oci.js';
import type { Programs } from './programs.js';

/** Runs each command once per round, in turn (A B C A B C ...), `rounds` times. */
export function interleave(commands: Record<string, string[]>, rounds: number, env: NodeJS.ProcessEnv): Record<string, Stats> {
  const samples = Object.fromEntries(Object.keys(commands).map((k) => [k, new Samples()]));
  for (let i = 0; i < rounds; i++) {
    for (const [name, argv] of Object.entries(commands)) {
      try {
        samples[name].add(timeCommand(argv, env).ms);
      } catch (err) {
        samples[name].fail(err);
      }
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([k, s]) => [k, s.stats()]));
}

export function startup(p: Programs, rounds: number): Record<string, Stats> {
  return interleave(
    {
      'node -e 0': [process.execPath, '-e', '0'],
      'node --version': [process.execPath, '--version'],
      'tspod --version': [process.execPath, p.cli, '--version'],
    },
    rounds,
    benchEnv(),
  );
}

/** A one-container pod (the TCP server) for the memory and scale sections. */
export function serverManifest(p: Programs, dir: string): string {
  const file = `${dir}/server.yaml`;
  writeFileSync(
    file,
    `apiVersion: v1
kind: Pod
metadata:
  name: server
spec:
  terminationGracePeriodSeconds: 5
  containers:
    - name: server
      command: [${p.tcp}, serve, "${PORT}"]
`,
  );
  return file;
}

export interface MemoryRow {
  tool: string;
  pods: number;
  /** Everything the tool leaves running for its pods (monitor, infra, conmon), per pod. */
  perPod: Memory;
  /** The parts, in total, as measured. */
  parts: Record<string, Memory>;
}

/** Pods started with `tspod run -d`, `parallel` commands at a time; their names, and the time. */
export function startCliPods(
  p: Programs,
  root: string,
  manifest: string,
  prefix: string,
  count: number,
  parallel: number,
): { names: string[]; ms: number } {
  const names = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  const start = now();
  // xargs fails if any of the commands did.
  timeCommand(
    ['xargs', '-P', String(parallel), '-I{}', process.execPath, p.cli, 'run', '-d', '-f', manifest, '--name', '{}'],
    benchEnv({ TSPOD_ROOT: root }),
    names.join('\n'),
  );
  return { names, ms: now() - start };
}

export async function removeCliPods(root: string, names: string[]): Promise<void> {
  const client = new MonitorClient(new StatePaths(root));
  for (const name of names) {
    try {
      await client.removePod({ pod: name, query: { force: true } });
    } catch {
      // already gone
    }
  }
}

export function monitorPid(root: string): number {
  return (JSON.parse(readFileSync(new StatePaths(root).monitorFile, 'utf8')) as { pid: number }).pid;
}

/** RSS and PSS of the monitor and of every infra and container process of the pods. */
export function tspodMemory(root: string, names: string[]): MemoryRow {
  const store = new StateStore(root);
  const records = names.map((n) => store.read(n)).filter((r): r is PodRecord => r !== undefined);
  const infra = records.flatMap((r) => (r.infra ? [r.infra.process.pid] : []));
  const containers = records.flatMap((r) => r.containers.flatMap((c) => (c.process ? [c.process.pid] : [])));
  const monitor = memoryOf(monitorPid(root));
  const pause = sumMemory(infra);
  const n = names.length;
  return {
    tool: 'tspod',
    pods: n,
    perPod: { rssKb: (monitor.rssKb + pause.rssKb) / n, pssKb: (monitor.pssKb + pause.pssKb) / n },
    parts: { monitor, [`pause ×${infra.length}`]: pause, [`workload ×${containers.length} (not counted)`]: sumMemory(containers) },
  };
}

/** podman's pods: its conmon processes and infra (catatonit), per pod; no daemon. */
export function podmanMemory(base: string, count: number): MemoryRow | { tool: string; skip: string } {
  if (!onPath('podman')) return { tool: 'podman', skip: 'podman is not installed' };
  const args = ['--root', `${base}/storage`, '--runroot', `${base}/run`, '--cgroup-manager', 'cgroupfs', '--events-backend', 'none'];
  const podman = (...a: string[]) => concise('podman', a, () => timeCommand(['podman', ...args, ...a], benchEnv())).stdout;
  const pods = Array.from({ length: count }, (_, i) => `bench-mem${i}`);
  try {
    for (const pod of pods) {
      podman('pod', 'create', '--name', pod, '--share', 'net,ipc,uts,pid', '--network', 'none');
      podman('run', '-d', '--pod', pod, '--name', `${pod}-server`, 'localhost/tspod-bench:latest', '/bench-tcp', 'serve', PORT);
    }
    const conmon: number[] = [];
    const infra: number[] = [];
    const workload: number[] = [];
    for (const line of podman('ps', '-a', '--format', '{{.ID}} {{.IsInfra}}').trim().split('\n')) {
      const [id, isInfra] = line.split(' ');
      const [pid, conmonPid] = podman('inspect', '--format', '{{.State.Pid}} {{.State.ConmonPid}}', id).trim().split(' ').map(Number);
      conmon.push(conmonPid);
      (isInfra === 'true' ? infra : workload).push(pid);
    }
    const c = sumMemory(conmon);
    const i = sumMemory(infra);
    return {
      tool: 'podman',
      pods: count,
      perPod: { rssKb: (c.rssKb + i.rssKb) / count, pssKb: (c.pssKb + i.pssKb) / count },
      parts: {
        [`conmon ×${conmon.length}`]: c,
        [`infra ×${infra.length}`]: i,
        [`workload ×${workload.length} (not counted)`]: sumMemory(workload),
      },
    };
  } catch (err) {
    return { tool: 'podman', skip: (err as Error).message };
  } finally {
    for (const pod of pods) {
      try {
        podman('pod', 'rm', '-f', '-t', '0', pod);
      } catch {
        // not created
      }
    }
  }
}

export interface ScaleResult {
  pods: number;
  library: { createPerSec: number; removePerSec: number; failures: number };
  cli: { createPerSec: number; parallel: number };
  ps: Record<string, Stats>;
}

/** `count` pods through PodHost in this process: created one after another, then removed. */
export async function libraryScale(p: Programs, root: string, count: number): Promise<ScaleResult['library']> {
  const store = new StateStore(root);
  store.ensureRoot();
  const host = new PodHost(store, loadBinding(), { kind: 'monitor', pid: process.pid, startTime: '' }, benchLog);
  let failures = 0;
  const t0 = now();
  let t1 = t0;
  let created = 0;
  try {
    for (let i = 0; i < count; i++) {
      const spec = podSpec(p, `lib${i}`);
      spec.containers = spec.containers.slice(0, 1); // the server alone
      try {
        await host.create(spec);
      } catch (err) {
        failures++;
        if (failures === 1) process.stderr.write(`bench: library scale: ${(err as Error).message}\n`);
      }
    }
  } finally {
    t1 = now();
    created = host.pods.size;
    for (const name of [...host.pods.keys()]) await host.remove(name, true);
  }
  const t2 = now();
  if (!created) return { createPerSec: 0, removePerSec: 0, failures };
  return { createPerSec: (created / (t1 - t0)) * 1000, removePerSec: (created / (t2 - t1)) * 1000, failures };
}

export interface PauseRow {
  arch: string;
  path: string;
  bytes: number;
  rssKb?: number;
}

/** pause's size per arch built, and its RSS as the PID 1 of a pod (native arch only). */
export async function pauseSizes(p: Programs): Promise<PauseRow[]> {
  const native = process.arch === 'x64' ? 'x86_64' : 'aarch64';
  const arm = join(__dirname, '../../build-arm64/pause');
  const rows: PauseRow[] = [{ arch: native, path: p.pause, bytes: statSync(p.pause).size }];
  try {
    if (native === 'x86_64') rows.push({ arch: 'aarch64', path: arm, bytes: statSync(arm).size });
  } catch {
    // not cross-built here (.ci/build-arm64 does)
  }
  const binding = loadBinding();
  const infra = await startInfra(binding, { hostname: 'bench', stdio: [0, 1, 2] });
  try {
    rows[0].rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${infra.pid}/status`, 'utf8'))?.[1]);
  } finally {
    infra.signal(15);
    await infra.exited;
  }
  return rows;
}

export interface ProbeCost {
  pods: number;
  seconds: number;
  /** The monitor's CPU over the window, as % of one CPU: its own, and its children's (exec probes, reaped by it). */
  rows: { what: string; monitorPct: number; childrenPct: number }[];
}

/** utime+stime and cutime+cstime of a process, in seconds (/proc/PID/stat, in clock ticks of 1/100 s). */
function cpuSeconds(pid: number): { self: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  // Fields 14-17 of stat(5), counted from after the name: 11-14.
  return { self: (f[11] + f[12]) / 100, children: (f[13] + f[14]) / 100 };
}

/** A pod of one HTTP server, with (or without) an exec liveness probe every 10 s and an httpGet readiness probe every 5 s. */
function probedManifest(p: Programs, dir: string, probes: boolean): string {
  const file = `${dir}/probed-${probes}.yaml`;
  const probeLines = probes
    ? `
      livenessProbe: { exec: { command: [/bin/true] }, periodSeconds: 10 }
      readinessProbe: { httpGet: { port: ${PORT}, path: / }, periodSeconds: 5 }`
    : '';
  writeFileSync(
    file,
    `apiVersion: v1
kind: Pod
metadata:
  name: probed
spec:
  terminationGracePeriodSeconds: 5
  containers:
    - name: server
      command: [${p.tcp}, http, "${PORT}"]${probeLines}
`,
  );
  return file;
}

/**
 * The monitor's CPU with `pods` pods, each probed as issue 17 asks (exec liveness every 10 s,
 * httpGet readiness every 5 s), beside the same pods without probes, over `seconds` each.
 */
export async function probeCost(p: Programs, root: string, dir: string, pods: number, seconds: number): Promise<ProbeCost> {
  const rows: ProbeCost['rows'] = [];
  for (const probes of [false, true]) {
    const { names } = startCliPods(p, root, probedManifest(p, dir, probes), probes ? 'probed' : 'plain', pods, 4);
    try {
      const store = new StateStore(root);
      // Once every pod is ready (the readiness probe answered), for a window of probes only.
      const deadline = now() + 60_000;
      while (!names.every((n) => store.read(n)?.containers[0]?.ready) && now() < deadline) await new Promise((r) => setTimeout(r, 200));
      const pid = monitorPid(root);
      const before = cpuSeconds(pid);
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const after = cpuSeconds(pid);
      rows.push({
        what: probes ? 'exec liveness every 10 s + httpGet readiness every 5 s' : 'no probes',
        monitorPct: ((after.self - before.self) / seconds) * 100,
        childrenPct: ((after.children - before.children) / seconds) * 100,
      });
    } finally {
      await removeCliPods(root, names);
    }
  }
  return { pods, seconds, rows };
}
