// tspod pod create / pod ls.
import { InputError } from '../errors.js';
import { ensureMonitor } from '../monitor/client.js';
import { newPodSpec } from '../pod/spec.js';
import { stateRoot } from '../state/paths.js';
import { StateStore } from '../state/store.js';
import { observed } from '../state/view.js';
import { kickMonitor } from './monitor-kick.js';
import { applyNetworkOptions, labelOption, programOption, secondsOption, shareOption } from './options.js';
import { READ_WHY, requireRoot } from './errors.js';
import { age, formatTable } from './table.js';

export interface PodCreateOptions {
  share?: string;
  pause?: string;
  hostname?: string;
  grace?: string;
  network?: string;
  publish: string[];
  root?: string;
}

/** A pod with only its infra process, which lives until it is stopped or removed. */
export async function podCreate(name: string, o: PodCreateOptions): Promise<number> {
  const spec = newPodSpec(labelOption('NAME', name));
  if (o.hostname !== undefined) spec.hostname = labelOption('--hostname', o.hostname);
  if (o.share !== undefined) spec.share = shareOption(o.share);
  if (o.grace !== undefined) spec.terminationGracePeriodSeconds = secondsOption('--grace', o.grace);
  if (o.pause !== undefined) spec.pause = programOption('--pause', o.pause);
  applyNetworkOptions(spec, o.network, o.publish ?? []);
  requireRoot('tspod pod create');
  const client = await ensureMonitor(new StateStore(stateRoot(o.root)));
  await client.call('POST', '/pods', { spec, persistent: true });
  process.stdout.write(`${name}\n`);
  return 0;
}

export async function podList(o: { json?: boolean; root?: string }): Promise<number> {
  requireRoot('tspod pod ls', READ_WHY);
  const store = new StateStore(stateRoot(o.root));
  const records = store.list();
  await kickMonitor(store.paths, records);
  const pods = records.map(observed).map((r) => ({
    name: r.name,
    state: r.state,
    infraPid: r.infra && (r.state === 'running' || r.state === 'creating') ? r.infra.process.pid : null,
    containers: r.containers.length,
    running: r.containers.filter((c) => c.state === 'running').length,
    share: r.spec.share,
    supervisor: r.supervisor.kind,
    createdAt: r.createdAt,
    reason: r.reason ?? null,
  }));
  if (o.json) {
    process.stdout.write(JSON.stringify(pods, null, 2) + '\n');
    return 0;
  }
  process.stdout.write(
    formatTable(
      ['NAME', 'STATE', 'INFRA PID', 'CONTAINERS', 'SHARED', 'SUPERVISOR', 'AGE', 'REASON'],
      pods.map((p) => [
        p.name,
        p.state,
        p.infraPid === null ? '-' : String(p.infraPid),
        `${p.running}/${p.containers}`,
        p.share.join(',') || '-',
        p.supervisor,
        age(p.createdAt),
        p.reason ?? '',
      ]),
    ),
  );
  return 0;
}

export function noExtraArgs(command: string, args: string[]): void {
  if (args.length) throw new InputError(command, `unexpected argument "${args[0]}"`);
}
