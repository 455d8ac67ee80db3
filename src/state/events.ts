// A pod's events, as `kubectl get events` shows a pod's: what happened to it and its containers
// (Started, Killing, BackOff, Unhealthy...), oldest first, one JSON line each in its events file
// (pods/POD/events.jsonl, 0600). An event is one O_APPEND write of one line; once the file holds
// more than twice MAX_EVENTS lines, it is replaced whole (a temporary file renamed over it) by its
// last MAX_EVENTS, so a reader sees the old file or the new one, never half of one. Each pod has
// one writer, its supervisor: two writers could lose an event appended during the other's
// replacement. Reading never fails on what the file says: a damaged line is skipped.
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { shapes as s } from '../fs/files.js';

export interface PodEvent {
  /** When it happened (the last time, for a repeated event), ISO 8601. */
  at: string;
  type: 'Normal' | 'Warning';
  /** Kubernetes' words: Created, Started, Killing, Unhealthy, BackOff, Failed, OOMKilled... */
  reason: string;
  /** The container it is about; absent: the pod itself. */
  container?: string;
  message: string;
  /** How many times it happened in a row (kubectl's count); absent: once. */
  count?: number;
}

/** What a writer gives appendEvent: `at` defaults to now; the count is appendEvent's to keep. */
export type NewEvent = Omit<PodEvent, 'at' | 'count'> & { at?: string };

/** The events a file keeps: the last 1,000 (it holds up to twice that between replacements). */
export const MAX_EVENTS = 1000;
/** A longer message is cut: events.k8s.io limits an event's note to 1 kB. */
export const MAX_MESSAGE = 1024;
/** A repeat within this long of the previous event is counted, as the kubelet's aggregator does. */
const REPEAT_WINDOW_MS = 10 * 60_000;

const eventShape = s.object({
  at: s.string,
  type: s.oneOf(['Normal', 'Warning']),
  reason: s.string,
  container: s.optional(s.string),
  message: s.string,
  count: s.optional(s.count),
});

/** The event on one line of an events file; undefined for a damaged one. Unknown fields are dropped. */
export function parseEvent(line: string): PodEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (eventShape(v, 'event') !== undefined) return undefined;
  const e = v as PodEvent;
  if (!e.reason || Number.isNaN(Date.parse(e.at)) || e.count === 0) return undefined;
  return event(e.at, e.type, e.reason, e.container, e.message, e.count);
}

/** An event with its fields in one order (the order they are written in). */
function event(
  at: string,
  type: PodEvent['type'],
  reason: string,
  container: string | undefined,
  message: string,
  count?: number,
): PodEvent {
  const e: PodEvent = container === undefined ? { at, type, reason, message } : { at, type, reason, container, message };
  if (count !== undefined && count > 1) e.count = count;
  return e;
}

/** Whether `b` repeats `a`: the same type, reason, object and message. */
const repeats = (a: PodEvent, b: PodEvent) =>
  a.type === b.type && a.reason === b.reason && a.container === b.container && a.message === b.message;

/** The complete lines of `data`: what follows its last newline is being written, or was torn. */
function completeLines(data: Buffer): string[] {
  const end = data.lastIndexOf(0x0a);
  return end === -1 ? [] : data.toString('utf8', 0, end).split('\n');
}

/** Everything in fd from `from` to its end. */
function readFrom(fd: number, from: number): Buffer {
  const chunks: Buffer[] = [];
  const buf = Buffer.allocUnsafe(64 * 1024);
  for (let pos = from; ;) {
    const n = readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) return Buffer.concat(chunks);
    chunks.push(Buffer.from(buf.subarray(0, n)));
    pos += n;
  }
}

/**
 * What a writer knows of a file it appended to: while its inode and size are what it left, its
 * line count and last event need no reading. Another writer, or a hand, makes it read them again.
 */
interface Tail {
  ino: number;
  size: number;
  lines: number;
  last: PodEvent | undefined;
  /** The file ends without a newline (a write cut short): the next line starts with one. */
  torn: boolean;
}

const tails = new Map<string, Tail>();
/** Files a long-lived supervisor remembers, the least recently written forgotten first. */
const MAX_TAILS = 1024;

function scan(fd: number, ino: number): Tail {
  const data = readFrom(fd, 0);
  const lines = completeLines(data);
  let newlines = 0;
  for (let i = data.indexOf(0x0a); i !== -1; i = data.indexOf(0x0a, i + 1)) newlines++;
  const torn = data.length > 0 && data[data.length - 1] !== 0x0a;
  return { ino, size: data.length, lines: newlines, last: lines.length ? parseEvent(lines[lines.length - 1]) : undefined, torn };
}

/** Temporary files are named by pid and a count, as the records' are. */
let tmpCount = 0;

