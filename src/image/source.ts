// Where an image is read from: a directory (an OCI layout, or an unpacked docker save) or a tar
// file of one, read in place by member offset. Member paths are looked up normalized; a path
// that is absolute or has a '..' is never looked up.
import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Transform, Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { TspodError } from '../errors.js';
import type { NativeBinding } from '../native/binding.js';
import { indexTarFile, type IndexedMember } from './tar.js';

export interface ImageSource {
  /** The file or directory, for messages. */
  readonly label: string;
  has(path: string): boolean;
  /** Size of the member; throws when it is missing. */
  size(path: string): number;
  /** The first bytes of the member (fewer if it is shorter). */
  head(path: string, n: number): Buffer;
  open(path: string): Readable;
}

/** 'a/./b', './a', 'a//b' as 'a/b'; undefined for an absolute path, one with '..' or a NUL. */
export function normalizeMemberPath(path: string): string | undefined {
  if (path.startsWith('/') || path.includes('\0')) return undefined;
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..') || parts.length === 0) return undefined;
  return parts.join('/');
}

function missing(label: string, path: string): TspodError {
  return new TspodError(`${label}: ${path} is missing`);
}

/**
 * An image directory, read without ever leaving it: each member is opened with openat2's
 * RESOLVE_BENEATH, so a symlink in it may lead to another of its files (docker save has used
 * such links) but never out of it: a manifest.json linked to a root-only file is refused,
 * never read by root and echoed in an error.
 */
export class DirSource implements ImageSource {
  constructor(
    readonly label: string,
    private readonly binding: Pick<NativeBinding, 'openBeneath'>,
  ) {}

  /** The member opened, when it is a regular file of the directory; undefined when it is not there. */
  private openMember(path: string): number | undefined {
    const p = normalizeMemberPath(path);
    if (!p) return undefined;
    let fd: number;
    try {
      fd = this.binding.openBeneath(this.label, p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // No such member: not there, a path through a non-directory, too long, or a symlink loop.
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG' || code === 'ELOOP') return undefined;
      if (code === 'EXDEV') throw new TspodError(`${this.label}: ${p} leads out of the directory (a symlink or '..'): refused`);
      throw new TspodError(`${this.label}: ${p} cannot be read: ${(err as Error).message}`, 125, err);
    }
    if (!fstatSync(fd).isFile()) {
      closeSync(fd);
      return undefined;
    }
    return fd;
  }

  private need(path: string): number {
    const fd = this.openMember(path);
    if (fd === undefined) throw missing(this.label, path);
    return fd;
  }

  has(path: string): boolean {
    const fd = this.openMember(path);
    if (fd !== undefined) closeSync(fd);
    return fd !== undefined;
  }

  size(path: string): number {
    const fd = this.need(path);
    try {
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  }

  head(path: string, n: number): Buffer {
    const fd = this.need(path);
    try {
      const buf = Buffer.alloc(n);
      return buf.subarray(0, readSync(fd, buf, 0, n, 0));
    } finally {
      closeSync(fd);
    }
  }

  open(path: string): Readable {
    return createReadStream('', { fd: this.need(path) });
  }
}

export class TarSource implements ImageSource {
  private readonly members = new Map<string, IndexedMember>();

  /** `file` is read; `label` names it in messages (the user's file, when `file` is a copy). */
  constructor(
    private readonly file: string,
    readonly label: string,
  ) {
    for (const [path, m] of indexTarFile(file)) {
      const p = normalizeMemberPath(path);
      if (p) this.members.set(p, m);
    }
  }

  /** The regular file a path names, through the archive's own symlinks and hardlinks. */
  private find(path: string, depth = 0): IndexedMember | undefined {
    const p = normalizeMemberPath(path);
    const m = p === undefined ? undefined : this.members.get(p);
    if (!m || depth > 8) return undefined;
    switch (m.entry.type) {
      case 'file':
        return m;
      case 'hardlink':
        return this.find(m.entry.linkname, depth + 1);
      case 'symlink': {
        // docker save has used relative symlinks between its files; resolved in the archive.
        if (m.entry.linkname.startsWith('/')) return undefined;
        const dir = p!.split('/').slice(0, -1);
        const target = [...dir, ...m.entry.linkname.split('/')];
        const out: string[] = [];
        for (const part of target) {
          if (part === '' || part === '.') continue;
          if (part === '..') {
            if (!out.length) return undefined;
            out.pop();
          } else out.push(part);
        }
        return this.find(out.join('/'), depth + 1);
      }
      default:
        return undefined;
    }
  }

  has(path: string): boolean {
    return this.find(path) !== undefined;
  }

  size(path: string): number {
    const m = this.find(path);
    if (!m) throw missing(this.label, path);
    return m.entry.size;
  }

  head(path: string, n: number): Buffer {
    const m = this.find(path);
    if (!m) throw missing(this.label, path);
    const fd = openSync(this.file, 'r');
    try {
      const buf = Buffer.alloc(Math.min(n, m.entry.size));
      return buf.subarray(0, readSync(fd, buf, 0, buf.length, m.offset));
    } finally {
      closeSync(fd);
    }
  }

  open(path: string): Readable {
    const m = this.find(path);
    if (!m) throw missing(this.label, path);
    if (m.entry.size === 0) return Readable.from([]);
    return createReadStream(this.file, { start: m.offset, end: m.offset + m.entry.size - 1 });
  }
}

export type Compression = 'none' | 'gzip';

/** What the first bytes say; compressions tspod cannot read are refused here, by name. */
export function sniffCompression(head: Buffer, what: string): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])))
    throw new TspodError(`${what}: zstd-compressed, which tspod does not support (only tar and tar+gzip)`);
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])))
    throw new TspodError(`${what}: xz-compressed, which tspod does not support (only tar and tar+gzip)`);
  if (head.subarray(0, 3).toString('latin1') === 'BZh')
    throw new TspodError(`${what}: bzip2-compressed, which tspod does not support (only tar and tar+gzip)`);
  return 'none';
}

export interface Measured {
  /** sha256 of the bytes as stored. */
  digest: string;
  size: number;
  /** sha256 after gunzip, when asked for. */
  uncompressedDigest?: string;
}

/**
 * Reads a stream to the end: its digest and size and, when `gunzip`, its content's digest;
 * `bound` (a pass-through that may fail) sits after the gunzip, to stop a bomb.
 */
export async function measure(stream: Readable, gunzip: boolean, bound?: Transform): Promise<Measured> {
  const raw = createHash('sha256');
  let size = 0;
  const inner = createHash('sha256');
  const sink = (hash: ReturnType<typeof createHash>, count?: (n: number) => void) =>
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        count?.(chunk.length);
        cb();
      },
    });
  if (!gunzip) {
    await pipeline(
      stream,
      sink(raw, (n) => (size += n)),
    );
    return { digest: `sha256:${raw.digest('hex')}`, size };
  }
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      raw.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  if (bound) await pipeline(stream, tap, createGunzip(), bound, sink(inner));
  else await pipeline(stream, tap, createGunzip(), sink(inner));
  return { digest: `sha256:${raw.digest('hex')}`, size, uncompressedDigest: `sha256:${inner.digest('hex')}` };
}
