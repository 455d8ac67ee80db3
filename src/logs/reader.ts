// Reading a container's CRI log back: the rotated files oldest first, then the live one, with
// each long line's P chunks joined to its F. Following polls: fs.watch misses changes on some
// file systems, and a read every few hundred milliseconds costs nothing.
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parseCriLine, type LogStream } from './cri.js';

export interface LogLine {
  /** When the line began (its first chunk). */
  time: string;
  stream: LogStream;
  text: string;
}

export interface FollowOptions {
  /** Start with the last N lines (default: all). */
  tail?: number;
  onLine(line: LogLine): void;
  /** True when nothing more will be written: following ends once what is there has been read. */
  done(): boolean;
  pollMs?: number;
  signal?: AbortSignal;
}

const DEFAULT_POLL_MS = 250;
const READ_SIZE = 64 * 1024;

/** The files of a log that exist, oldest first: path.N ... path.1, path. */
export function logFiles(path: string): string[] {
  const name = basename(path);
  let entries: string[];
  try {
    entries = readdirSync(dirname(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const rotated = entries
    .map((e) => (e.startsWith(`${name}.`) && /^[1-9]\d*$/.test(e.slice(name.length + 1)) ? Number(e.slice(name.length + 1)) : 0))
    .filter((n) => n > 0)
    .sort((a, b) => b - a)
    .map((n) => `${path}.${n}`);
  return entries.includes(name) ? [...rotated, path] : rotated;
}

/** Turns the bytes of a log, file after file, into complete lines. */
class LineAssembler {
  /** Bytes after the last newline of the current file (an entry being written). */
  private rest = Buffer.alloc(0);
  /** Per stream, the P chunks of a line whose F has not been read yet: they may span files. */
  private readonly open: Record<LogStream, { time: string; texts: string[] } | undefined> = { stdout: undefined, stderr: undefined };

  constructor(private readonly emit: (line: LogLine) => void) {}

  push(chunk: Buffer): void {
    const data = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    let start = 0;
    for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, start)) {
      this.entry(data.toString('utf8', start, nl));
      start = nl + 1;
    }
    this.rest = Buffer.from(data.subarray(start));
  }

  /** The next bytes come from another file: an unfinished entry here will never be finished. */
  nextFile(): void {
    this.rest = Buffer.alloc(0);
  }

  private entry(raw: string): void {
    // Not an entry (a torn write after a crash, a foreign line): skipped, as the kubelet does.
    const e = parseCriLine(raw);
    if (!e) return;
    const open = this.open[e.stream];
    if (e.partial) {
      if (open) open.texts.push(e.text);
      else this.open[e.stream] = { time: e.time, texts: [e.text] };
      return;
    }
    this.open[e.stream] = undefined;
    const text = open ? open.texts.join('') + e.text : e.text;
    this.emit({ time: open?.time ?? e.time, stream: e.stream, text });
  }
}

/** Reads fd from `pos` to its end into the assembler; returns the new position. */
function drain(fd: number, pos: number, into: LineAssembler): number {
  const buf = Buffer.allocUnsafe(READ_SIZE);
  for (;;) {
    const n = readSync(fd, buf, 0, READ_SIZE, pos);
    if (n === 0) return pos;
    into.push(buf.subarray(0, n));
    pos += n;
  }
}

/** A file of the log, held open: renaming it (rotation) does not disturb its reader. */
interface Opened {
  fd: number;
  ino: number;
  /** How far it has been read. */
  pos: number;
}

function openFile(path: string): Opened | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return { fd, ino: fstatSync(fd).ino, pos: 0 };
}

