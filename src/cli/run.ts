// tspod run: a whole pod in the foreground, from a manifest (-f) or from one command.
import { randomBytes } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import { InputError } from '../errors.js';
import { requireRoot } from './errors.js';
import { loadBinding } from '../native/binding.js';
import { loadManifest, restartPolicyValue } from '../pod/manifest.js';
import { newPodSpec, type PodSpec } from '../pod/spec.js';
import { PodHost } from '../monitor/host.js';
import { ensureMonitor } from '../monitor/client.js';
import type { Pod, PodResult } from '../runtime/pod.js';
import { describeExit, startTimeOf, statusCode } from '../runtime/process.js';
import { stateRoot } from '../state/paths.js';
import { StateStore } from '../state/store.js';
import { applyContainerOptions, applyNetworkOptions, envOption, hostOptionsFromEnv, labelOption, programOption, secondsOption, shareOption } from './options.js';
import { TerminalTee } from './output.js';

export interface RunOptions {
  file?: string;
  name?: string;
  hostname?: string;
  share?: string;
  pause?: string;
  env: string[];
  grace?: string;
  workdir?: string;
  restart?: string;
  rootfs?: string;
  image?: string;
  /** -v SRC:DST[:ro] */
  volume?: string[];
  user?: string;
  readOnly?: boolean;
  network?: string;
  publish: string[];
  detach?: boolean;
  /** Join this running pod instead of making one (with -d). */
  pod?: string;
  root?: string;
}

/** Command-line words are taken literally: escape them from Kubernetes' $(VAR) expansion. */
const literal = (s: string) => s.replaceAll('$', '$$$$');

/** The pod a `tspod run` describes; every option is checked, nothing is created. */
export async function podFromRunOptions(command: string[], o: RunOptions): Promise<PodSpec> {
  if (o.file && command.length) throw new InputError('run', 'give either a manifest (-f) or a command after --, not both');
  if (!o.file && !command.length && !o.image) throw new InputError('run', 'give a command after -- (tspod run -- CMD ARGS), an --image, or a manifest with -f');
  if (o.file) {
    for (const [option, given] of [['--workdir', o.workdir], ['--rootfs', o.rootfs], ['--image', o.image], ['--user', o.user], ['--read-only', o.readOnly], ['-v', o.volume?.length ? o.volume : undefined]] as const) {
      if (given !== undefined) throw new InputError(option, 'applies to a command; a manifest sets it per container');
    }
  }
  const env = envOption(o.env).map(({ name, value }) => ({ name, value: literal(value) }));
  let spec: PodSpec;
  if (o.file) {
    spec = await loadManifest(o.file);
    if (o.name) spec.name = labelOption('--name', o.name);
    for (const c of spec.containers) c.env = [...c.env, ...env];
  } else {
    const name = o.name ? labelOption('--name', o.name) : `tspod-${randomBytes(3).toString('hex')}`;
    // A command runs once, as with docker run (newPodSpec's Never); a manifest keeps Kubernetes'
    // default.
    // With an image, the words are its arguments (they replace its Cmd, as docker run's do).
    const words = command.map(literal);
    spec = newPodSpec(name, [o.image ? { name, command: [], args: words, env } : { name, command: words.slice(0, 1), args: words.slice(1), env }]);
    applyContainerOptions(spec, o);
  }
  if (o.hostname !== undefined) spec.hostname = labelOption('--hostname', o.hostname);
  else if (o.name && !o.file) spec.hostname = spec.name;
  if (o.share !== undefined) spec.share = shareOption(o.share);
  if (o.restart !== undefined) spec.restartPolicy = restartPolicyValue(o.restart, '--restart');
  applyNetworkOptions(spec, o.network, o.publish ?? []);
  if (o.grace !== undefined) spec.terminationGracePeriodSeconds = secondsOption('--grace', o.grace);
  if (o.pause !== undefined) spec.pause = programOption('--pause', o.pause);
  // Containers on the host's file system: relative paths mean what they mean here.
  for (const c of spec.containers) if (!c.image && !c.rootfs) c.workingDir ??= process.cwd();
  return spec;
}

