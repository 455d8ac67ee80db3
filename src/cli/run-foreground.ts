// tspod run in the foreground: this process supervises the pod (PodHost, as the monitor does),
// shows its output, and removes it when it ends.
import { constants as osConstants } from 'node:os';
import { loadBinding } from '../native/binding.js';
import { PodHost, type SupervisorLog } from '../supervisor/host.js';
import type { Pod } from '../runtime/pod.js';
import { everyContainer, type PodSpec } from '../pod/spec.js';
import type { PodResult } from '../runtime/pod.js';
import { startTimeOf } from '../native/identity.js';
import { describeExit, statusCode } from '../runtime/process.js';
import { StateStore } from '../state/store.js';
import { hostOptionsFromEnv } from './options.js';
import { TerminalTee } from './output.js';

/** The supervisor's messages, on the terminal as tspod's own. */
const terminalLog: SupervisorLog = {
  info: (pod, message) => process.stderr.write(`tspod: pod ${pod}: ${message}\n`),
  warn: (pod, message) => process.stderr.write(`tspod: pod ${pod}: ${message}\n`),
};

/** The pod runs as long as this tspod; its output is shown, and logged as for any pod. */
export async function runForeground(spec: PodSpec, root: string): Promise<number> {
  const store = new StateStore(root);
  const binding = loadBinding();
  const self = { kind: 'foreground' as const, pid: process.pid, startTime: startTimeOf(process.pid) ?? '' };
  const host = new PodHost(store, binding, self, terminalLog, hostOptionsFromEnv(process.env, { binding, stateRoot: root }));

  // Installed before the pod starts, so Ctrl-C during the start is not lost.
  let stopSignal: number | undefined;
  let pod: Pod | undefined;
  const onSignal = (name: NodeJS.Signals) => {
    const first = stopSignal === undefined;
    stopSignal ??= osConstants.signals[name];
    if (!pod) return;
    if (first) {
      process.stderr.write(
        `tspod: ${name}: stopping pod ${spec.name} (SIGTERM, SIGKILL after ${spec.terminationGracePeriodSeconds}s; again to kill now)\n`,
      );
      void pod.stop();
    } else {
      void pod.kill();
    }
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  try {
    pod = await host.create(spec, {
      // Nothing of a foreground pod may outlive tspod, even a tspod killed with SIGKILL.
      parentDeathSignal: osConstants.signals.SIGKILL,
      tee: new TerminalTee(everyContainer(spec).map(({ c }) => c.name)),
    });
    pod.on('container-exit', (name, status, reason) =>
      process.stderr.write(`tspod: container ${name} ${describeExit(status)}${reason ? ` (${reason})` : ''}\n`),
    );
    pod.on('container-error', (name, err) => process.stderr.write(`tspod: container ${name} could not start: ${err.message}\n`));
    if (stopSignal !== undefined) void pod.stop();
    const result = await pod.ended;
    if (result.reason === 'infra-exited') {
      process.stderr.write(`tspod: pod ${spec.name} failed: its infra process (pid ${pod.infra.pid}) ${describeExit(result.infraExit!)}\n`);
    }
    if (result.failedInit?.exit) {
      process.stderr.write(
        `tspod: pod ${spec.name} failed: init container ${result.failedInit.name} ${describeExit(result.failedInit.exit)}\n`,
      );
    }
    return runExitStatus(result, stopSignal);
  } finally {
    for (const s of signals) process.off(s, onSignal);
    // A foreground pod is listed while it runs, and leaves nothing in the state when it ends.
    if (pod) await host.remove(spec.name, true);
  }
}

/**
 * tspod run's exit status: 128+N when a signal N stopped it; else, for one container, that
 * container's status (as docker run); for several, 0 when all exited 0, else the status of the
 * first (in manifest order) that did not. 125 when the pod failed because its infra died.
 */
export function runExitStatus(result: PodResult, stopSignal?: number): number {
  if (stopSignal !== undefined) return 128 + stopSignal;
  if (result.reason === 'infra-exited') return 125;
  // Its containers never ran: the init container's status is the pod's.
  if (result.failedInit) return result.failedInit.exit ? statusCode(result.failedInit.exit) : 125;
  for (const c of result.containers) {
    const code = c.exit ? statusCode(c.exit) : 125;
    if (code !== 0 || result.containers.length === 1) return code;
  }
  return 0;
}