function inodeOf(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

const OPEN_ATTEMPTS = 10;

/**
 * The log's files, newest (normally the live one) first, each held open. They are opened newest
 * first, so a rotation meanwhile shows: the next name then holds a file already opened (or
 * none). Then it starts again; after a few attempts it takes what it has.
 */
function openAll(path: string): Opened[] {
  for (let attempt = 1; ; attempt++) {
    const files: Opened[] = [];
    let raced = false;
    for (const name of logFiles(path).reverse()) {
      const f = openFile(name);
      if (f && !files.some((o) => o.ino === f.ino)) {
        files.push(f);
        continue;
      }
      if (f) closeSync(f.fd);
      raced = true;
      if (attempt < OPEN_ATTEMPTS) break;
    }
    if (!raced || attempt >= OPEN_ATTEMPTS) return files;
    for (const f of files) closeSync(f.fd);
  }
}

/**
 * Reads files (newest first, as openAll gives them), all but the newest to their end and closed;
 * the newest is read as far as it goes and returned, to be read on.
 */
function readOn(files: Opened[], into: LineAssembler): Opened | undefined {
  const [current, ...older] = files;
  for (const f of older.reverse()) {
    drain(f.fd, 0, into);
    closeSync(f.fd);
    into.nextFile();
  }
  if (current) current.pos = drain(current.fd, 0, into);
  return current;
}

/** The complete lines of a log, across its rotated files, in order; with tail, the last N. */
export function readLog(path: string, opts: { tail?: number } = {}): LogLine[] {
  const lines: LogLine[] = [];
  const current = readOn(openAll(path), new LineAssembler((l) => lines.push(l)));
  if (current) closeSync(current.fd);
  return opts.tail === undefined ? lines : lines.slice(lines.length - Math.min(opts.tail, lines.length));
}

/**
 * Reads what was added to the file being followed. When the live file has been rotated, it
 * finishes the old file, reads every file rotated after it (there may have been several
 * rotations since the last poll), and goes on with the new live file.
 */
function poll(path: string, current: Opened | undefined, into: LineAssembler): Opened | undefined {
  // No file yet when following started: whatever appears since is new.
  if (!current) return readOn(openAll(path), into);
  current.pos = drain(current.fd, current.pos, into);
  const ino = inodeOf(path);
  if (ino === undefined) return current; // renamed, the new one not created yet
  if (ino === current.ino) {
    // Truncated in place (copytruncate by some outside tool): read it again from the start.
    if (fstatSync(current.fd).size < current.pos) {
      into.nextFile();
      current.pos = drain(current.fd, 0, into);
    }
    return current;
  }
  // Rotated: what was written before the rename is in the file still held; nothing comes after.
  current.pos = drain(current.fd, current.pos, into);
  into.nextFile();
  const files = openAll(path);
  // Not among them: it was dropped as the oldest, so every file there is newer.
  const at = files.findIndex((f) => f.ino === current.ino);
  const newer = at === -1 ? files : files.slice(0, at);
  for (const f of files.slice(newer.length)) closeSync(f.fd);
  if (!newer.length) return current; // the new live file is not there yet
  closeSync(current.fd);
  return readOn(newer, into);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    signal?.addEventListener('abort', wake, { once: true });
  });
}

/**
 * Prints the log's last lines (all without tail), then each new line as it is written, until
 * done() is true and everything written until then has been read, or the signal aborts.
 */
export async function followLog(path: string, opts: FollowOptions): Promise<void> {
  const { signal } = opts;
  const pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
  let emit = opts.onLine;
  const first: LogLine[] = [];
  const into = new LineAssembler((l) => emit(l));
  if (opts.tail !== undefined) emit = (l) => first.push(l);
  let current = readOn(openAll(path), into);
  if (opts.tail !== undefined) {
    emit = opts.onLine;
    for (const l of first.slice(first.length - Math.min(opts.tail, first.length))) emit(l);
  }
  try {
    while (!signal?.aborted) {
      // Asked before reading: what was written before done() turned true is read below.
      const finished = opts.done();
      current = poll(path, current, into);
      if (finished || signal?.aborted) return;
      await sleep(pollMs, signal);
    }
  } finally {
    if (current) closeSync(current.fd);
  }
}
