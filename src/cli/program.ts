// The tspod command line as commander parses it: every command, its options, its help and its
// usage errors. Each action calls the command's handler (handlers.ts) through `invoke`.
import { Command } from 'commander';
import { handlers, type Invoke } from './handlers.js';
import { print, printError } from './print.js';

const collect = (value: string, previous: string[]) => [...previous, value];

/** The options of a pod's namespaces and what is set in them, shared by run and pod create. */
function namespaceOptions(cmd: Command): Command {
  return cmd
    .option('--network <mode>', 'pod (its own namespace, the default), host, cni[:NAME] (CNI plugins), ns:PATH or pod:NAME (join it)')
    .option('--sysctl <name=value>', "a namespaced sysctl set in the pod's namespaces (repeatable)", collect, [])
    .option('--pid <mode>', "host (Kubernetes' hostPID), ns:PATH or pod:NAME (join that PID namespace)")
    .option('--ipc <mode>', "host (Kubernetes' hostIPC), ns:PATH or pod:NAME (join that IPC namespace)")
    .option('--uts <mode>', 'ns:PATH or pod:NAME: join that UTS namespace (its hostname)')
    .option('--time-offset <clocks>', "a time namespace of the pod's own: monotonic=SECONDS,boottime=SECONDS (Linux 5.6)")
    .option(
      '--userns <mode>',
      "auto: a user namespace of the pod's own, 65,536 ids allocated by tspod (Kubernetes' hostUsers: false); " +
        'ns:PATH or pod:NAME (join that user namespace, with its ids); host (the default)',
    );
}

/** The command word on the line, after the program's own --root option; undefined if none. */
function commandWord(words: string[]): string | undefined {
  for (let i = 0; i < words.length; i++) {
    if (words[i] === '--root') i++;
    else if (!words[i].startsWith('--root=')) return words[i].startsWith('-') ? undefined : words[i];
  }
  return undefined;
}

