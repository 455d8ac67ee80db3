// tspod restart / stop / rm. A change goes to the running monitor first, which does it for the
// pods it supervises: that path reads no state and loads neither the addon nor the runtime.
// Only when no monitor answers, or the monitor refuses (the pod may run in the foreground),
// does control-local.ts read the pod's record and decide.
import { MonitorClient, MonitorUnavailable } from '../monitor/client.js';
import { ApiError } from '../monitor/protocol.js';
import { checkLabel } from '../pod/names.js';
import { StatePaths, stateRoot } from '../state/paths.js';
import type { ControlRequest } from './control-local.js';
import { requireRoot } from './root.js';

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

/**
 * Sends a change to the monitor if one runs, without starting one. Undefined when it is done;
 * else why not: no monitor answered, or it refused (409).
 */
async function askMonitor(paths: StatePaths, request: ControlRequest): Promise<MonitorUnavailable | ApiError | undefined> {
  try {
    await request(new MonitorClient(paths));
    return undefined;
  } catch (err) {
    if ((err instanceof MonitorUnavailable && err.unreached) || (err instanceof ApiError && err.status === 409)) return err;
    throw err;
  }
}

export async function restart(pod: string, container: string, o: ControlOptions): Promise<number> {
  requireRoot('tspod restart');
  const paths = new StatePaths(stateRoot(o.root));
  const names = { pod: checkLabel('pod', pod), container: checkLabel('container', container) };
  const request: ControlRequest = (c) => c.restartContainer({ ...names, body: graceBody(o) });
  const notDone = await askMonitor(paths, request);
  if (notDone) await local().restartLocally(paths, pod, request, notDone);
  return 0;
}

export async function stop(pod: string, container: string | undefined, o: ControlOptions): Promise<number> {
  requireRoot('tspod stop');
  const paths = new StatePaths(stateRoot(o.root));
  checkLabel('pod', pod);
  const body = graceBody(o);
  const request: ControlRequest =
    container === undefined
      ? (c) => c.stopPod({ pod, body })
      : (c) => c.stopContainer({ pod, container: checkLabel('container', container), body });
  const notDone = await askMonitor(paths, request);
  if (notDone) await local().stopLocally(paths, pod, container, request, notDone);
  return 0;
}

export async function rm(pod: string, container: string | undefined, o: ControlOptions): Promise<number> {
  requireRoot('tspod rm');
  const paths = new StatePaths(stateRoot(o.root));
  checkLabel('pod', pod);
  const query = { force: !!o.force };
  const request: ControlRequest =
    container === undefined
      ? (c) => c.removePod({ pod, query })
      : (c) => c.removeContainer({ pod, container: checkLabel('container', container), query });
  const notDone = await askMonitor(paths, request);
  if (notDone) await local().rmLocally(paths, pod, container, !!o.force, request, notDone);
  return 0;
}
