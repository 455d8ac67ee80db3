// The stdio of a supervised pod: each process writes its stdout and stderr into pipes whose
// other ends the supervisor reads, line by line, into the container's CRI log file (and, in
// the foreground, onto the terminal).
//
// The pipes outlive their reader. A container's stdout is not the plain write end but the pipe
// opened again read-write (through /proc/self/fd), so the container itself always counts as a
// reader: if the supervisor dies, its writes never fail with EPIPE or kill it with SIGPIPE;
// they wait in the pipe buffer. A new supervisor opens /proc/PID/fd/1 and /proc/PID/fd/2 of the
// running process (checking they are the same pipes, by inode) and reads on.
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { CriLogWriter, type LogStream } from '../logs/cri.js';
import type { NativeBinding } from '../native/binding.js';
import type { PipeIds } from '../state/records.js';
import { within } from './within.js';

/** Where a process's stdin, stdout and stderr go. */
export interface ProcessIO {
  stdio: [number, number, number];
  /** Called after the spawn (successful or not): closes the parent's copies of child ends. */
  release(): void;
  /** Identifies the process's output pipes, so a later supervisor can find them (adopt). */
  pipes?: PipeIds;
  /** Resolves once everything the process (and whoever shares its pipes) wrote has been read. */
  drained?: Promise<void>;
}

/** Gives every process of a pod its stdio: a terminal's prefixer, log files, /dev/null. */
export interface PodIO {
  /** For each start of a process; `who` is a container name, or null for the infra. */
  open(who: string | null): ProcessIO;
  /** Reads on from a process started by an earlier supervisor. */
  adopt?(who: string | null, pid: number, pipes: PipeIds): void;
  /** A container was removed from the pod: what was kept for it can go. */
  forget?(who: string): void;
  /** After the pod has ended: waits until the output is flushed. */
  close(): Promise<void>;
}

/** Sees every chunk a pod process writes (the foreground's terminal output). */
export interface OutputTee {
  data(who: string | null, stream: LogStream, chunk: Buffer): void;
  /** One process's stream has ended. */
  end(who: string | null, stream: LogStream): void;
}

export interface LoggingOptions {
  /** The log file of a container, or of the infra (who = null). */
  logPath(who: string | null): string;
  tee?: OutputTee;
  maxBytes?: number;
  maxFiles?: number;
  /** A log write failed (ENOSPC, say); the output keeps being read. */
  onError?: (who: string | null, err: Error) => void;
}

/** One pipe being read into a log; `forgotten` once its container left the pod. */
interface Reader {
  who: string | null;
  socket: Socket;
  done: Promise<void>;
  forgotten?: boolean;
}

/** How long output may still arrive after the pod ended (an orphan could hold a pipe). */
const DRAIN_MS = 1000;

export class LoggingIO implements PodIO {
  private readonly binding: NativeBinding;
  private readonly opts: LoggingOptions;
  private readonly writers = new Map<string | null, CriLogWriter>();
  private readonly readers = new Set<Reader>();
  private devNull: number | undefined;
  /** Whose log writes are failing: reported once until one succeeds again. */
  private readonly failing = new Set<string | null>();

  constructor(binding: NativeBinding, opts: LoggingOptions) {
    this.binding = binding;
    this.opts = opts;
  }

  open(who: string | null): ProcessIO & { pipes: PipeIds } {
    this.devNull ??= openSync('/dev/null', 'r');
    const out = this.pipe(who, 'stdout');
    let err;
    try {
      err = this.pipe(who, 'stderr');
    } catch (e) {
      closeSync(out.childEnd);
      out.reader.socket.destroy();
      throw e;
    }
    return {
      stdio: [this.devNull, out.childEnd, err.childEnd],
      pipes: { stdout: out.ino, stderr: err.ino },
      drained: Promise.all([out.reader.done, err.reader.done]).then(() => undefined),
      release: () => {
        closeSync(out.childEnd);
        closeSync(err.childEnd);
      },
    };
  }

