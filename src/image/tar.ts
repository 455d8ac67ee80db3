// A tar reader, written for tspod's two uses: the layers of an image (a stream, read once,
// gunzipped on the fly) and the archive an image comes in (a file, read by member offset).
// It understands ustar, pax ('x' and 'g' headers, with binary-safe values) and GNU long names
// ('L', 'K') and base-256 numbers. It never touches the file system: unpack.ts does, as root.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { TspodError } from '../errors.js';

const BLOCK = 512;
/** A pax header or a GNU long name bigger than this is refused: it would only be an attack. */
const MAX_META = 1 << 20;

export type EntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  /** As in the archive, after pax and GNU long names: not yet checked or normalized. */
  path: string;
  type: EntryType;
  /** Permission bits with setuid, setgid and sticky (mode & 07777). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data that follow (files only; 0 for every other type). */
  size: number;
  /** Seconds since the epoch; pax gives fractions. */
  mtime: number;
  /** Target of a symlink or a hardlink. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** From pax SCHILY.xattr.NAME records. */
  xattrs: Map<string, Buffer>;
}

/** A malformed archive; the message names the problem (the caller adds which archive). */
export class TarFormatError extends TspodError {
  constructor(message: string) {
    super(message);
    this.name = 'TarFormatError';
  }
}

/** One 512-byte header as written, before pax and long names apply. */
interface RawHeader {
  name: Buffer;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: Buffer;
  devmajor: number;
  devminor: number;
}

function cString(block: Buffer, offset: number, length: number): Buffer {
  const field = block.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return nul === -1 ? field : field.subarray(0, nul);
}

/** A numeric field: octal text, or GNU base-256 when the top bit of the first byte is set. */
function number(block: Buffer, offset: number, length: number, what: string): number {
  const field = block.subarray(offset, offset + length);
  if (field[0] & 0x80) {
    if (field[0] === 0xff) throw new TarFormatError(`negative ${what} in a tar header`);
    let value = field[0] & 0x7f;
    for (let i = 1; i < field.length; i++) {
      value = value * 256 + field[i];
      if (value > Number.MAX_SAFE_INTEGER) throw new TarFormatError(`${what} too large in a tar header`);
    }
    return value;
  }
  const text = field
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^ +/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`invalid ${what} "${text}" in a tar header`);
  return parseInt(text, 8);
}

function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

function parseHeader(block: Buffer): RawHeader {
  // The checksum is the sum of the header's bytes with its own field counted as spaces; old
  // archivers summed signed chars, so both sums are accepted.
  const stored = number(block, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  if (stored !== unsigned && stored !== signed)
    throw new TarFormatError('tar header checksum mismatch (not a tar archive, or a corrupted one)');
  const magic = block.toString('latin1', 257, 263);
  let name = cString(block, 0, 100);
  // POSIX ustar splits long names into prefix/name; GNU uses that area for other things.
  if (magic === 'ustar\0') {
    const prefix = cString(block, 345, 155);
    if (prefix.length) name = Buffer.concat([prefix, Buffer.from('/'), name]);
  }
  const flag = block[156] === 0 ? '0' : String.fromCharCode(block[156]);
  return {
    name,
    typeflag: flag,
    mode: number(block, 100, 8, 'mode') & 0o7777,
    uid: number(block, 108, 8, 'uid'),
    gid: number(block, 116, 8, 'gid'),
    size: number(block, 124, 12, 'size'),
    mtime: number(block, 136, 12, 'mtime'),
    linkname: cString(block, 157, 100),
    devmajor: number(block, 329, 8, 'devmajor'),
    devminor: number(block, 337, 8, 'devminor'),
  };
}

/** pax records, "LEN KEY=VALUE\n" each; values stay bytes (xattrs are binary). */
export function parsePax(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // padding some writers leave
    const space = data.indexOf(0x20, pos);
    const lenText = space === -1 ? '' : data.toString('latin1', pos, space);
    const len = /^\d+$/.test(lenText) ? Number(lenText) : NaN;
    if (!Number.isSafeInteger(len) || len <= space - pos + 1 || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      throw new TarFormatError('malformed pax extended header');
    }
    const record = data.subarray(space + 1, pos + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw new TarFormatError('malformed pax extended header record');
    records.set(record.toString('utf8', 0, eq), record.subarray(eq + 1));
    pos += len;
  }
  return records;
}

/** Text of a name as UTF-8; anything else would be mangled silently, so it is refused. */
function utf8(bytes: Buffer, what: string): string {
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) throw new TarFormatError(`${what} "${text}" is not valid UTF-8`);
  if (text.includes('\0')) throw new TarFormatError(`${what} contains a NUL byte`);
  return text;
}

function decimal(value: Buffer, key: string, fraction = false): number {
  const text = value.toString('latin1');
  const ok = fraction ? /^-?\d+(\.\d+)?$/.test(text) : /^\d+$/.test(text);
  const n = Number(text);
  if (!ok || !Number.isFinite(n) || (!fraction && !Number.isSafeInteger(n)))
    throw new TarFormatError(`pax ${key}: "${text}" is not a number`);
  return n;
}

