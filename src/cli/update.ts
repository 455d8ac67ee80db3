// tspod update: a running container's limits, changed in place (podman update; CRI's
// UpdateContainerResources). The monitor does it for the pods it supervises: it writes the
// container's cgroup files and keeps the new limits in its spec for later starts.
import { InputError } from '../errors.js';
import { monitorClient } from '../monitor/client.js';
import { checkLabel } from '../pod/names.js';
import type { Resources } from '../pod/resources.js';
import { StatePaths, stateRoot } from '../state/paths.js';
import { applyResourceOptions, type ResourceOptions } from './options.js';
import { requireRoot } from './root.js';

export async function update(pod: string, container: string, o: ResourceOptions & { root?: string }): Promise<number> {
  const names = { pod: checkLabel('pod', pod), container: checkLabel('container', container) };
  const change: { resources?: Resources; pidsLimit?: number } = {};
  applyResourceOptions(change, o);
  if (!change.resources && change.pidsLimit === undefined) throw new InputError('update', 'give --cpus, --memory or --pids-limit');
  requireRoot('tspod update');
  const client = monitorClient(new StatePaths(stateRoot(o.root)));
  await client.updateResources({
    ...names,
    body: {
      ...(change.resources?.limits ? { limits: change.resources.limits } : {}),
      ...(change.pidsLimit ? { pidsLimit: change.pidsLimit } : {}),
    },
  });
  return 0;
}