/** Replaces the file with its last MAX_EVENTS lines; the file's tail afterwards. */
function keepLast(file: string, fd: number, tail: Tail): Tail {
  const kept = completeLines(readFrom(fd, 0)).slice(-MAX_EVENTS);
  const text = kept.join('\n') + '\n';
  const tmp = `${file}.${process.pid}.${++tmpCount}`;
  try {
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return { ino: statSync(file).ino, size: Buffer.byteLength(text), lines: kept.length, last: tail.last, torn: false };
}

/**
 * Appends an event to a pod's events file (StatePaths.eventsFile), made 0600 if missing, and
 * answers it as written: `at` now unless given, the message cut to MAX_MESSAGE, and a repeat of
 * the previous event within 10 minutes counted (count 2, 3...; readEvents shows the last of the
 * run). Undefined when the pod's directory is gone (the pod was removed): the event is dropped.
 * Other errors (ENOSPC...) are thrown, the event perhaps written.
 */
export function appendEvent(file: string, e: NewEvent): PodEvent | undefined {
  let fd: number;
  try {
    // Read too: a writer that does not know the file counts its lines (libuv adds O_CLOEXEC).
    fd = openSync(file, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    tails.delete(file);
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    const known = tails.get(file);
    const tail = known && known.ino === st.ino && known.size === st.size ? known : scan(fd, st.ino);
    const at = e.at ?? new Date().toISOString();
    // Cut between characters: not between the two halves of a surrogate pair.
    const message = e.message.length > MAX_MESSAGE ? e.message.slice(0, MAX_MESSAGE - 1).replace(/[\ud800-\udbff]$/, '') + '…' : e.message;
    const once = event(at, e.type, e.reason, e.container, message);
    const last = tail.last;
    const since = last ? Date.parse(at) - Date.parse(last.at) : NaN;
    const again = last && repeats(last, once) && since >= 0 && since <= REPEAT_WINDOW_MS;
    const written = again ? event(at, e.type, e.reason, e.container, message, (last.count ?? 1) + 1) : once;
    const bytes = Buffer.from(`${tail.torn ? '\n' : ''}${JSON.stringify(written)}\n`);
    for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off);
    let next: Tail = { ino: st.ino, size: st.size + bytes.length, lines: tail.lines + (tail.torn ? 2 : 1), last: written, torn: false };
    if (next.lines > 2 * MAX_EVENTS) next = keepLast(file, fd, next);
    tails.delete(file);
    tails.set(file, next);
    if (tails.size > MAX_TAILS) tails.delete(tails.keys().next().value!);
    return written;
  } finally {
    closeSync(fd);
  }
}

/** A run of repeats (counted by appendEvent) as its last event, as kubectl shows one. */
export function collapseRepeats(events: PodEvent[]): PodEvent[] {
  const out: PodEvent[] = [];
  for (const e of events) {
    const prev = out[out.length - 1];
    if (prev && e.count !== undefined && e.count > (prev.count ?? 1) && repeats(prev, e)) out[out.length - 1] = e;
    else out.push(e);
  }
  return out;
}

/** The events in `file`, oldest first, repeats collapsed; none when there is no file. */
export function readEvents(file: string): PodEvent[] {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return collapseRepeats(completeLines(data).flatMap((l) => parseEvent(l) ?? []));
}

/** The last complete line of `data` (with its newline) and what follows it. */
function lastLineAndRest(data: Buffer): Buffer {
  const end = data.lastIndexOf(0x0a);
  const start = end <= 0 ? 0 : data.lastIndexOf(0x0a, end - 1) + 1;
  return Buffer.from(data.subarray(start));
}

/**
 * Follows an events file: each poll answers the events written since the last one (the first:
 * all there are), each line as written (a repeat is a line of its own, with its count). Nothing
 * is held open between polls. A file replaced by the bound (its last lines kept) is read on after
 * the last line this one read; a file that does not hold that line where it was read (another
 * inode, cut short, or made again with a freed inode's number) is read from after that line, or
 * from its start when it does not hold it at all (its pod removed and made again).
 */
export class EventFollower {
  private ino: number | undefined;
  /** How far the file has been read, in bytes. */
  private pos = 0;
  /** The bytes that end at `pos`: the last complete line read, and what followed it (a line being written). */
  private known: Buffer = Buffer.alloc(0);

  constructor(readonly file: string) {}

  poll(): PodEvent[] {
    const st = statSync(this.file, { throwIfNoEntry: false });
    if (!st) return this.forget();
    if (st.ino === this.ino && st.size === this.pos) return [];
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this.forget();
      throw err;
    }
    try {
      const now = fstatSync(fd);
      const lineEnd = this.known.lastIndexOf(0x0a) + 1;
      let from = this.pos - this.known.length;
      let data = now.ino === this.ino && now.size >= this.pos ? readFrom(fd, from) : undefined;
      let lines: string[];
      if (data?.subarray(0, this.known.length).equals(this.known)) {
        lines = completeLines(data.subarray(lineEnd));
      } else {
        from = 0;
        data = readFrom(fd, 0);
        lines = completeLines(data);
        const seen = lineEnd ? lines.lastIndexOf(this.known.toString('utf8', 0, lineEnd - 1)) : -1;
        lines = lines.slice(seen + 1);
      }
      this.ino = now.ino;
      this.pos = from + data.length;
      this.known = lastLineAndRest(data);
      return lines.flatMap((l) => parseEvent(l) ?? []);
    } finally {
      closeSync(fd);
    }
  }

  private forget(): PodEvent[] {
    this.ino = undefined;
    this.pos = 0;
    this.known = Buffer.alloc(0);
    return [];
  }
}