const TYPES: Record<string, EntryType> = {
  '0': 'file',
  '7': 'file', // contiguous file: a regular file everywhere but on a few old systems
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

/** Links, devices, directories and fifos have no data whatever their size says (as Go's archive/tar). */
function carriesData(flag: string): boolean {
  return !'123456'.includes(flag);
}

function isMeta(flag: string): boolean {
  return flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K';
}

/** Folds the metadata entries (pax, GNU long names) into the entry they describe. */
class EntryDecoder {
  private global = new Map<string, Buffer>();
  private local: Map<string, Buffer> | null = null;
  private longName: Buffer | null = null;
  private longLink: Buffer | null = null;

  meta(h: RawHeader, body: Buffer): void {
    switch (h.typeflag) {
      case 'x':
        this.local = parsePax(body);
        break;
      case 'g':
        for (const [k, v] of parsePax(body)) {
          if (v.length) this.global.set(k, v);
          else this.global.delete(k);
        }
        break;
      case 'L':
        this.longName = cString(body, 0, body.length);
        break;
      case 'K':
        this.longLink = cString(body, 0, body.length);
        break;
    }
  }

  /**
   * The entry, or a reason it is not one tspod unpacks (sparse, multi-volume, unknown type);
   * and how many bytes of data follow its header in the archive.
   */
  entry(h: RawHeader): { entry: TarEntry | SkippedMember; dataSize: number } {
    const pax = new Map([...this.global, ...(this.local ?? [])]);
    const size = pax.has('size') ? decimal(pax.get('size')!, 'size') : h.size;
    const dataSize = carriesData(h.typeflag) ? size : 0;
    return { entry: this.decode(h, pax, size), dataSize };
  }

  private decode(h: RawHeader, pax: Map<string, Buffer>, size: number): TarEntry | SkippedMember {
    const name = pax.get('path') ?? this.longName ?? h.name;
    const link = pax.get('linkpath') ?? this.longLink ?? h.linkname;
    this.local = this.longName = this.longLink = null;
    const path = utf8(name, 'member name');
    let type = TYPES[h.typeflag];
    // Pre-POSIX archives mark a directory only by the trailing slash of a regular entry.
    if (type === 'file' && path.endsWith('/')) type = 'dir';
    if ([...pax.keys()].some((k) => k.startsWith('GNU.sparse.')) || h.typeflag === 'S')
      return { unsupported: 'sparse files are not supported', path };
    if (!type) return { unsupported: `unsupported tar entry type '${h.typeflag}'`, path };
    const xattrs = new Map<string, Buffer>();
    for (const [k, v] of pax) if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice('SCHILY.xattr.'.length), v);
    return {
      path,
      type,
      mode: h.mode,
      uid: pax.has('uid') ? decimal(pax.get('uid')!, 'uid') : h.uid,
      gid: pax.has('gid') ? decimal(pax.get('gid')!, 'gid') : h.gid,
      size: type === 'file' ? size : 0,
      mtime: pax.has('mtime') ? decimal(pax.get('mtime')!, 'mtime', true) : h.mtime,
      linkname: type === 'symlink' || type === 'hardlink' ? utf8(link, 'link target') : '',
      devmajor: h.devmajor,
      devminor: h.devminor,
      xattrs,
    };
  }
}

const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

/** Buffered reads of exact sizes from an async stream of chunks. */
class ChunkReader {
  private chunks: Buffer[] = [];
  private length = 0;
  private ended = false;

  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async more(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.it.next();
    if (r.done) {
      this.ended = true;
      return false;
    }
    const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    if (chunk.length) {
      this.chunks.push(chunk);
      this.length += chunk.length;
    }
    return true;
  }

  private take(n: number): Buffer {
    const out: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const c = this.chunks[0];
      if (c.length <= left) {
        out.push(c);
        this.chunks.shift();
        left -= c.length;
      } else {
        out.push(c.subarray(0, left));
        this.chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    this.length -= n;
    return out.length === 1 ? out[0] : Buffer.concat(out);
  }

  /** Exactly n bytes; null at a clean end of the stream. */
  async exactly(n: number): Promise<Buffer | null> {
    while (this.length < n) {
      if (!(await this.more())) {
        if (this.length === 0) return null;
        throw new TarFormatError('the tar archive is truncated');
      }
    }
    return this.take(n);
  }

  /** n bytes as they come; `what` names them when the stream ends first. */
  async *stream(n: number, progress: (bytes: number) => void, what?: string): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.length === 0 && !(await this.more())) throw new TarFormatError(`the tar archive is truncated${what ? ` in ${what}` : ''}`);
      if (this.length === 0) continue;
      const chunk = this.take(Math.min(left, this.chunks[0].length));
      left -= chunk.length;
      progress(chunk.length);
      yield chunk;
    }
  }

  async skip(n: number, what?: string): Promise<void> {
    for await (const _ of this.stream(n, () => {}, what)) void _;
  }

  /** Skips n bytes, or fewer when the stream ends first: whether all n were there. */
  async skipUpTo(n: number): Promise<boolean> {
    let left = n;
    while (left > 0) {
      if (this.length === 0 && !(await this.more())) return false;
      if (this.length === 0) continue;
      left -= this.take(Math.min(left, this.chunks[0].length)).length;
    }
    return true;
  }

  /** Reads (and drops) the rest of the stream: a layer's digest covers its trailing zeros. */
  async drain(): Promise<void> {
    this.chunks = [];
    this.length = 0;
    while (await this.more()) {
      this.chunks = [];
      this.length = 0;
    }
  }

  async close(): Promise<void> {
    if (!this.ended) await this.it.return?.();
  }
}