/** The program, with the commands that `words` (the command line after "tspod") needs defined. */
export function tspodProgram(words: string[], version: string, invoke: Invoke): Command {
  /** Repeatable options collect their values. */

  const program = new Command('tspod')
    .description('Kubernetes-style pods on a bare Linux host: a pause process holds the namespaces, containers join them')
    .version(version, '-v, --version')
    .option('--root <dir>', 'state directory (default: $TSPOD_ROOT or /run/tspod)')
    .enablePositionalOptions()
    // Usage errors as every other error: one line, and status 125 (they are tspod's, not a pod's).
    .exitOverride()
    .configureOutput({
      writeOut: print,
      writeErr: printError,
      outputError: (text, write) =>
        write(
          `tspod: ${text
            .trim()
            .replace(/^error: /, '')
            .replace(/\s*\n\s*/g, ' ')} (tspod --help for usage)\n`,
        ),
    });

  /** The command's own options plus the program's (--root). */
  const withRoot = <T extends object>(opts: T) => ({ ...opts, root: program.opts<{ root?: string }>().root });

  /**
   * The commands, each defined when needed: only the one named on the command line, or all of
   * them for help and for a word that names none (commander's error then lists them). Defining
   * all of them cost 2.6 ms of every command here.
   */
  const commands: Record<string, () => void> = {
    run: () => {
      const run = program
        .command('run')
        .description('run a pod: one command (after --) or a manifest (-f); in the foreground, or detached with -d')
        .argument('[command...]', 'the command and its arguments (after --)')
        .option('-f, --file <manifest>', 'a Pod manifest (Kubernetes Pod v1 subset), YAML or JSON')
        .option('-d, --detach', 'return once every container has started; the monitor supervises the pod')
        .option('--pod <pod>', 'with -d: add the container to this running pod instead (needs --name)')
        .option('--name <name>', 'pod name (a DNS-1123 label); with --pod, the container name')
        .option('--hostname <name>', 'hostname inside the pod (default: the pod name)')
        .option('--share <list>', 'namespaces the containers share with the infra: net,ipc,uts,pid,cgroup (default: the first four)')
        .option('--pause <path>', "a custom infra program instead of tspod's pause")
        .option('-e, --env <KEY=VALUE>', 'set an environment variable in every container (repeatable)', collect, [])
        .option('-w, --workdir <dir>', 'working directory of the command (default: the current one; / in a root file system)')
        .option('--rootfs <dir>', "a directory as the container's root file system")
        .option('--image <name[:tag]>', 'an image from the local store (tspod image import) as the root file system')
        .option(
          '-v, --volume <src:dst[:ro]>',
          "mount a host path (absolute src) or a pod volume (a name) at dst (repeatable); with --pod, one of the pod's volumes",
          collect,
          [],
        )
        .option('--user <uid[:gid]>', 'run the command as this user (numeric)')
        .option('--read-only', 'make the root file system read-only')
        .option('--cap-add <cap>', 'a capability beyond the default set (NET_ADMIN, ...; ALL) (repeatable)', collect, [])
        .option('--cap-drop <cap>', 'a capability of the default set to drop (ALL: every one) (repeatable)', collect, [])
        .option('--privileged', 'every capability, /proc and /sys unmasked and writable')
        .option(
          '--security-opt <opt>',
          'no-new-privileges, unmask=ALL (/proc unmasked), seccomp=PATH (a JSON profile) or seccomp=unconfined (repeatable)',
          collect,
          [],
        )
        .option(
          '--restart <policy>',
          "Always, OnFailure or Never (default: Never for a command, the manifest's for -f, the pod's with --pod)",
        )
        .option('-p, --publish <[ip:]host:pod[/proto]>', 'publish a pod port on the host, tcp (default) or udp (repeatable)', collect, [])
        .option('--grace <seconds>', 'seconds between SIGTERM and SIGKILL when the pod stops (default: 30)')
        .option('--cpus <n>', "the container's: at most this many cpus (a limit: 0.5, 2)")
        .option('--memory <size>', 'at most this much memory (bytes, or with b, k, m, g); more gets OOM-killed')
        .option('--pids-limit <n>', 'at most this many processes and threads')
        .option('--cgroup-parent <path>', "the cgroup the pod's cgroup is made in (default: /tspod)");
      namespaceOptions(run)
        .passThroughOptions()
        .addHelpText(
          'after',
          `
      Exit status (foreground): the container's own (128+N if a signal N ended it) for a single
      command; for a manifest, 0 when every container exited 0, else the status of the first that
      did not; 130/143 when stopped by Ctrl-C/SIGTERM; 125 for an error of tspod; 126/127 when a
      container's command cannot be run/found.

      Examples:
        sudo tspod run -- sh -c 'hostname; ps'
        sudo tspod run -f examples/seed/pod.yaml
        sudo tspod run -d --pod blog --name ghost -- node examples/seed/ghost.js`,
        )
        .action(async (command: string[], opts) => invoke(handlers.run, command, withRoot(opts)));
    },
    pod: () => {
      const pod = program.command('pod').description('pods as a whole: create, ls, check');
      const create = pod
        .command('create')
        .description('create a pod with only its infra process; add containers with run -d --pod')
        .argument('<name>', 'pod name (a DNS-1123 label)')
        .option('--share <list>', 'namespaces its containers will share: net,ipc,uts,pid,cgroup (default: the first four)')
        .option('--pause <path>', "a custom infra program instead of tspod's pause")
        .option('--hostname <name>', 'hostname inside the pod (default: the pod name)')
        .option('--grace <seconds>', 'seconds between SIGTERM and SIGKILL when it stops (default: 30)')
        .option('-p, --publish <[ip:]host:pod[/proto]>', 'publish a pod port on the host, tcp (default) or udp (repeatable)', collect, [])
        .option('--cpus <n>', "the whole pod's: at most this many cpus (a limit: 0.5, 2)")
        .option('--memory <size>', 'at most this much memory (bytes, or with b, k, m, g); more gets OOM-killed')
        .option('--pids-limit <n>', 'at most this many processes and threads')
        .option('--cgroup-parent <path>', "the cgroup the pod's cgroup is made in (default: /tspod)");
      namespaceOptions(create).action(async (name: string, opts) => invoke(handlers.podCreate, name, withRoot(opts)));
      pod
        .command('check')
        .description("CNI CHECK of a pod's network attachment (pods on --network cni)")
        .argument('<name>')
        .action(async (name: string, opts) => invoke(handlers.podCheck, name, withRoot(opts)));
      pod
        .command('ls')
        .description("list pods: state, kubectl's STATUS and READY, infra pid, containers, shared namespaces")
        .option('--json', 'as JSON')
        .action(async (opts) => invoke(handlers.podList, withRoot(opts)));
    },
    ps: () => {
      program
        .command('ps')
        .description('list containers, and the infra process of each pod')
        .option('-a, --all', 'also exited containers and ended pods')
        .option('--pod <pod>', 'only this pod')
        .option('--json', 'as JSON')
        .action(async (opts) => invoke(handlers.ps, withRoot(opts)));
    },
    logs: () => {
      program
        .command('logs')
        .description("a container's output, from its log file")
        .argument('<pod>')
        .argument('<container>')
        .option('-f, --follow', 'keep printing new lines until the container ends')
        .option('--tail <lines>', 'only the last N lines')
        .action(async (podName: string, ctr: string, opts) => invoke(handlers.logs, podName, ctr, withRoot(opts)));
    },
    events: () => {
      program
        .command('events')
        .description("what happened to pods and their containers (Started, Killing, BackOff...): every pod's, oldest first")
        .argument('[pod]', 'only this pod')
        .option('-f, --follow', 'then print each new event as it comes, until Ctrl-C (or until POD is removed)')
        .option('--json', 'one JSON object per line')
        .action(async (podName: string | undefined, opts) => invoke(handlers.events, podName, withRoot(opts)));
    },
    exec: () => {
      program
        .command('exec')
        .description('run a command in a running container: in all its namespaces, as a child of tspod')
        .argument('<pod>')
        .argument('<container>')
        .argument('<command...>', 'the command and its arguments (after --)')
        .option('-i, --interactive', "pass tspod's stdin to the command (default: /dev/null)")
        .option('-t, --tty', 'give the command a pseudo-terminal')
        .passThroughOptions()
        .action(async (podName: string, ctr: string, command: string[], opts) =>
          invoke(handlers.exec, podName, ctr, command, withRoot(opts)),
        );
    },
    inspect: () => {
      program
        .command('inspect')
        .description('a pod or one container: pids, states, and namespace inodes')
        .argument('<pod>')
        .argument('[container]')
        .option('--json', 'as JSON')
        .action(async (podName: string, ctr: string | undefined, opts) => invoke(handlers.inspect, podName, ctr, withRoot(opts)));
    },
    restart: () => {
      program
        .command('restart')
        .description('stop a container (SIGTERM, grace, SIGKILL) and start it again; the pod and its infra stay')
        .argument('<pod>')
        .argument('<container>')
        .option('--grace <seconds>', "seconds between SIGTERM and SIGKILL (default: the pod's)")
        .action(async (podName: string, ctr: string, opts) => invoke(handlers.restart, podName, ctr, withRoot(opts)));
    },
    stop: () => {
      program
        .command('stop')
        .description('stop a pod (its containers, then its infra) or one container: SIGTERM, grace, SIGKILL')
        .argument('<pod>')
        .argument('[container]')
        .option('--grace <seconds>', "seconds between SIGTERM and SIGKILL (default: the pod's)")
        .action(async (podName: string, ctr: string | undefined, opts) => invoke(handlers.stop, podName, ctr, withRoot(opts)));
    },
    rm: () => {
      program
        .command('rm')
        .description('remove a stopped pod, or one container; -f stops them first (SIGKILL)')
        .argument('<pod>')
        .argument('[container]')
        .option('-f, --force', 'remove even if running')
        .action(async (podName: string, ctr: string | undefined, opts) => invoke(handlers.rm, podName, ctr, withRoot(opts)));
    },
    stats: () => {
      program
        .command('stats')
        .description('what running containers use, from their cgroups: cpu, memory, pids; each second until Ctrl-C')
        .argument('[pod]')
        .argument('[container]')
        .option('--no-stream', 'print one sample (over one second) and exit')
        .option('--json', 'as JSON (one line per sample when streaming)')
        .action(async (podName: string | undefined, ctr: string | undefined, opts) => invoke(handlers.stats, podName, ctr, withRoot(opts)));
    },
    top: () => {
      program
        .command('top')
        .description("a running container's processes, from its cgroup: pids as the host and as the pod see them")
        .argument('<pod>')
        .argument('<container>')
        .option('--json', 'as JSON')
        .action(async (podName: string, ctr: string, opts) => invoke(handlers.top, podName, ctr, withRoot(opts)));
    },
    update: () => {
      program
        .command('update')
        .description("change a container's limits while it runs (and for its later starts)")
        .argument('<pod>')
        .argument('<container>')
        .option('--cpus <n>', 'at most this many cpus (0.5, 2)')
        .option('--memory <size>', 'at most this much memory (bytes, or with b, k, m, g)')
        .option('--pids-limit <n>', 'at most this many processes and threads')
        .action(async (podName: string, ctr: string, opts) => invoke(handlers.update, podName, ctr, withRoot(opts)));
    },
    monitor: () => {
      program
        .command('monitor')
        .description('run the monitor in the foreground (the other commands start it on demand)')
        .option('--manifests <dir>', "keep a pod running for every manifest file in DIR (the kubelet's staticPodPath)")
        .action(async (opts) => invoke(handlers.monitor, withRoot(opts)));
    },
    image: () => {
      const image = program.command('image').description('the local image store: import from files (never a registry), ls, rm');
      image
        .command('import')
        .description('import an OCI image layout (directory or tar) or a docker save tarball; every blob is checked against its digest')
        .argument('<file>', 'the image: a directory or a tar file (gzip too)')
        .option('--name <name[:tag]>', "the image's name instead of the file's own")
        .option('--image-root <dir>', 'the image store (default: $TSPOD_IMAGE_ROOT or /var/lib/tspod/images)')
        .action(async (file: string, opts) => invoke(handlers.imageImport, file, withRoot(opts)));
      image
        .command('ls')
        .description('list images: name:tag, id, created, size')
        .option('--json', 'as JSON')
        .option('--image-root <dir>', 'the image store (default: $TSPOD_IMAGE_ROOT or /var/lib/tspod/images)')
        .action(async (opts) => invoke(handlers.imageList, withRoot(opts)));
      image
        .command('rm')
        .description("remove images (NAME[:TAG] or id) and the layers that neither another image nor a pod's container uses")
        .argument('<image...>', 'NAME[:TAG] or image id')
        .option('--image-root <dir>', 'the image store (default: $TSPOD_IMAGE_ROOT or /var/lib/tspod/images)')
        .action(async (refs: string[], opts) => invoke(handlers.imageRemove, refs, withRoot(opts)));
    },
    play: () => {
      program
        .command('play')
        .description('run every Pod of a file (YAML documents or a List), with its ConfigMaps and Secrets stored first')
        .argument('<file>', 'the file: Pods, ConfigMaps, Secrets')
        .option('--down', 'remove every pod, ConfigMap and Secret the file names, instead')
        .option('--replace', 'remove them first, then run the file')
        .action(async (file: string, opts) => invoke(handlers.play, file, withRoot(opts)));
    },
    configmap: () => objectCommands('configmap', 'ConfigMap'),
    secret: () => objectCommands('secret', 'Secret'),
  };

  /** tspod configmap|secret create / ls / rm. */
  function objectCommands(word: string, kind: 'ConfigMap' | 'Secret'): void {
    const what = kind === 'Secret' ? 'Secrets (0600 in the state directory; values never printed)' : 'ConfigMaps';
    const group = program.command(word).description(`stored ${what}, for pods' env and volumes: create, ls, rm`);
    const create = group
      .command('create')
      .description(`store a ${kind}; pods created later take its keys`)
      .argument('<name>', 'its name (a DNS-1123 subdomain)')
      .option('--from-literal <KEY=VALUE>', 'a key and its value (repeatable)', collect, [])
      .option(
        '--from-file <[KEY=]PATH>',
        "a file's bytes, under its name or KEY; a directory: each regular file (repeatable)",
        collect,
        [],
      );
    if (kind === 'Secret') create.option('--type <type>', "the Secret's type (default: Opaque)");
    create.action(async (name: string, opts) => invoke(handlers.objectCreate, kind, name, withRoot(opts)));
    group
      .command('ls')
      .description(`list ${kind}s: keys and sizes`)
      .option('--json', 'as JSON')
      .action(async (opts) => invoke(handlers.objectList, kind, withRoot(opts)));
    group
      .command('rm')
      .description(`remove ${kind}s (pods keep their copies)`)
      .argument('<name...>')
      .action(async (names: string[], opts) => invoke(handlers.objectRemove, kind, names, withRoot(opts)));
  }

  const named = commandWord(words);
  for (const [name, define] of Object.entries(commands)) {
    if (named === undefined || !Object.hasOwn(commands, named) || name === named) define();
  }
  return program;
}
