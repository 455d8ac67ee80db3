// The pod a `tspod run` describes, from its command line: a command becomes a one-container
// pod; a manifest's pod gets the run's options applied. Each option's value is checked here
// (which options may go together, in run.ts's checkRunWords, before); nothing is created.
// Loaded only when a run has a command or options to apply: a detached manifest with none goes
// to the monitor as it is (run.ts).
import { restartPolicyValue } from '../pod/fields.js';
import { checkLabel } from '../pod/names.js';
import { everyContainer, newPodSpec, type PodSpec, workingDirDefault } from '../pod/spec.js';
import { warning } from './print.js';
import {
  applyContainerOptions,
  applyNetworkOptions,
  applyResourceOptions,
  applyNamespaceOptions,
  cgroupParentOption,
  envOption,
  programOption,
  secondsOption,
  shareOption,
} from './options.js';

/** tspod run's options, as commander gives them. */
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
  cpus?: string;
  memory?: string;
  pidsLimit?: string;
  cgroupParent?: string;
  sysctl?: string[];
  pid?: string;
  ipc?: string;
  uts?: string;
  timeOffset?: string;
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  securityOpt?: string[];
  root?: string;
}

/** Six hex digits for an unnamed pod: a taken name is refused at creation, never reused. */
const randomName = () =>
  Math.floor(Math.random() * 0x1000000)
    .toString(16)
    .padStart(6, '0');

/** Command-line words are taken literally: escape them from Kubernetes' $(VAR) expansion. */
const literal = (s: string) => s.replaceAll('$', '$$$$');

/**
 * The pod a `tspod run` describes, each option's value checked (checkRunWords, first, checks
 * which options go together); nothing is created. With -f, the manifest's pod may be given
 * already checked (by the monitor); else the file is read here.
 */
export async function podFromRunOptions(command: string[], o: RunOptions, manifest?: PodSpec): Promise<PodSpec> {
  const env = envOption(o.env).map(({ name, value }) => ({ name, value: literal(value) }));
  let spec: PodSpec;
  if (o.file) {
    spec = manifest ?? (await (require('../pod/manifest.js') as typeof import('../pod/manifest.js')).loadManifest(o.file, warning));
    if (o.name) spec.name = checkLabel('--name', o.name);
    for (const { c } of everyContainer(spec)) c.env = [...c.env, ...env];
  } else {
    const name = o.name ? checkLabel('--name', o.name) : `tspod-${randomName()}`;
    // A command runs once, as with docker run (newPodSpec's Never); a manifest keeps Kubernetes'
    // default.
    // With an image, the words are its arguments (they replace its Cmd, as docker run's do).
    const words = command.map(literal);
    spec = newPodSpec(name, [
      o.image ? { name, command: [], args: words, env } : { name, command: words.slice(0, 1), args: words.slice(1), env },
    ]);
    applyContainerOptions(spec, o);
    applyResourceOptions(spec.containers[0], o);
  }
  if (o.cgroupParent !== undefined) spec.cgroupParent = cgroupParentOption('--cgroup-parent', o.cgroupParent);
  applyNamespaceOptions(spec, o);
  if (o.hostname !== undefined) spec.hostname = checkLabel('--hostname', o.hostname);
  if (o.share !== undefined) spec.share = shareOption(o.share);
  if (o.restart !== undefined) spec.restartPolicy = restartPolicyValue(o.restart, '--restart');
  applyNetworkOptions(spec, o.network, o.publish ?? []);
  if (o.grace !== undefined) spec.terminationGracePeriodSeconds = secondsOption('--grace', o.grace);
  if (o.pause !== undefined) spec.pause = programOption('--pause', o.pause);
  // Containers on the host's file system: relative paths mean what they mean here.
  workingDirDefault(spec, process.cwd());
  return spec;
}
