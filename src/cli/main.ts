#!/usr/bin/env node
// The tspod command. Each command's module is loaded only when that command runs.
import { createRequire } from 'node:module';
import { Command } from 'commander';
import { collect } from './options.js';
import { handleError } from './errors.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

const program = new Command('tspod')
  .description('Kubernetes-style pods on a bare Linux host: a pause process holds the namespaces, containers join them')
  .version(version, '-v, --version')
  .enablePositionalOptions()
  .showHelpAfterError('(tspod --help for usage)');

program
  .command('run')
  .description('run a pod in the foreground: one command (after --), or a manifest (-f)')
  .argument('[command...]', 'the command and its arguments (after --)')
  .option('-f, --file <manifest>', 'a Pod manifest (Kubernetes Pod v1 subset), YAML or JSON')
  .option('--name <name>', 'pod name (a DNS-1123 label); also the container name for a command')
  .option('--hostname <name>', 'hostname inside the pod (default: the pod name)')
  .option('--share <list>', 'namespaces the containers share with the infra: net,ipc,uts,pid (default: all four)')
  .option('--pause <path>', 'a custom infra program instead of tspod\'s pause')
  .option('-e, --env <KEY=VALUE>', 'set an environment variable in every container (repeatable)', collect, [])
  .option('-w, --workdir <dir>', 'working directory of the command (default: the current one)')
  .option('--grace <seconds>', 'seconds between SIGTERM and SIGKILL when the pod stops (default: 30)')
  .passThroughOptions()
  .addHelpText(
    'after',
    `
Exit status: the container's own (128+N if a signal N ended it) for a single command; for a
manifest, 0 when every container exited 0, else the status of the first that did not;
130/143 when stopped by Ctrl-C/SIGTERM; 125 for an error of tspod; 126/127 when a container's
command cannot be run/found.

Examples:
  sudo tspod run -- sh -c 'hostname; ps'
  sudo tspod run -f examples/seed/pod.yaml`,
  )
  .action(async (command: string[], opts) => {
    const { run } = await import('./run.js');
    process.exit(await run(command, opts));
  });

try {
  await program.parseAsync();
} catch (err) {
  process.exit(handleError(err));
}