export interface TarMember {
  entry: TarEntry;
  /** The file's data; what the consumer leaves unread is skipped. */
  body(): AsyncGenerator<Buffer>;
}

/** A member tspod does not unpack; `unsupported` says why. */
export interface SkippedMember {
  unsupported: string;
  path: string;
}

/**
 * The members of a tar stream, in order. After the end-of-archive marker the rest of the
 * input is read and dropped, so a digest computed over the input covers all of it. The input
 * may also end without that marker, after a member's data (before or inside its padding);
 * anywhere else (in a header, in a member's data) it is truncated and refused.
 */
export async function* tarMembers(input: AsyncIterable<Buffer>): AsyncGenerator<TarMember | SkippedMember> {
  const reader = new ChunkReader(input[Symbol.asyncIterator]());
  const decoder = new EntryDecoder();
  try {
    for (;;) {
      const block = await reader.exactly(BLOCK);
      if (!block) return; // no end marker: tolerated, as GNU tar does
      if (isZeroBlock(block)) {
        await reader.drain();
        return;
      }
      const h = parseHeader(block);
      const dataSize = carriesData(h.typeflag) ? h.size : 0;
      if (isMeta(h.typeflag)) {
        if (dataSize > MAX_META) throw new TarFormatError(`tar metadata entry of ${dataSize} bytes: too large`);
        const body = (await reader.exactly(dataSize)) ?? Buffer.alloc(0);
        if (body.length !== dataSize) throw new TarFormatError('the tar archive is truncated');
        await reader.skip(padding(dataSize));
        decoder.meta(h, body);
        continue;
      }
      // pax may give a size the 12-byte field cannot hold; a directory may still carry data.
      const { entry, dataSize: size } = decoder.entry(h);
      let left = size;
      const what = `the data of member "${entry.path}"`;
      if ('unsupported' in entry) yield entry;
      else yield { entry, body: () => reader.stream(entry.type === 'file' ? left : 0, (n) => (left -= n), what) };
      await reader.skip(left, what);
      // umoci 0.4.7 ends layers without the last member's padding and the end-of-archive blocks
      // (umoci bug #436); Go's archive/tar (umoci, containerd, docker) takes that for the end.
      if (!(await reader.skipUpTo(padding(size)))) return;
    }
  } finally {
    await reader.close();
  }
}

/** Where a member of an archive file is, for reading it by offset. */
export interface IndexedMember {
  entry: TarEntry;
  /** Byte offset of the data in the archive file. */
  offset: number;
}

/**
 * The members of a tar file, by reading its headers only (the data is skipped with the file
 * offset). Members named twice keep the last, as extraction would. Unsupported members are
 * left out: an image archive holds only files, directories and (docker's) symlinks.
 */
export function indexTarFile(path: string): Map<string, IndexedMember> {
  const fd = openSync(path, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    const members = new Map<string, IndexedMember>();
    const decoder = new EntryDecoder();
    const block = Buffer.alloc(BLOCK);
    let pos = 0;
    const readAt = (buf: Buffer, at: number) => {
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, at + got);
        if (n === 0) throw new TarFormatError('the tar archive is truncated');
        got += n;
      }
    };
    while (pos + BLOCK <= fileSize) {
      readAt(block, pos);
      if (isZeroBlock(block)) break;
      const h = parseHeader(block);
      const dataSize = carriesData(h.typeflag) ? h.size : 0;
      const dataAt = pos + BLOCK;
      if (isMeta(h.typeflag)) {
        if (dataSize > MAX_META) throw new TarFormatError(`tar metadata entry of ${dataSize} bytes: too large`);
        const body = Buffer.alloc(dataSize);
        readAt(body, dataAt);
        decoder.meta(h, body);
        pos = dataAt + dataSize + padding(dataSize);
        continue;
      }
      const { entry, dataSize: size } = decoder.entry(h);
      if (dataAt + size > fileSize) throw new TarFormatError('the tar archive is truncated');
      if (!('unsupported' in entry)) members.set(entry.path, { entry, offset: dataAt });
      pos = dataAt + size + padding(size);
    }
    return members;
  } finally {
    closeSync(fd);
  }
}

/** Whether the block looks like a tar header (a checksum that adds up). */
export function looksLikeTar(firstBlock: Buffer): boolean {
  if (firstBlock.length < BLOCK) return false;
  try {
    parseHeader(firstBlock.subarray(0, BLOCK));
    return true;
  } catch {
    return false;
  }
}
