// tspod stats and tspod top: what running containers use, and which processes they are, read
// from their cgroups (cgroup/stats.ts) with the records of the state directory: no monitor is
// asked, and a pod in the foreground is seen as well as a detached one.
import { readFileSync } from 'node:fs';
import { TspodError } from '../errors.js';
import { processes, usage, type Usage } from '../cgroup/stats.js';
import { checkLabel } from '../pod/names.js';
import { stateRoot } from '../state/paths.js';
import type { PodRecord } from '../state/records.js';
import { StateStore, containerOf } from '../state/store.js';
import { observed, observedAll } from '../state/view.js';
import { print, skipped } from './print.js';
import { READ_WHY, requireRoot } from './root.js';
import { formatTable } from './table.js';

/** One row of tspod stats: a container, or a pod's total ("(pod)" as its container). */
export interface StatsRow extends Usage {
  pod: string;
  container: string;
  /** cpu time over the interval, in percent of one cpu; null for a first sample. */
  cpuPercent: number | null;
  memoryPercent: number | null;
}

interface Sample {
  at: bigint;
  rows: (Usage & { pod: string; container: string })[];
}

/** Podman's interval: one second between samples. */
const INTERVAL_MS = 1000;

function sample(records: PodRecord[], container: string | undefined): Sample {
  const at = process.hrtime.bigint();
  const rows: Sample['rows'] = [];
  for (const record of records) {
    const cg = record.cgroup;
    if (!cg || record.state !== 'running') continue;
    // A container that ended (its cgroup removed) between the listing and the read is left out.
    const add = (name: string, member: string | null) => {
      try {
        rows.push({ pod: record.name, container: name, ...usage(cg, member) });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    };
    for (const c of record.containers) {
      if (c.state === 'running' && (container === undefined || c.name === container)) add(c.name, c.name);
    }
    if (container === undefined) add('(pod)', null);
  }
  return { at, rows };
}

function rowsBetween(before: Sample | undefined, now: Sample): StatsRow[] {
  const elapsedUsec = before ? Number(now.at - before.at) / 1000 : 0;
  return now.rows.map((r) => {
    const prev = before?.rows.find((p) => p.pod === r.pod && p.container === r.container);
    // A restarted container has a new cgroup, whose counter starts again from 0.
    const used = prev && r.cpuUsec >= prev.cpuUsec ? r.cpuUsec - prev.cpuUsec : undefined;
    return {
      ...r,
      cpuPercent: used === undefined || elapsedUsec <= 0 ? null : (100 * used) / elapsedUsec,
      memoryPercent: r.memoryBytes !== null && r.memoryLimitBytes ? (100 * r.memoryBytes) / r.memoryLimitBytes : null,
    };
  });
}

/** 1.5KiB, 64MiB, 2GiB: sizes as their limits are mostly written. */
export function size(bytes: number | null): string {
  if (bytes === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = bytes;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)}${units[i]}`;
}

const percent = (v: number | null) => (v === null ? '-' : `${v.toFixed(2)}%`);

function table(rows: StatsRow[]): string {
  return formatTable(
    ['POD', 'CONTAINER', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'PIDS'],
    rows.map((r) => [
      r.pod,
      r.container,
      percent(r.cpuPercent),
      `${size(r.memoryBytes)} / ${r.memoryLimitBytes === null ? 'no limit' : size(r.memoryLimitBytes)}`,
      percent(r.memoryPercent),
      r.pidsLimit === null ? String(r.pids) : `${r.pids}/${r.pidsLimit}`,
    ]),
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function stats(
  pod: string | undefined,
  container: string | undefined,
  o: { noStream?: boolean; stream?: boolean; json?: boolean; root?: string },
): Promise<number> {
  requireRoot('tspod stats', READ_WHY);
  const store = new StateStore(stateRoot(o.root));
  if (pod !== undefined) checkLabel('pod', pod);
  if (container !== undefined) checkLabel('container', container);
  const load = () => {
    if (pod === undefined) return observedAll(store.list(skipped));
    const record = observed(store.need(pod));
    if (!record.cgroup) throw new TspodError(`pod "${pod}" has no cgroups: nothing to read its usage from`);
    if (container !== undefined) containerOf(record, container);
    return [record];
  };
  // commander gives --no-stream as stream: false.
  const once = o.noStream === true || o.stream === false;
  let before = sample(load(), container);
  for (;;) {
    await sleep(INTERVAL_MS);
    const now = sample(load(), container);
    const rows = rowsBetween(before, now);
    before = now;
    if (o.json) print(JSON.stringify(rows, null, once ? 2 : undefined) + '\n');
    else print((process.stdout.isTTY && !once ? '\x1b[H\x1b[2J' : '') + table(rows));
    if (once) return 0;
  }
}

/** One process of tspod top. */
export interface TopRow {
  /** As the host sees it. */
  pid: number;
  /** As the pod sees it (its PID namespace; the same as pid on the host's). */
  podPid: number;
  uid: number;
  state: string;
  command: string;
}

function topRow(pid: number): TopRow | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const line = (key: string) => new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '';
    const nspids = line('NSpid').split(/\s+/).map(Number);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return {
      pid,
      podPid: nspids[nspids.length - 1],
      uid: Number(line('Uid').split(/\s+/)[0]),
      state: line('State').split(' ')[0],
      command: argv.length ? argv.join(' ') : `[${line('Name')}]`,
    };
  } catch {
    return undefined; // gone since the listing
  }
}

export async function top(pod: string, container: string, o: { json?: boolean; root?: string }): Promise<number> {
  requireRoot('tspod top', READ_WHY);
  const store = new StateStore(stateRoot(o.root));
  const record = observed(store.need(checkLabel('pod', pod)));
  const c = containerOf(record, checkLabel('container', container));
  if (!record.cgroup) throw new TspodError(`pod "${pod}" has no cgroups: its containers' processes cannot be listed`);
  if (c.state !== 'running') throw new TspodError(`container ${container} of pod ${pod} is not running (${c.state})`);
  const rows = processes(record.cgroup, container)
    .sort((a, b) => a - b)
    .flatMap((pid) => topRow(pid) ?? []);
  if (o.json) print(JSON.stringify(rows, null, 2) + '\n');
  else
    print(
      formatTable(
        ['PID', 'POD PID', 'UID', 'STATE', 'COMMAND'],
        rows.map((r) => [String(r.pid), String(r.podPid), String(r.uid), r.state, r.command]),
      ),
    );
  return 0;
}
