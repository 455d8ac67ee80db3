// tspod ps: containers and the infra process of each pod, from the state on disk (no monitor
// needed). A record whose supervisor is alive is current; in one whose supervisor is gone,
// each "running" process is checked against /proc first (state/view.ts).
import { READ_WHY, requireRoot } from './root.js';
import { checkLabel } from '../pod/names.js';
import { stateRoot } from '../state/paths.js';
import type { ContainerRecord, PodRecord } from '../state/records.js';
import { StateStore } from '../state/store.js';
import { observedAll, podReady, podStatus } from '../state/view.js';
import { kickMonitor } from './monitor-kick.js';
import { age, formatTable } from './table.js';
import { print, skipped } from './print.js';

export interface PsRow {
  pod: string;
  container: string;
  infra: boolean;
  pid: number | null;
  state: string;
  exitCode: number | null;
  signal: string | null;
  exitUnknown: boolean;
  restarts: number;
  startedAt: string | null;
  /** A container: Kubernetes' ready (null when it does not run). The infra: its pod's ready containers, "1/2". */
  ready: boolean | string | null;
  /** init or sidecar for one of the pod's initContainers; app; infra. */
  kind: string;
  info: string;
}

function exitText(r: PsRow): string {
  if (r.state === 'running') return '-';
  if (r.exitUnknown) return '?';
  if (r.exitCode !== null) return String(r.exitCode);
  return r.signal ?? '-';
}

function containerInfo(c: ContainerRecord): string {
  const kind = c.kind === 'init' ? 'init container' : c.kind === 'sidecar' ? 'sidecar' : '';
  return [kind, stateInfo(c)].filter((s) => s).join(', ');
}

function stateInfo(c: ContainerRecord): string {
  if (c.held) return 'PodInitializing';
  if (c.state === 'waiting' && c.lastError)
    return `start failed: ${c.lastError.code ?? ''} ${c.lastError.syscall ?? ''} ${c.lastError.path ?? ''}`.replace(/\s+/g, ' ').trim();
  if (c.lastError) return c.lastError.message;
  const reason = c.lastExit?.reason ?? '';
  if (c.state === 'waiting' && c.nextStartAt)
    return `${reason ? `${reason}, ` : ''}restart in ${Math.max(0, Math.ceil((Date.parse(c.nextStartAt) - Date.now()) / 1000))}s`;
  if (c.stoppedByUser) return 'stopped';
  if (reason) return reason;
  if (c.lastExit?.unknown) return 'exit status not observed (its parent was a supervisor that has gone)';
  return '';
}

function psRows(records: PodRecord[], all: boolean): PsRow[] {
  const rows: PsRow[] = [];
  for (const record of observedAll(records)) {
    const live = record.state === 'running' || record.state === 'creating';
    if (!all && !live) continue;
    if (record.infra) {
      const exit = record.infra.exit;
      rows.push({
        pod: record.name,
        container: '(infra)',
        infra: true,
        pid: live ? record.infra.process.pid : null,
        state: live ? 'running' : 'exited',
        exitCode: exit?.code ?? null,
        signal: exit?.signal ?? null,
        exitUnknown: exit?.unknown ?? false,
        restarts: 0,
        startedAt: record.createdAt,
        ready: podReady(record),
        kind: 'infra',
        info: live ? podStatus(record) : (record.reason ?? ''),
      });
    }
    for (const c of record.containers) {
      if (!all && c.state === 'exited') continue;
      rows.push({
        pod: record.name,
        container: c.name,
        infra: false,
        pid: c.state === 'running' ? (c.process?.pid ?? null) : null,
        state: c.state,
        exitCode: c.lastExit?.code ?? null,
        signal: c.lastExit?.signal ?? null,
        exitUnknown: c.lastExit?.unknown ?? false,
        restarts: c.restartCount,
        startedAt: c.startedAt ?? null,
        ready: c.state === 'running' ? (c.ready ?? false) : null,
        kind: c.kind ?? 'app',
        info: containerInfo(c),
      });
    }
  }
  return rows;
}

export async function ps(opts: { all?: boolean; pod?: string; json?: boolean; root?: string }): Promise<number> {
  const store = new StateStore(stateRoot(opts.root));
  requireRoot('tspod ps', READ_WHY);
  const records = opts.pod !== undefined ? [store.need(checkLabel('--pod', opts.pod))] : store.list(skipped);
  kickMonitor(store.paths, records);
  const rows = psRows(records, opts.all ?? false);
  if (opts.json) {
    print(JSON.stringify(rows, null, 2) + '\n');
    return 0;
  }
  print(
    formatTable(
      ['POD', 'CONTAINER', 'PID', 'STATE', 'READY', 'EXIT', 'RESTARTS', 'AGE', 'INFO'],
      rows.map((r) => [
        r.pod,
        r.container,
        r.pid === null ? '-' : String(r.pid),
        r.state,
        typeof r.ready === 'string' ? r.ready : r.ready === null ? '-' : r.ready ? 'yes' : 'no',
        exitText(r),
        r.infra ? '-' : String(r.restarts),
        age(r.startedAt ?? undefined),
        r.info,
      ]),
    ),
  );
  return 0;
}
