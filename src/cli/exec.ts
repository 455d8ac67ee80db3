// tspod exec: a command inside a running container, run by this process itself (no daemon): it
// reads the pod's record, joins the container's namespaces through its pidfd, and waits for the
// command, which is its child. Without -t the command gets this process's own fds (stdin only
// with -i, else /dev/null); with -t it gets a pseudo-terminal that this process relays.
import { closeSync, openSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { InputError } from '../errors.js';
import { loadBinding, type NativeBinding } from '../native/binding.js';
import { execInContainer, execTarget } from '../runtime/exec.js';
import { statusCode, type PodProcess } from '../runtime/process.js';
import { stateRoot } from '../state/paths.js';
import type { PodRecord } from '../state/records.js';
import { StateStore } from '../state/store.js';
import { requireRoot } from './root.js';
import type { TerminalRelay } from './terminal.js';

/** The terminal relay, node:tty and the net it loads, only for -t: a plain exec needs none. */
const terminal = () => require('./terminal.js') as typeof import('./terminal.js');

export interface ExecCliOptions {
  /** -i: the command reads this process's stdin. */
  interactive?: boolean;
  /** -t: the command gets a pseudo-terminal. */
  tty?: boolean;
  /** The state directory (--root); default $TSPOD_ROOT, else /run/tspod. */
  root?: string;
}

/**
 * Signals this process gets are passed on to the command, and do not end this process: it
 * returns the command's status. (With -t and a raw terminal, Ctrl-C is a byte on the pty.)
 */
const RELAYED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

/**
 * How long the pty's output may still arrive after the command exited. Normally the end (EIO)
 * comes at once; the cap is for an orphan that holds the terminal open, and is generous because
 * a loaded machine can take a while to hand over what the command wrote last.
 */
const DRAIN_MS = 5000;

/**
 * If this process dies, even by SIGKILL, so does the command: nobody else could read its
 * status, and no supervisor knows it is in the pod.
 */
const COMMAND_DEATH_SIGNAL = osConstants.signals.SIGKILL;

/**
 * `command` is what follows the container on the command line. With passThroughOptions,
 * commander keeps a `--` that comes after a positional argument: one leading `--` is dropped,
 * so `tspod exec P C -- ls -l` and `tspod exec P C ls -l` mean the same.
 */
export async function exec(pod: string, container: string, command: string[], opts: ExecCliOptions): Promise<number> {
  requireRoot('tspod exec', "it joins a container's namespaces with setns (CAP_SYS_ADMIN)");
  if (command[0] === '--') command = command.slice(1);
  if (!command.length) throw new InputError('exec', 'give a command after -- (tspod exec POD CONTAINER -- CMD ARGS)');
  const store = new StateStore(stateRoot(opts.root));
  const record = store.need(pod);
  // Before anything is opened: an unknown or stopped container is a plain error.
  execTarget(record, container);
  const binding = loadBinding();
  return opts.tty
    ? execWithTerminal(binding, record, container, command, !!opts.interactive)
    : execPlain(binding, record, container, command, !!opts.interactive);
}

/** Passes RELAYED signals on to the process, once there is one; returns the undo. */
function relaySignals(proc: () => PodProcess | undefined): () => void {
  const onSignal = (name: NodeJS.Signals) => proc()?.signal(osConstants.signals[name]);
  for (const s of RELAYED) process.on(s, onSignal);
  return () => {
    for (const s of RELAYED) process.off(s, onSignal);
  };
}

async function execPlain(
  binding: NativeBinding,
  record: PodRecord,
  container: string,
  command: string[],
  interactive: boolean,
): Promise<number> {
  let proc: PodProcess | undefined;
  const unrelay = relaySignals(() => proc);
  try {
    // The command writes to this process's own fds 1 and 2: process.stdout is never touched,
    // since Node may make the fd behind it non-blocking, and the command would get EAGAIN.
    const stdin = interactive ? 0 : openSync('/dev/null', 'r');
    try {
      proc = execInContainer(binding, record, container, {
        command,
        stdio: [stdin, 1, 2],
        tty: false,
        parentDeathSignal: COMMAND_DEATH_SIGNAL,
      });
    } finally {
      if (stdin !== 0) closeSync(stdin);
    }
    return statusCode(await proc.exited);
  } finally {
    unrelay();
  }
}

async function execWithTerminal(
  binding: NativeBinding,
  record: PodRecord,
  container: string,
  command: string[],
  interactive: boolean,
): Promise<number> {
  let proc: PodProcess | undefined;
  const unrelay = relaySignals(() => proc);
  const pty = binding.openPty();
  let relay: TerminalRelay | undefined;
  let masterOwned = false;
  try {
    // Sized before the command starts, so it never sees 0x0. Only the pty is the command's:
    // this process's stdout may be used here.
    const { TerminalRelay, stdoutIsTerminal } = terminal();
    const sized = stdoutIsTerminal();
    if (sized) binding.setWindowSize(pty.master, process.stdout.columns, process.stdout.rows);
    try {
      proc = execInContainer(binding, record, container, {
        command,
        stdio: [pty.slave, pty.slave, pty.slave],
        tty: true,
        term: process.env.TERM,
        parentDeathSignal: COMMAND_DEATH_SIGNAL,
      });
    } finally {
      // The master reads EIO once every copy of the slave is closed: ours goes now.
      closeSync(pty.slave);
    }
    masterOwned = true;
    relay = new TerminalRelay(binding, pty, { interactive, sized });
    const status = await proc.exited;
    await relay.drained(DRAIN_MS);
    return statusCode(status);
  } finally {
    relay?.close();
    if (!masterOwned) closeSync(pty.master);
    unrelay();
  }
}
