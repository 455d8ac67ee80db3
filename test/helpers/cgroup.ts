// Where a pod's cgroups are, read from its record, for tests that check the limits in force.
import type { Controller } from '../../src/cgroup/hierarchy.js';
import type { PodRecord } from '../../src/state/records.js';

/** The directory of a container's cgroup in whichever tree holds `controller` for the pod. */
export function controllerDir(rec: PodRecord, controller: Controller, ctr: string): string {
  const cg = rec.cgroup!;
  const mount = cg.v1?.[controller] ?? (cg.v2?.includes(controller) ? cg.mount : undefined);
  if (!mount) throw new Error(`pod ${rec.name}: no ${controller} controller in its record`);
  return `${mount}${cg.name}/ctr-${ctr}`;
}

/** The memory limit file of a container's cgroup: v1's or v2's, as the pod has it. */
export function memoryLimitFile(rec: PodRecord, ctr: string): string {
  return `${controllerDir(rec, 'memory', ctr)}/${rec.cgroup!.v1?.memory ? 'memory.limit_in_bytes' : 'memory.max'}`;
}
