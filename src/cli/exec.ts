// tspod exec: a command inside a running container, run by this process itself (no daemon): it
// reads the pod's record, joins the container's namespaces through its pidfd, and waits for the
// command, which is its child. Without -t the command gets this process's own fds (stdin only
// with -i, else /dev/null); with -t it gets a pseudo-terminal that this process relays.
import { closeSync, openSync, writeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import type { ReadStream } from 'node:tty';
import { InputError } from '../errors.js';
import { loadBinding, type NativeBinding, type PtyPair } from '../native/binding.js';
import { execInContainer, execTarget } from '../runtime/exec.js';
import type { PodProcess } from '../runtime/process.js';
import { statusCode } from '../runtime/process.js';
import { within } from '../runtime/within.js';
import { stateRoot } from '../state/paths.js';
import { StateStore } from '../state/store.js';
import { requireRoot } from './errors.js';
import type { PodRecord } from '../state/records.js';

/** node:tty (and the net it loads) only for -t: a plain exec needs neither. */
const tty = () => require('node:tty') as typeof import('node:tty');

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

/** How soon to write to the pty again when the command is not reading (its queue is full). */
const RETRY_MS = 10;

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

async function execPlain(binding: NativeBinding, record: PodRecord, container: string, command: string[], interactive: boolean): Promise<number> {
  let proc: PodProcess | undefined;
  const unrelay = relaySignals(() => proc);
  try {
    // The command writes to this process's own fds 1 and 2: process.stdout is never touched,
    // since Node may make the fd behind it non-blocking, and the command would get EAGAIN.
    const stdin = interactive ? 0 : openSync('/dev/null', 'r');
    try {
      proc = execInContainer(binding, record, container, { command, stdio: [stdin, 1, 2], tty: false, parentDeathSignal: COMMAND_DEATH_SIGNAL });
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
    const sized = tty().isatty(1);
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

/**
 * Relays a pty master to this process's terminal: its output to stdout; with -i, stdin to it,
 * with this process's terminal (when stdin is one) in raw mode, so every key, Ctrl-C included,
 * reaches the command's terminal as typed. Without -i the terminal stays as it is: Ctrl-C then
 * is a SIGINT to this process, which passes it on. The window size follows stdout's.
 */
class TerminalRelay {
  private readonly output: ReadStream;
  private readonly ended: Promise<void>;
  private readonly undo: (() => void)[] = [];
  private input: PtyInput | undefined;
  private closed = false;

  constructor(
    private readonly binding: Pick<NativeBinding, 'setWindowSize'>,
    private readonly pty: PtyPair,
    opts: { interactive: boolean; sized: boolean },
  ) {
    // libuv reads the (non-blocking) master; the stream owns it from here and closes it.
    try {
      this.output = new (tty().ReadStream)(pty.master);
    } catch (err) {
      closeSync(pty.master);
      throw err;
    }
    this.ended = new Promise((resolve) => this.output.once('close', () => resolve()));
    this.output.on('error', (err: NodeJS.ErrnoException) => {
      // EIO: the command's side of the pty is closed, the normal end.
      if (err.code !== 'EIO') process.stderr.write(`tspod: reading the terminal: ${err.message}\n`);
    });
    this.output.on('data', (chunk: Buffer) => {
      if (!process.stdout.write(chunk)) {
        this.output.pause();
        process.stdout.once('drain', () => this.output.resume());
      }
    });

    try {
      if (opts.sized) {
        const onResize = () => this.resize();
        process.stdout.on('resize', onResize);
        this.undo.push(() => process.stdout.off('resize', onResize));
      }
      if (opts.interactive) this.relayInput();
    } catch (err) {
      this.close();
      throw err;
    }
  }

  private get masterOpen(): boolean {
    return !this.output.destroyed;
  }

  private resize(): void {
    if (!this.masterOpen) return;
    try {
      this.binding.setWindowSize(this.pty.master, process.stdout.columns, process.stdout.rows);
    } catch {
      // The pty is going away.
    }
  }

  private relayInput(): void {
    const stdin = process.stdin;
    if (stdin.isTTY) {
      stdin.setRawMode(true);
      const restore = () => stdin.setRawMode(false);
      // Also on a process.exit() from elsewhere: a raw terminal left behind is unusable.
      process.once('exit', restore);
      this.undo.push(() => {
        process.off('exit', restore);
        restore();
      });
    }
    this.input = new PtyInput(this.pty.master, () => this.masterOpen, (full) => (full ? stdin.pause() : stdin.resume()));
    const onData = (chunk: Buffer) => this.input!.write(chunk);
    const onEnd = () => this.input!.end();
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    this.undo.push(() => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.pause();
    });
  }

  /** Resolves when the master has given EIO, or after `ms` (someone else holds the slave). */
  async drained(ms: number): Promise<void> {
    await within(this.ended, ms);
  }

  /** Idempotent; restores this process's terminal, closes the master. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.input?.close();
    for (const undo of this.undo.reverse()) undo();
    this.output.destroy();
  }
}

/**
 * Writes to the non-blocking pty master. While the command does not read, the pty's queue fills
 * and writes fail with EAGAIN: the rest waits, stdin is paused, and writing is tried again a
 * little later. Nothing here ever blocks the event loop, which keeps reading the command's output.
 */
class PtyInput {
  private pending: Buffer[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastByte = 0x0a;

  constructor(
    private readonly fd: number,
    private readonly usable: () => boolean,
    private readonly onFull: (full: boolean) => void,
  ) {}

  write(chunk: Buffer): void {
    if (chunk.length) {
      this.pending.push(chunk);
      this.lastByte = chunk[chunk.length - 1];
    }
    this.flush();
  }

  /**
   * The caller's stdin ended (a pipe or file; a raw terminal sends its own ^D). A terminal has
   * no end of input, only VEOF: ^D ends a read at once, so one on an empty line reads as EOF; a
   * line without its newline needs one ^D to be read and another for the EOF.
   */
  end(): void {
    this.write(Buffer.from(this.lastByte === 0x0a || this.lastByte === 0x0d ? '\x04' : '\x04\x04'));
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = [];
  }

  private flush(): void {
    if (this.timer) return;
    while (this.pending.length) {
      if (!this.usable()) {
        this.pending = [];
        return;
      }
      let n: number;
      try {
        n = writeSync(this.fd, this.pending[0]);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          this.onFull(true);
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.flush();
          }, RETRY_MS);
          return;
        }
        // EIO: the command's side is closed; input it did not read is lost, as on a terminal.
        this.pending = [];
        return;
      }
      if (n < this.pending[0].length) this.pending[0] = this.pending[0].subarray(n);
      else this.pending.shift();
    }
    this.onFull(false);
  }
}