/**
 * tspod run's exit status: 128+N when a signal N stopped it; else, for one container, that
 * container's status (as docker run); for several, 0 when all exited 0, else the status of the
 * first (in manifest order) that did not. 125 when the pod failed because its infra died.
 */
export function runExitStatus(result: PodResult, stopSignal?: number): number {
  if (stopSignal !== undefined) return 128 + stopSignal;
  if (result.reason === 'infra-exited') return 125;
  for (const c of result.containers) {
    const code = c.exit ? statusCode(c.exit) : 125;
    if (code !== 0 || result.containers.length === 1) return code;
  }
  return 0;
}

export async function run(command: string[], o: RunOptions): Promise<number> {
  if (o.pod !== undefined) return runInPod(command, o);
  const spec = await podFromRunOptions(command, o);
  requireRoot('tspod run');
  const store = new StateStore(stateRoot(o.root));
  if (o.detach) {
    const client = await ensureMonitor(store);
    await client.call('POST', '/pods', { spec });
    process.stdout.write(`${spec.name}\n`);
    return 0;
  }
  return runForeground(spec, store);
}

/** `run -d --pod POD --name CTR -- CMD`: a container joins a pod that is already running. */
async function runInPod(command: string[], o: RunOptions): Promise<number> {
  const pod = labelOption('--pod', o.pod!);
  const podOptions = [['-f', o.file], ['--hostname', o.hostname], ['--share', o.share], ['--pause', o.pause], ['--grace', o.grace], ['--network', o.network], ['-p', o.publish?.length ? o.publish : undefined]] as const;
  for (const [option, given] of podOptions) {
    if (given !== undefined) throw new InputError(option, `is a pod's setting: it does not apply to a container joining pod ${pod}`);
  }
  if (!o.detach) throw new InputError('--pod', 'adds a container to a running pod: use it with -d');
  if (!o.name) throw new InputError('--name', 'names the container that joins the pod: it is required with --pod');
  if (!command.length) throw new InputError('run', 'give the container\'s command after --');
  const spec = await podFromRunOptions(command, { ...o, pod: undefined, restart: o.restart ?? 'Never' });
  requireRoot('tspod run');
  const client = await ensureMonitor(new StateStore(stateRoot(o.root)));
  await client.call('POST', `/pods/${pod}/containers`, {
    container: spec.containers[0],
    ...(o.restart !== undefined ? { restartPolicy: spec.restartPolicy } : {}),
  });
  process.stdout.write(`${spec.containers[0].name}\n`);
  return 0;
}

/** The pod runs as long as this tspod; its output is shown, and logged as for any pod. */
async function runForeground(spec: PodSpec, store: StateStore): Promise<number> {
  const binding = loadBinding();
  const host = new PodHost(store, binding, {
    kind: 'foreground',
    pid: process.pid,
    startTime: startTimeOf(process.pid) ?? '',
  }, hostOptionsFromEnv());

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
      tee: new TerminalTee(spec.containers.map((c) => c.name)),
    });
    pod.on('container-exit', (name, status) => process.stderr.write(`tspod: container ${name} ${describeExit(status)}\n`));
    pod.on('container-error', (name, err) => process.stderr.write(`tspod: container ${name} could not start: ${err.message}\n`));
    if (stopSignal !== undefined) void pod.stop();
    const result = await pod.ended;
    if (result.reason === 'infra-exited') {
      process.stderr.write(`tspod: pod ${spec.name} failed: its infra process (pid ${pod.infra.pid}) ${describeExit(result.infraExit!)}\n`);
    }
    return runExitStatus(result, stopSignal);
  } finally {
    for (const s of signals) process.off(s, onSignal);
    // A foreground pod is listed while it runs, and leaves nothing in the state when it ends.
    if (pod) await host.remove(spec.name, true);
  }
}
