// tspod pod create: a pod with only its infra, made by the monitor; containers join it later
// with run -d --pod.
import { monitorClient } from '../monitor/client.js';
import { checkLabel } from '../pod/names.js';
import { newPodSpec } from '../pod/spec.js';
import { StatePaths, stateRoot } from '../state/paths.js';
import { applyNetworkOptions, programOption, secondsOption, shareOption } from './options.js';
import { requireRoot } from './errors.js';
import { print } from './print.js';

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
  const spec = newPodSpec(checkLabel('NAME', name));
  if (o.hostname !== undefined) spec.hostname = checkLabel('--hostname', o.hostname);
  if (o.share !== undefined) spec.share = shareOption(o.share);
  if (o.grace !== undefined) spec.terminationGracePeriodSeconds = secondsOption('--grace', o.grace);
  if (o.pause !== undefined) spec.pause = programOption('--pause', o.pause);
  applyNetworkOptions(spec, o.network, o.publish ?? []);
  requireRoot('tspod pod create');
  const client = monitorClient(new StatePaths(stateRoot(o.root)));
  await client.createPod({ body: { spec, persistent: true } });
  print(`${name}\n`);
  return 0;
}