  /**
   * Reads on from the pipes of a process started by an earlier supervisor. What its fd 1 or 2 is
   * now is the process's choice: it is looked at without being opened (O_PATH), and opened, not
   * blocking, only when it is the pipe recorded. Opened plainly, a FIFO with no writer would
   * block the monitor for good (a device would be opened by root on the container's say-so).
   */
  adopt(who: string | null, pid: number, pipes: PipeIds): void {
    for (const [fd, stream] of [
      [1, 'stdout'],
      [2, 'stderr'],
    ] as const) {
      let path: number;
      try {
        path = openSync(`/proc/${pid}/fd/${fd}`, this.binding.constants.O_PATH);
      } catch {
        continue; // gone, or closed by the process itself
      }
      let readEnd: number | undefined;
      try {
        const st = fstatSync(path);
        // The process may have pointed its stdout elsewhere since: read only our own pipe.
        if (st.isFIFO() && st.ino === pipes[stream]) readEnd = openSync(`/proc/self/fd/${path}`, constants.O_RDONLY | constants.O_NONBLOCK);
      } catch {
        // gone meanwhile
      } finally {
        closeSync(path);
      }
      if (readEnd !== undefined) this.read(who, stream, readEnd);
    }
  }

  /** A container left the pod: its readers stop and its log file is closed. Their close events
   *  come later, when a new container of the same name may have a writer: they leave it alone. */
  forget(who: string): void {
    for (const r of this.readers) {
      if (r.who !== who) continue;
      r.forgotten = true;
      this.readers.delete(r);
      r.socket.destroy();
    }
    const w = this.writers.get(who);
    this.writers.delete(who);
    if (w) this.closeWriter(who, w);
  }

  async close(): Promise<void> {
    const readers = [...this.readers];
    await within(Promise.all(readers.map((r) => r.done)), DRAIN_MS);
    for (const r of readers) r.socket.destroy();
    for (const [who, w] of this.writers) this.closeWriter(who, w);
    this.writers.clear();
    if (this.devNull !== undefined) closeSync(this.devNull);
    this.devNull = undefined;
  }

  private closeWriter(who: string | null, w: CriLogWriter): void {
    try {
      w.close();
    } catch (err) {
      this.opts.onError?.(who, err as Error);
    }
  }

  private writer(who: string | null): CriLogWriter {
    let w = this.writers.get(who);
    if (!w) {
      w = new CriLogWriter(this.opts.logPath(who), { maxBytes: this.opts.maxBytes, maxFiles: this.opts.maxFiles });
      this.writers.set(who, w);
    }
    return w;
  }

  /** A pipe for one stream: we keep the read end; the child gets it opened read-write. */
  private pipe(who: string | null, stream: LogStream): { childEnd: number; ino: number; reader: Reader } {
    const [readEnd, writeEnd] = this.binding.pipe();
    let childEnd: number;
    try {
      childEnd = openSync(`/proc/self/fd/${writeEnd}`, 'r+');
    } catch (err) {
      closeSync(readEnd);
      throw err;
    } finally {
      closeSync(writeEnd);
    }
    const ino = fstatSync(readEnd).ino;
    return { childEnd, ino, reader: this.read(who, stream, readEnd) };
  }

  private read(who: string | null, stream: LogStream, fd: number): Reader {
    const socket = new Socket({ fd, readable: true, writable: false });
    const tee = this.opts.tee;
    socket.on('data', (chunk: Buffer) => {
      try {
        this.writer(who).write(stream, chunk);
        this.failing.delete(who);
      } catch (err) {
        // A full disk must not take the supervisor down: the pod matters more than its log.
        if (!this.failing.has(who)) this.opts.onError?.(who, err as Error);
        this.failing.add(who);
      }
      tee?.data(who, stream, chunk);
    });
    socket.on('error', () => socket.destroy());
    const reader: Reader = {
      who,
      socket,
      done: new Promise<void>((resolve) =>
        socket.once('close', () => {
          this.readers.delete(reader);
          try {
            // A forgotten container's log is closed, and a new one of its name may have one.
            if (!reader.forgotten) this.writers.get(who)?.end(stream);
          } catch (err) {
            this.opts.onError?.(who, err as Error);
          }
          tee?.end(who, stream);
          resolve();
        }),
      ),
    };
    this.readers.add(reader);
    return reader;
  }
}
