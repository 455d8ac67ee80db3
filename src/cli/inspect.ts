// tspod inspect: a pod's (or one container's) record as it is now, with the namespace inodes
// of every running process, read from /proc, and whose each one is (the host's, the infra's,
// or the process's own), so a user can check the sharing.
import { statSync } from 'node:fs';
import { stateRoot } from '../state/paths.js';
import { StateStore, containerOf } from '../state/store.js';
import { observed } from '../state/view.js';
import { withoutExecContext } from '../state/records.js';
import { isRunning, type ProcessId } from '../native/identity.js';
import { READ_WHY, requireRoot } from './root.js';
import type { ResourceList, Resources } from '../pod/resources.js';
import { print } from './print.js';
import { sourceText } from '../pod/namespaces.js';

const NAMESPACES = ['net', 'ipc', 'uts', 'pid', 'mnt', 'cgroup', 'time', 'user'] as const;

type Inodes = Record<string, number>;

/** Inodes of /proc/PID/ns/* ('self': this command's, the host's), while that process (pid and start time) still runs. */
function namespaces(p: ProcessId | 'self' | undefined): Inodes | null {
  if (!p || (p !== 'self' && !isRunning(p))) return null;
  const out: Inodes = {};
  try {
    // A kernel without one (time before 5.6) leaves it out.
    for (const ns of NAMESPACES) out[ns] = statSync(`/proc/${p === 'self' ? 'self' : p.pid}/ns/${ns}`, { throwIfNoEntry: false })?.ino ?? 0;
  } catch {
    return null;
  }
  return out;
}

/** Whose each namespace is: the host's (this command's), the infra's, or the process's own. */
function sharing(ns: Inodes | null, host: Inodes | null, infra: Inodes | null): Record<string, string> | null {
  if (!ns) return null;
  const whose = (n: string) => (host?.[n] === ns[n] ? 'host' : infra && infra !== ns && infra[n] === ns[n] ? 'infra' : 'own');
  return Object.fromEntries(NAMESPACES.filter((n) => ns[n]).map((n) => [n, whose(n)]));
}

function nsLine(ns: Inodes | null, shared: Record<string, string> | null): string {
  return ns && shared
    ? NAMESPACES.filter((n) => ns[n])
        .map((n) => `${n}:[${ns[n]}](${shared[n]})`)
        .join(' ')
    : '-';
}

/** "requests cpu 250m; limits cpu 1, memory 256Mi; pids 100", or '' for none. */
function resourcesLine(spec: { resources?: Resources; pidsLimit?: number }): string {
  const list = (l: ResourceList | undefined) =>
    Object.entries(l ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  const parts = [];
  if (list(spec.resources?.requests)) parts.push(`requests ${list(spec.resources?.requests)}`);
  if (list(spec.resources?.limits)) parts.push(`limits ${list(spec.resources?.limits)}`);
  if (spec.pidsLimit !== undefined) parts.push(`pids ${spec.pidsLimit}`);
  return parts.join('; ');
}

export async function inspect(pod: string, container: string | undefined, o: { json?: boolean; root?: string }): Promise<number> {
  requireRoot('tspod inspect', READ_WHY);
  const store = new StateStore(stateRoot(o.root));
  const record = observed(store.need(pod));
  if (container !== undefined) containerOf(record, container);
  const host = namespaces('self');
  const infraNs = namespaces(record.infra?.process);
  const containers = record.containers
    .filter((c) => container === undefined || c.name === container)
    .map((c) => {
      const ns = c.state === 'running' ? namespaces(c.process) : null;
      return { ...c, namespaces: ns, sharing: sharing(ns, host, infraNs) };
    });
  const infraSharing = sharing(infraNs, host, null);
  // The infra's joined ones are another's: say whose.
  for (const [ns, source] of Object.entries(record.spec.joinNamespaces ?? {})) {
    if (infraSharing && infraSharing[ns] === 'own') infraSharing[ns] = sourceText(source);
  }
  const view = { ...record, infra: record.infra && { ...record.infra, namespaces: infraNs, sharing: infraSharing }, containers };
  if (o.json) {
    print(
      JSON.stringify(
        container === undefined ? view : { pod: record.name, infra: view.infra, container: containers[0] },
        withoutExecContext,
        2,
      ) + '\n',
    );
    return 0;
  }
  const { spec, network } = record;
  const reason = record.reason ? ` (${record.reason})` : '';
  const pause = spec.pause ? `; infra program ${spec.pause}` : '';
  const users = spec.userNamespace
    ? `; user namespace: host ids ${spec.userNamespace.hostId}-${spec.userNamespace.hostId + spec.userNamespace.size - 1}`
    : '';
  const ports = network?.ports.map((p) => `${p.hostIP ? `${p.hostIP}:` : ''}${p.hostPort}->${p.containerPort}/${p.protocol}`) ?? [];
  const lines = [
    `pod ${record.name}: ${record.state}${reason}, ` +
      `supervised by ${record.supervisor.kind} pid ${record.supervisor.pid}, created ${record.createdAt}`,
    `  hostname ${spec.hostname}; shares ${spec.share.join(',') || 'nothing'}; restartPolicy ${spec.restartPolicy}; ` +
      `grace ${spec.terminationGracePeriodSeconds}s${pause}${users}`,
    `  network ${network?.mode ?? 'pod'}${network?.podIP ? `, IP ${network.podIP}` : ''}` +
      (ports.length ? `, ports ${ports.join(' ')}` : ''),
    `  infra: pid ${record.infra?.process.pid ?? '-'}  ${nsLine(infraNs, infraSharing)}`,
  ];
  const podLimits = resourcesLine(spec);
  if (podLimits || record.cgroup)
    lines.push(`  cgroup ${record.cgroup ? record.cgroup.name : 'none'}${podLimits ? `; resources: ${podLimits}` : ''}`);
  for (const c of containers) {
    const pid = c.process && c.state === 'running' ? `, pid ${c.process.pid}` : '';
    lines.push(`  container ${c.name}: ${c.state}${pid}, restarts ${c.restartCount}, policy ${c.restartPolicy}`);
    lines.push(`    command: ${[...c.spec.command, ...c.spec.args].join(' ')}`);
    lines.push(`    namespaces: ${nsLine(c.namespaces, c.sharing)}`);
    const limits = resourcesLine(c.spec);
    if (limits) lines.push(`    resources: ${limits}`);
    const exit = c.lastExit;
    if (exit) {
      const how = exit.unknown ? 'unknown' : exit.code !== null ? `status ${exit.code}` : `signal ${exit.signal}`;
      lines.push(`    last exit: ${how}${exit.reason ? ` (${exit.reason})` : ''} at ${exit.at}`);
      if (exit.message) lines.push(`    message: ${JSON.stringify(exit.message)}`);
    }
    if (c.lastError) lines.push(`    last start error: ${c.lastError.message}`);
  }
  print(lines.join('\n') + '\n');
  return 0;
}
