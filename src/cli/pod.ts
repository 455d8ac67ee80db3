// tspod pod: create (a pod with only its infra, made by the monitor; containers join it later
// with run -d --pod), ls (from the state, no monitor needed), check (CNI CHECK of a pod's
// attachment, from its cache). What only create needs (the option checks, the monitor's client
// and node:net) is loaded when it runs: pod ls stays a read of the state.
import { readFileSync } from 'node:fs';
import { Conflict } from '../errors.js';
import { checkLabel } from '../pod/names.js';
import { newPodSpec } from '../pod/spec.js';
import { StatePaths, stateRoot } from '../state/paths.js';
import { StateStore } from '../state/store.js';
import { observedAll, podReady, podStatus } from '../state/view.js';
import { kickMonitor } from './monitor-kick.js';
import { print, skipped } from './print.js';
import { READ_WHY, requireRoot } from './root.js';
import { age, formatTable } from './table.js';

export interface PodCreateOptions {
  share?: string;
  pause?: string;
  hostname?: string;
  grace?: string;
  network?: string;
  publish: string[];
  cpus?: string;
  memory?: string;
  pidsLimit?: string;
  cgroupParent?: string;
  sysctl?: string[];
  pid?: string;
  ipc?: string;
  uts?: string;
  timeOffset?: string;
  root?: string;
}

/** A pod with only its infra process, which lives until it is stopped or removed. */
export async function podCreate(name: string, o: PodCreateOptions): Promise<number> {
  const {
    applyNetworkOptions,
    applyResourceOptions,
    applyNamespaceOptions,
    cgroupParentOption,
    programOption,
    secondsOption,
    shareOption,
  } = require('./options.js') as typeof import('./options.js');
  const { monitorClient } = require('../monitor/client.js') as typeof import('../monitor/client.js');
  const spec = newPodSpec(checkLabel('NAME', name));
  if (o.hostname !== undefined) spec.hostname = checkLabel('--hostname', o.hostname);
  if (o.share !== undefined) spec.share = shareOption(o.share);
  if (o.grace !== undefined) spec.terminationGracePeriodSeconds = secondsOption('--grace', o.grace);
  if (o.pause !== undefined) spec.pause = programOption('--pause', o.pause);
  applyNetworkOptions(spec, o.network, o.publish ?? []);
  applyResourceOptions(spec, o);
  if (o.cgroupParent !== undefined) spec.cgroupParent = cgroupParentOption('--cgroup-parent', o.cgroupParent);
  applyNamespaceOptions(spec, o);
  requireRoot('tspod pod create');
  const client = monitorClient(new StatePaths(stateRoot(o.root)));
  await client.createPod({ body: { spec, persistent: true } });
  print(`${name}\n`);
  return 0;
}

export async function podList(o: { json?: boolean; root?: string }): Promise<number> {
  requireRoot('tspod pod ls', READ_WHY);
  const store = new StateStore(stateRoot(o.root));
  const records = store.list(skipped);
  kickMonitor(store.paths, records);
  const pods = observedAll(records).map((r) => ({
    name: r.name,
    state: r.state,
    infraPid: r.infra && (r.state === 'running' || r.state === 'creating') ? r.infra.process.pid : null,
    status: podStatus(r),
    ready: podReady(r),
    containers: r.containers.length,
    running: r.containers.filter((c) => c.state === 'running').length,
    share: r.spec.share,
    supervisor: r.supervisor.kind,
    network: r.network?.mode ?? 'pod',
    ip: r.network?.podIP ?? null,
    createdAt: r.createdAt,
    reason: r.reason ?? null,
  }));
  if (o.json) {
    print(JSON.stringify(pods, null, 2) + '\n');
    return 0;
  }
  print(
    formatTable(
      ['NAME', 'STATE', 'STATUS', 'READY', 'INFRA PID', 'CONTAINERS', 'SHARED', 'NETWORK', 'IP', 'SUPERVISOR', 'AGE', 'REASON'],
      pods.map((p) => [
        p.name,
        p.state,
        p.status,
        p.ready,
        p.infraPid === null ? '-' : String(p.infraPid),
        `${p.running}/${p.containers}`,
        p.share.join(',') || '-',
        p.network,
        p.ip ?? '-',
        p.supervisor,
        age(p.createdAt),
        p.reason ?? '',
      ]),
    ),
  );
  return 0;
}

/** tspod pod check: CNI CHECK of the pod's attachment, from its cache (no monitor needed). */
export async function podCheck(name: string, o: { root?: string }): Promise<number> {
  requireRoot('tspod pod check', 'CNI plugins run as root');
  const store = new StateStore(stateRoot(o.root));
  const record = store.need(name);
  if (record.network?.mode !== 'cni')
    throw new Conflict(`pod "${name}" is not on a CNI network (its network: ${record.network?.mode ?? 'pod'})`);
  const cni = require('../net/cni.js') as typeof import('../net/cni.js');
  const cache = store.paths.podNetwork(name);
  let text: string;
  try {
    text = readFileSync(cache, 'utf8');
  } catch {
    throw new Conflict(`pod "${name}" has no CNI attachment (${cache}): it is not attached`);
  }
  await cni.check(cni.fromCache(text, cache));
  print(`pod ${name}: its CNI attachment${record.network.podIP ? ` (${record.network.podIP})` : ''} is intact\n`);
  return 0;
}
