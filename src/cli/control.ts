// tspod restart / stop / rm. A change goes to the running monitor first, which does it for the
// pods it supervises: that path reads no state and loads neither the addon nor the runtime.
// Only when no monitor answers, or the monitor refuses (the pod may run in the foreground),
// does control-local.ts read the pod's record and decide.
import { MonitorClient, MonitorUnavailable } from '../monitor/client.js';
import { ApiError } from '../monitor/protocol.js';
import { checkLabel } from '../pod/names.js';
import { StatePaths, stateRoot } from '../state/paths.js';
import { requireRoot } from './errors.js';

interface ControlOptions {
  grace?: string;
  force?: boolean;
  root?: string;
}

const local = () => require('./control-local.js') as typeof import('./control-local.js');

function graceBody(o: ControlOptions): { grace?: number } {
  if (o.grace === undefined) return {};
  return { grace: (require('./options.js') as typeof import('./options.js')).secondsOption('--grace', o.grace) };
}

/** A route of the monitor's API about this pod (and container): names checked, then encoded. */
function route(pod: string, container?: string, action = ''): string {
  const p = encodeURIComponent(checkLabel('pod', pod));
  const c = container === undefined ? '' : `/containers/${encodeURIComponent(checkLabel('container', container))}`;
  return `/pods/${p}${c}${action}`;
}

/**
 * Sends a change to the monitor if one runs, without starting one. Undefined when it is done;
 * else why not: no monitor answered, or it refused (409).
 */
async function askMonitor(paths: StatePaths, method: string, path: string, body?: unknown): Promise<MonitorUnavailable | ApiError | undefined> {
  try {
    await new MonitorClient(paths).call(method, path, body);
    return undefined;
  } catch (err) {
    if ((err instanceof MonitorUnavailable && err.unreached) || (err instanceof ApiError && err.status === 409)) return err;
    throw err;
  }
}

export async function restart(pod: string, container: string, o: ControlOptions): Promise<number> {
  requireRoot('tspod restart');
  const paths = new StatePaths(stateRoot(o.root));
  const request = { method: 'POST', path: route(pod, container, '/restart'), body: graceBody(o) };
  const notDone = await askMonitor(paths, request.method, request.path, request.body);
  if (notDone) await local().restartLocally(paths, pod, request, notDone);
  return 0;
}

export async function stop(pod: string, container: string | undefined, o: ControlOptions): Promise<number> {
  requireRoot('tspod stop');
  const paths = new StatePaths(stateRoot(o.root));
  const request = { method: 'POST', path: route(pod, container, '/stop'), body: graceBody(o) };
  const notDone = await askMonitor(paths, request.method, request.path, request.body);
  if (notDone) await local().stopLocally(paths, pod, container, request, notDone);
  return 0;
}

export async function rm(pod: string, container: string | undefined, o: ControlOptions): Promise<number> {
  requireRoot('tspod rm');
  const paths = new StatePaths(stateRoot(o.root));
  const request = { method: 'DELETE', path: route(pod, container) + (o.force ? '?force=true' : '') };
  const notDone = await askMonitor(paths, request.method, request.path);
  if (notDone) await local().rmLocally(paths, pod, container, !!o.force, request, notDone);
  return 0;
}
