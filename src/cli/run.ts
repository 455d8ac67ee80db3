// tspod run: a whole pod in the foreground, from a manifest (-f) or from one command; or, with
// -d, handed to the monitor. The detached path loads no runtime and no YAML parser (the
// monitor reads the manifest): it is a client's start-up and one request, or two when options
// are applied to a manifest's pod. The pod a run describes is worked out in run-spec.ts.
import { InputError } from '../errors.js';
import { requireRoot } from './root.js';
import { readManifest } from '../pod/manifest-file.js';
import { checkLabel } from '../pod/names.js';
import type { PodSpec } from '../pod/spec.js';
import { monitorClient, type MonitorClient } from '../monitor/client.js';
import { ApiError, type RouteAnswer } from '../monitor/protocol.js';
import { StatePaths, stateRoot } from '../state/paths.js';
import { print, warning } from './print.js';
import type { RunOptions } from './run-spec.js';

/** Options that cannot go together: checked before anything is read or asked. */
export function checkRunWords(command: string[], o: RunOptions): void {
  if (o.file && command.length) throw new InputError('run', 'give either a manifest (-f) or a command after --, not both');
  if (!o.file && !command.length && !o.image)
    throw new InputError('run', 'give a command after -- (tspod run -- CMD ARGS), an --image, or a manifest with -f');
  if (o.file) {
    for (const [option, given] of [
      ['--workdir', o.workdir],
      ['--rootfs', o.rootfs],
      ['--image', o.image],
      ['--user', o.user],
      ['--read-only', o.readOnly],
      ['-v', o.volume?.length ? o.volume : undefined],
      ['--cpus', o.cpus],
      ['--memory', o.memory],
      ['--pids-limit', o.pidsLimit],
      ['--cap-add', o.capAdd?.length ? o.capAdd : undefined],
      ['--cap-drop', o.capDrop?.length ? o.capDrop : undefined],
      ['--privileged', o.privileged],
      ['--security-opt', o.securityOpt?.length ? o.securityOpt : undefined],
    ] as const) {
      if (given !== undefined) throw new InputError(option, 'applies to a command; a manifest sets it per container');
    }
  }
}

const runSpec = () => require('./run-spec.js') as typeof import('./run-spec.js');

/** RunOptions that do not change the pod; any other option given does (and a new one will). */
const NOT_OF_THE_POD = new Set(['file', 'detach', 'root']);
const changesThePod = (o: RunOptions) =>
  Object.entries(o).some(([k, v]) => !NOT_OF_THE_POD.has(k) && v !== undefined && !(Array.isArray(v) && v.length === 0));

/**
 * POST /v1/pods with the manifest; undefined when the monitor is older than that form (it
 * refuses the field `manifest`): the caller then sends a spec, as such a monitor expects.
 */
async function createFromManifest(
  client: MonitorClient,
  manifest: { text: string; file: string; workingDir: string },
): Promise<RouteAnswer<'createPod'> | undefined> {
  try {
    return await client.createPod({ body: { manifest } });
  } catch (err) {
    if (err instanceof ApiError && err.status === 400 && err.field === 'manifest') return undefined;
    throw err;
  }
}

export async function run(command: string[], o: RunOptions): Promise<number> {
  if (o.pod !== undefined) return runInPod(command, o);
  checkRunWords(command, o);
  if (!o.detach) {
    const spec = await runSpec().podFromRunOptions(command, o);
    requireRoot('tspod run');
    return (require('./run-foreground.js') as typeof import('./run-foreground.js')).runForeground(spec, stateRoot(o.root));
  }
  requireRoot('tspod run');
  const client = monitorClient(new StatePaths(stateRoot(o.root)));
  let spec: PodSpec;
  if (o.file !== undefined) {
    const text = readManifest(o.file);
    // With no option to apply, the monitor reads the manifest and creates its pod: one request.
    if (!changesThePod(o)) {
      const created = await createFromManifest(client, { text, file: o.file, workingDir: process.cwd() });
      if (created) {
        created.warnings?.forEach(warning);
        print(`${created.name}\n`);
        return 0;
      }
    }
    const read = await client.readManifest({ body: { text, file: o.file } });
    read.warnings?.forEach(warning);
    spec = await runSpec().podFromRunOptions(command, o, read.spec);
  } else {
    spec = await runSpec().podFromRunOptions(command, o);
  }
  await client.createPod({ body: { spec } });
  print(`${spec.name}\n`);
  return 0;
}

/** `run -d --pod POD --name CTR -- CMD`: a container joins a pod that is already running. */
async function runInPod(command: string[], o: RunOptions): Promise<number> {
  const pod = checkLabel('--pod', o.pod!);
  const podOptions = [
    ['-f', o.file],
    ['--hostname', o.hostname],
    ['--share', o.share],
    ['--pause', o.pause],
    ['--grace', o.grace],
    ['--network', o.network],
    ['-p', o.publish?.length ? o.publish : undefined],
    ['--cgroup-parent', o.cgroupParent],
    ['--sysctl', o.sysctl?.length ? o.sysctl : undefined],
    ['--pid', o.pid],
    ['--ipc', o.ipc],
    ['--uts', o.uts],
    ['--time-offset', o.timeOffset],
  ] as const;
  for (const [option, given] of podOptions) {
    if (given !== undefined) throw new InputError(option, `is a pod's setting: it does not apply to a container joining pod ${pod}`);
  }
  if (!o.detach) throw new InputError('--pod', 'adds a container to a running pod: use it with -d');
  if (!o.name) throw new InputError('--name', 'names the container that joins the pod: it is required with --pod');
  if (!command.length) throw new InputError('run', "give the container's command after --");
  const hostPath = o.volume?.find((v) => v.startsWith('/'));
  if (hostPath !== undefined)
    throw new InputError('-v', `"${hostPath}": a pod's volumes are set when it is created; with --pod, -v NAME:DST mounts one of them`);
  const spec = await runSpec().podFromRunOptions(command, { ...o, pod: undefined });
  requireRoot('tspod run');
  const client = monitorClient(new StatePaths(stateRoot(o.root)));
  await client.addContainer({
    pod,
    body: { container: spec.containers[0], ...(o.restart !== undefined ? { restartPolicy: spec.restartPolicy } : {}) },
  });
  print(`${spec.containers[0].name}\n`);
  return 0;
}
