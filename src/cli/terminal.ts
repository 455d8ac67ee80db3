// The terminal of tspod exec -t: the command gets a pty's slave; this process relays the master
// to its own terminal, output and (with -i) input, and keeps the window size in step. Loaded
// only for -t, with node:tty (for this process's own terminal).
import { closeSync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import type { FdReaderHandle, NativeBinding, PtyPair } from '../native/binding.js';
import { within } from '../runtime/within.js';

/** Whether this process's stdout is a terminal, whose size the command's pty then follows. */
export const stdoutIsTerminal = (): boolean => isatty(1);

/** How soon to write to the pty again when the command is not reading (its queue is full). */
const RETRY_MS = 10;

/**
 * Relays a pty master to this process's terminal: its output to stdout; with -i, stdin to it,
 * with this process's terminal (when stdin is one) in raw mode, so every key, Ctrl-C included,
 * reaches the command's terminal as typed. Without -i the terminal stays as it is: Ctrl-C then
 * is a SIGINT to this process, which passes it on. The window size follows stdout's.
 */
export class TerminalRelay {
  private readonly output: FdReaderHandle;
  private readonly ended: Promise<void>;
  private masterOpen = true;
  private readonly undo: (() => void)[] = [];
  private input: PtyInput | undefined;
  private closed = false;

  constructor(
    private readonly binding: Pick<NativeBinding, 'setWindowSize' | 'FdReader'>,
    private readonly pty: PtyPair,
    opts: { interactive: boolean; sized: boolean },
  ) {
    // The (non-blocking) master is read to its true end, EIO once the command's side is closed
    // and empty: a libuv stream would stop at the hang-up and lose what was still buffered.
    // The relay owns the master from here and closes it.
    let end!: () => void;
    this.ended = new Promise((resolve) => (end = resolve));
    try {
      this.output = new binding.FdReader(
        pty.master,
        (chunk) => {
          if (!process.stdout.write(chunk)) {
            this.output.pause();
            process.stdout.once('drain', () => this.output.resume());
          }
        },
        (err) => {
          if (err) process.stderr.write(`tspod: reading the terminal: ${err.message}\n`);
          end();
        },
      );
    } catch (err) {
      closeSync(pty.master);
      throw err;
    }

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
    this.input = new PtyInput(
      this.pty.master,
      () => this.masterOpen,
      (full) => (full ? stdin.pause() : stdin.resume()),
    );
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
    this.output.close();
    this.masterOpen = false;
    closeSync(this.pty.master);
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
