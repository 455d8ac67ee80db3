// tspod run: a whole pod in the foreground, from a manifest (-f) or from one command; or, with
// -d, handed to the monitor. The detached path loads no runtime and no YAML parser (the
// monitor checks the manifest): it is a client's start-up and one or two requests.
import { InputError } from '../errors.js';
import { requireRoot } from './errors.js';
import { restartPolicyValue } from '../pod/fields.js';
import { checkLabel } from '../pod/names.js';
import { newPodSpec, type PodSpec } from '../pod/spec.js';
import { monitorClient } from '../monitor/client.js';
import { StatePaths, stateRoot } from '../state/paths.js';
import { applyContainerOptions, applyNetworkOptions, envOption, programOption, secondsOption, shareOption } from './options.js';

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

/** Six hex digits for an unnamed pod: a taken name is refused at creation, never reused. */
const randomName = () => Math.floor(Math.random() * 0x1000000).toString(16).padStart(6, '0');

/** Command-line words are taken literally: escape them from Kubernetes' $(VAR) expansion. */
const literal = (s: string) => s.replaceAll('$', '$$$$');

/** Options that cannot go together: checked before anything is read or asked. */
function checkRunWords(command: string[], o: RunOptions): void {
  if (o.file && command.length) throw new InputError('run', 'give either a manifest (-f) or a command after --, not both');
  if (!o.file && !command.length && !o.image) throw new InputError('run', 'give a command after -- (tspod run -- CMD ARGS), an --image, or a manifest with -f');
  if (o.file) {
    for (const [option, given] of [['--workdir', o.workdir], ['--rootfs', o.rootfs], ['--image', o.image], ['--user', o.user], ['--read-only', o.readOnly], ['-v', o.volume?.length ? o.volume : undefined]] as const) {
      if (given !== undefined) throw new InputError(option, 'applies to a command; a manifest sets it per container');
    }
  }
}

/**
 * The pod a `tspod run` describes; every option is checked, nothing is created. With -f, the
 * manifest's pod may be given already checked (by the monitor); else the file is read here.
 */
export async function podFromRunOptions(command: string[], o: RunOptions, manifest?: PodSpec): Promise<PodSpec> {
  checkRunWords(command, o);
  const env = envOption(o.env).map(({ name, value }) => ({ name, value: literal(value) }));
  let spec: PodSpec;
  if (o.file) {
    spec = manifest ?? (await (require('../pod/manifest.js') as typeof import('../pod/manifest.js')).loadManifest(o.file));
    if (o.name) spec.name = checkLabel('--name', o.name);
    for (const c of spec.containers) c.env = [...c.env, ...env];
  } else {
    const name = o.name ? checkLabel('--name', o.name) : `tspod-${randomName()}`;
    // A command runs once, as with docker run (newPodSpec's Never); a manifest keeps Kubernetes'
    // default.
    // With an image, the words are its arguments (they replace its Cmd, as docker run's do).
    const words = command.map(literal);
    spec = newPodSpec(name, [o.image ? { name, command: [], args: words, env } : { name, command: words.slice(0, 1), args: words.slice(1), env }]);
    applyContainerOptions(spec, o);
  }
  if (o.hostname !== undefined) spec.hostname = checkLabel('--hostname', o.hostname);
  if (o.share !== undefined) spec.share = shareOption(o.share);
  if (o.restart !== undefined) spec.restartPolicy = restartPolicyValue(o.restart, '--restart');
  applyNetworkOptions(spec, o.network, o.publish ?? []);
  if (o.grace !== undefined) spec.terminationGracePeriodSeconds = secondsOption('--grace', o.grace);
  if (o.pause !== undefined) spec.pause = programOption('--pause', o.pause);
  // Containers on the host's file system: relative paths mean what they mean here.
  for (const c of spec.containers) if (!c.image && !c.rootfs) c.workingDir ??= process.cwd();
  return spec;
}

export async function run(command: string[], o: RunOptions): Promise<number> {
  if (o.pod !== undefined) return runInPod(command, o);
  if (!o.detach) {
    const spec = await podFromRunOptions(command, o);
    requireRoot('tspod run');
    return (require('./run-foreground.js') as typeof import('./run-foreground.js')).runForeground(spec, stateRoot(o.root));
  }
  checkRunWords(command, o);
  requireRoot('tspod run');
  const text = o.file === undefined ? undefined : (require('../pod/manifest.js') as typeof import('../pod/manifest.js')).readManifest(o.file);
  const client = monitorClient(new StatePaths(stateRoot(o.root)));
  const manifest = text === undefined ? undefined : (await client.call<{ spec: PodSpec }>('POST', '/manifests', { text, file: o.file })).spec;
  const spec = await podFromRunOptions(command, o, manifest);
  await client.call('POST', '/pods', { spec });
  process.stdout.write(`${spec.name}\n`);
  return 0;
}

/** `run -d --pod POD --name CTR -- CMD`: a container joins a pod that is already running. */
async function runInPod(command: string[], o: RunOptions): Promise<number> {
  const pod = checkLabel('--pod', o.pod!);
  const podOptions = [['-f', o.file], ['--hostname', o.hostname], ['--share', o.share], ['--pause', o.pause], ['--grace', o.grace], ['--network', o.network], ['-p', o.publish?.length ? o.publish : undefined]] as const;
  for (const [option, given] of podOptions) {
    if (given !== undefined) throw new InputError(option, `is a pod's setting: it does not apply to a container joining pod ${pod}`);
  }
  if (!o.detach) throw new InputError('--pod', 'adds a container to a running pod: use it with -d');
  if (!o.name) throw new InputError('--name', 'names the container that joins the pod: it is required with --pod');
  if (!command.length) throw new InputError('run', 'give the container\'s command after --');
  const spec = await podFromRunOptions(command, { ...o, pod: undefined, restart: o.restart ?? 'Never' });
  requireRoot('tspod run');
  const client = monitorClient(new StatePaths(stateRoot(o.root)));
  await client.call('POST', `/pods/${pod}/containers`, {
    container: spec.containers[0],
    ...(o.restart !== undefined ? { restartPolicy: spec.restartPolicy } : {}),
  });
  process.stdout.write(`${spec.containers[0].name}\n`);
  return 0;
}
