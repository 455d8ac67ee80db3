// Container log files in the CRI format, the one the kubelet's runtimes write and Kubernetes log
// shippers (fluent-bit's "cri" parser, promtail, vector) read:
//
//   2026-11-26T21:42:48.123456789Z stdout F a complete line
//   2026-11-26T21:42:48.123460000Z stderr P the first 16 KiB of a longer line...
//   2026-11-26T21:42:48.123460000Z stderr F ...and the rest of it
//
// Rotation follows the kubelet's containerLogMaxSize/containerLogMaxFiles: the live file plus
// path.1 (newest) ... path.N-1 (oldest).
import { closeSync, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';

export type LogStream = 'stdout' | 'stderr';

/** The longest text of one entry, in bytes; a longer line becomes P chunks and a final F. */
export const MAX_LINE = 16 * 1024;
const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
const DEFAULT_MAX_FILES = 5;

export interface CriLine {
  time: string;
  stream: LogStream;
  /** A chunk of a longer line, continued by the next entries of the same stream. */
  partial: boolean;
  text: string;
}

export interface CriLogWriterOptions {
  /** Rotate before the live file would grow past this many bytes. */
  maxBytes?: number;
  /** The live file and the rotated ones together. */
  maxFiles?: number;
  /** The timestamp of an entry (tests fix it). */
  now?: () => string;
}

// Date.now() has milliseconds only: the clock is performance.now() (monotonic, sub-microsecond)
// from an anchor on the wall clock. It is anchored again when the wall clock was stepped (NTP
// at boot) by more than a second, and never goes back: entries stay in order for sorting tools.
const NS_PER_MS = 1_000_000n;
const STEP_NS = 1_000_000_000n;

/** A nanosecond clock as above, from a wall clock and a monotonic one, both in milliseconds. */
export function anchoredClock(wallMs: () => number, monoMs: () => number, originMs: number): () => bigint {
  const toNs = (ms: number) => BigInt(Math.round(ms * 1e6));
  // An epoch in ms times 1e6 is past 2^53: converted in microseconds, exactly.
  let offsetNs = BigInt(Math.round(originMs * 1e3)) * 1000n;
  let lastNs = 0n;
  return () => {
    const mono = toNs(monoMs());
    const drift = BigInt(wallMs()) * NS_PER_MS - (mono + offsetNs);
    if (drift > STEP_NS || drift < -STEP_NS) offsetNs += drift;
    const ns = mono + offsetNs;
    lastNs = ns > lastNs ? ns : lastNs;
    return lastNs;
  };
}

const nowNs = anchoredClock(Date.now, () => performance.now(), performance.timeOrigin);

/** Now, in RFC 3339 with nanoseconds, UTC: 2026-11-26T21:42:48.123456789Z. */
export function criTimestamp(ns: bigint = nowNs()): string {
  const seconds = ns / 1_000_000_000n;
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${fraction}Z`;
}

/**
 * The end of the longest prefix of buf[0, limit) that does not cut a UTF-8 character: each chunk
 * stays valid text for readers that decode chunk by chunk.
 */
function chunkEnd(buf: Buffer, limit: number): number {
  let end = limit;
  // Back over continuation bytes (10xxxxxx) to the start of the character that crosses the limit.
  while (end > limit - 3 && (buf[end] & 0xc0) === 0x80) end--;
  // Not UTF-8 after all (or a lone run of continuation bytes): cut at the limit.
  return (buf[end] & 0xc0) === 0x80 ? limit : end;
}

export class CriLogWriter {
  readonly path: string;
  private readonly maxBytes: number;
  private readonly maxFiles: number;
  private readonly now: () => string;
  /** Undefined after a failed rotation (the next entry opens the file again) or close(). */
  private fd: number | undefined;
  private closed = false;
  /** Bytes in the live file: kept here, so no stat per write. */
  private size = 0;
  /** Per stream, the start of a line whose newline has not arrived yet (at most MAX_LINE bytes). */
  private readonly pending: Record<LogStream, Buffer> = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };

  constructor(path: string, opts: CriLogWriterOptions = {}) {
    this.path = path;
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    this.maxFiles = opts.maxFiles ?? DEFAULT_MAX_FILES;
    this.now = opts.now ?? (() => criTimestamp());
    for (const [name, n] of [
      ['maxBytes', this.maxBytes],
      ['maxFiles', this.maxFiles],
    ] as const) {
      if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${path}: ${name} ${n} is not a positive integer`);
    }
    this.fd = this.open();
  }

  write(stream: LogStream, data: Buffer | string): void {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let start = 0;
    for (let nl = buf.indexOf(0x0a); nl !== -1; nl = buf.indexOf(0x0a, start)) {
      const piece = buf.subarray(start, nl);
      const head = this.pending[stream];
      this.pending[stream] = Buffer.alloc(0);
      this.line(stream, head.length ? Buffer.concat([head, piece]) : piece);
      start = nl + 1;
    }
    if (start === buf.length) return;
    let rest = Buffer.concat([this.pending[stream], buf.subarray(start)]);
    // A line without an end in sight goes out in P chunks now, so memory stays bounded.
    while (rest.length > MAX_LINE) {
      const end = chunkEnd(rest, MAX_LINE);
      this.entry(stream, 'P', rest.subarray(0, end));
      rest = rest.subarray(end);
    }
    this.pending[stream] = Buffer.from(rest);
  }

  /** The stream ended: a last line without a newline is still a line. */
  end(stream: LogStream): void {
    const rest = this.pending[stream];
    if (!rest.length) return;
    this.pending[stream] = Buffer.alloc(0);
    this.line(stream, rest);
  }

  close(): void {
    if (this.closed) return;
    try {
      this.end('stdout');
      this.end('stderr');
    } finally {
      this.closed = true;
      if (this.fd !== undefined) closeSync(this.fd);
      this.fd = undefined;
    }
  }

  private open(): number {
    const fd = openSync(this.path, 'a', 0o600);
    // The file may be there already: a supervisor that restarted appends to its container's log.
    this.size = fstatSync(fd).size;
    return fd;
  }

  /** One complete line: P chunks while it is longer than MAX_LINE, then an F. */
  private line(stream: LogStream, text: Buffer): void {
    while (text.length > MAX_LINE) {
      const end = chunkEnd(text, MAX_LINE);
      this.entry(stream, 'P', text.subarray(0, end));
      text = text.subarray(end);
    }
    this.entry(stream, 'F', text);
  }

  private entry(stream: LogStream, tag: 'F' | 'P', text: Buffer): void {
    if (this.closed) throw new Error(`${this.path}: log writer is closed`);
    this.fd ??= this.open();
    const entry = Buffer.concat([Buffer.from(`${this.now()} ${stream} ${tag} `), text, NEWLINE]);
    // An entry bigger than maxBytes still gets written, alone in a fresh file.
    if (this.size > 0 && this.size + entry.length > this.maxBytes) this.rotate();
    writeSync(this.fd!, entry);
    this.size += entry.length;
  }

  private rotate(): void {
    closeSync(this.fd!);
    // Should a step fail (the directory removed, a full file system), the next entry reopens.
    this.fd = undefined;
    // path.N-2 -> path.N-1 first: rename replaces the oldest, which drops it.
    for (let n = this.maxFiles - 1; n >= 2; n--) renameIfThere(`${this.path}.${n - 1}`, `${this.path}.${n}`);
    if (this.maxFiles > 1) renameIfThere(this.path, `${this.path}.1`);
    else rmSync(this.path, { force: true });
    this.fd = this.open();
  }
}

const NEWLINE = Buffer.from('\n');

/** A file that is missing (removed by hand) is nothing to keep. */
function renameIfThere(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

// RFC 3339 with any fraction, in UTC or with an offset (other runtimes write either).
const CRI_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) ([FP]) ([^]*)$/;

/** One line of a CRI log, without its newline; undefined when it is not one. */
export function parseCriLine(line: string): CriLine | undefined {
  const m = CRI_LINE.exec(line);
  if (!m) return undefined;
  return { time: m[1], stream: m[2] as LogStream, partial: m[3] === 'P', text: m[4] };
}
