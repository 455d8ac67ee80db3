// Unpacking one image layer, as root, into a directory that overlayfs can use as a lower layer.
//
// The layer is untrusted input run through by root, so every path is checked before it is used:
// no absolute paths, no '..', and no writing through a symlink: each parent component is
// lstat'ed (a parent that is a symlink, even one the layer itself made, is an error), files are
// created with O_EXCL|O_NOFOLLOW, and attributes go through an fd opened with O_NOFOLLOW or the
// l* calls. The destination is a private directory that nothing else writes to while this runs.
//
// OCI whiteouts become what overlayfs reads in a lower layer: `.wh.NAME` a character device 0:0
// named NAME, `.wh..wh..opq` the xattr trusted.overlay.opaque=y on its directory. A whiteout
// hides the lower layers only, wherever it is in the layer (OCI layer.md, "Whiteouts"): where
// the layer itself has a directory NAME, before or after `.wh.NAME`, that directory is made
// opaque instead; where it has anything else, that entry alone hides the lower one.
import {
  constants as C,
  lstatSync,
  mkdirSync,
  rmSync,
  symlinkSync,
  linkSync,
  unlinkSync,
  lchownSync,
  lutimesSync,
  chmodSync,
  type Stats,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { TspodError } from '../errors.js';
import type { NativeBinding } from '../native/binding.js';
import { OPAQUE_MARKER, OPAQUE_XATTR, WHITEOUT_PREFIX } from '../fs/overlay.js';
import { MAX_ID } from '../pod/fields.js';
import { tarMembers, TarFormatError, type TarEntry } from './tar.js';

/** What unpacking needs of the addon. */
export type UnpackBinding = Pick<NativeBinding, 'mknod' | 'lsetxattr' | 'constants'>;

/**
 * xattrs from pax headers that are applied: user.* and file capabilities. trusted.* is never
 * applied (a layer must not forge overlayfs's own metadata), nor security labels of the image
 * builder's host.
 */
function xattrAllowed(name: string): boolean {
  return name.startsWith('user.') || name === 'security.capability';
}

export interface UnpackStats {
  /** Bytes of regular file data written. */
  size: number;
  entries: number;
  whiteouts: number;
  opaqueDirs: number;
}

/** An unsafe or malformed member: the message names it. */
export class LayerError extends TspodError {
  constructor(message: string) {
    super(message);
    this.name = 'LayerError';
  }
}

/** The kernel's limits on a name and on a path (NAME_MAX, PATH_MAX with its NUL). */
const NAME_MAX = 255;
const PATH_MAX = 4096;

/** Seconds either side of the epoch an mtime may be (about 31,700 years): a bound, not a policy. */
const MTIME_LIMIT = 1e12;

/**
 * The member's path as components, or why it is refused. Leading './' and '/'-runs are
 * normalized; an absolute path or a '..' component is never accepted, nor a name longer than
 * the kernel takes.
 */
export function memberComponents(path: string): string[] | { refused: string } {
  if (path.startsWith('/')) return { refused: 'absolute path' };
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { refused: "path with a '..' component" };
  const long = parts.find((p) => Buffer.byteLength(p) > NAME_MAX);
  if (long !== undefined)
    return { refused: `a name of ${Buffer.byteLength(long)} bytes: longer than the kernel takes (NAME_MAX ${NAME_MAX})` };
  return parts;
}

/** Why an entry's owner or time cannot be applied as given, or undefined. */
function attributeProblem(entry: TarEntry): string | undefined {
  for (const [what, id] of [
    ['uid', entry.uid],
    ['gid', entry.gid],
  ] as const) {
    // chown takes (uid_t)-1, 4294967295, to mean "leave it": the file would stay root's.
    if (!Number.isSafeInteger(id) || id < 0 || id > MAX_ID) return `${what} ${id} is not an id (0 to ${MAX_ID})`;
  }
  if (!Number.isFinite(entry.mtime) || Math.abs(entry.mtime) > MTIME_LIMIT) return `mtime ${entry.mtime} is out of range`;
  return undefined;
}

interface DeferredDir {
  entry: TarEntry;
}

const parentOf = (rel: string) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');

/**
 * What the unpacker knows of the paths this layer made: real directories (not symlinks),
 * whiteout devices, opaque directories, directory attributes to apply at the end. Every path noted is indexed by
 * its parent, so a replaced entry's subtree is forgotten by walking it, never by looking
 * through every path (which made a layer of replacing entries quadratic: 40,000 of them took
 * 95 s). Each path is noted once and forgotten once: linear in the layer.
 */
export class KnownPaths {
  private readonly dirs = new Set<string>(['']);
  private readonly whiteouts = new Set<string>();
  private readonly opaque = new Set<string>();
  readonly deferred = new Map<string, DeferredDir>();
  private readonly children = new Map<string, Set<string>>();

  isDir(rel: string): boolean {
    return this.dirs.has(rel);
  }

  isWhiteout(rel: string): boolean {
    return this.whiteouts.has(rel);
  }

  isOpaque(rel: string): boolean {
    return this.opaque.has(rel);
  }

  addDir(rel: string, deferred?: DeferredDir): void {
    this.dirs.add(rel);
    if (deferred) this.deferred.set(rel, deferred);
    this.index(rel);
  }

  addWhiteout(rel: string): void {
    this.whiteouts.add(rel);
    this.index(rel);
  }

  /** `rel`, a directory already noted (or the root), has the opaque xattr. */
  addOpaque(rel: string): void {
    this.opaque.add(rel);
  }

  /** Forgets `rel` and everything noted beneath it; how many paths that was. */
  forget(rel: string): number {
    let visited = 0;
    const stack = [rel];
    while (stack.length) {
      const p = stack.pop()!;
      visited++;
      this.dirs.delete(p);
      this.whiteouts.delete(p);
      this.opaque.delete(p);
      this.deferred.delete(p);
      for (const c of this.children.get(p) ?? []) stack.push(c);
      this.children.delete(p);
    }
    this.children.get(parentOf(rel))?.delete(rel);
    return visited;
  }

  private index(rel: string): void {
    if (rel === '') return;
    const parent = parentOf(rel);
    let set = this.children.get(parent);
    if (!set) this.children.set(parent, (set = new Set()));
    set.add(rel);
  }
}

class Unpacker {
  readonly stats: UnpackStats = { size: 0, entries: 0, whiteouts: 0, opaqueDirs: 0 };
  private readonly known = new KnownPaths();

  constructor(
    private readonly root: string,
    private readonly b: UnpackBinding,
  ) {}

  private abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  private fail(path: string, problem: string): never {
    throw new LayerError(`member "${path}": ${problem}`);
  }

  private lstat(rel: string): Stats | undefined {
    try {
      return lstatSync(this.abs(rel));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /**
   * Makes sure each of `parts` is a real directory, walking down from the root with lstat;
   * missing ones are created (0755, root) when `create`. Returns the relative path.
   */
  private ensureDir(parts: string[], member: string, create: boolean): string {
    let rel = '';
    for (const part of parts) {
      rel = rel ? `${rel}/${part}` : part;
      if (this.known.isDir(rel)) continue;
      const st = this.lstat(rel);
      if (!st) {
        if (!create) this.fail(member, `${rel} does not exist in the layer`);
        mkdirSync(this.abs(rel), 0o755);
        chmodSync(this.abs(rel), 0o755); // the umask may have taken bits
      } else if (st.isSymbolicLink()) {
        this.fail(member, `its parent ${rel} is a symlink: refusing to write through it`);
      } else if (!st.isDirectory()) {
        this.fail(member, `its parent ${rel} is not a directory`);
      }
      this.known.addDir(rel);
    }
    return rel;
  }

  /** Makes this layer's directory `rel` hide the lower layers' one; counted once per directory. */
  private makeOpaque(rel: string): void {
    if (this.known.isOpaque(rel)) return;
    this.b.lsetxattr(this.abs(rel), OPAQUE_XATTR, Buffer.from('y'));
    this.known.addOpaque(rel);
    this.stats.opaqueDirs++;
  }

  /** Removes what is at `rel` (this layer's earlier entry) and everything known beneath it. */
  private remove(rel: string, st: Stats): void {
    if (st.isDirectory()) rmSync(this.abs(rel), { recursive: true, force: true });
    else unlinkSync(this.abs(rel));
    this.known.forget(rel);
  }

  async apply(entry: TarEntry, body: () => AsyncGenerator<Buffer>): Promise<void> {
    this.stats.entries++;
    const parts = memberComponents(entry.path);
    if ('refused' in parts) this.fail(entry.path, parts.refused);
    const problem = attributeProblem(entry);
    if (problem) this.fail(entry.path, problem);
    const bytes = Buffer.byteLength(parts.join('/'));
    if (Buffer.byteLength(this.abs(parts.join('/'))) >= PATH_MAX) {
      this.fail(entry.path, `a path of ${bytes} bytes: with the layer's directory, longer than the kernel takes (PATH_MAX ${PATH_MAX})`);
    }
    const base = parts.at(-1) ?? '';
    const parentParts = parts.slice(0, -1);

    if (base === OPAQUE_MARKER) {
      this.makeOpaque(this.ensureDir(parentParts, entry.path, true));
      return;
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      const name = base.slice(WHITEOUT_PREFIX.length);
      // `.wh..wh.*` other than the opaque marker is aufs bookkeeping (.wh..wh.plnk): not a file.
      if (name.startsWith(WHITEOUT_PREFIX)) return;
      if (name === '' || name === '.' || name === '..') this.fail(entry.path, 'invalid whiteout name');
      const parent = this.ensureDir(parentParts, entry.path, true);
      const rel = parent ? `${parent}/${name}` : name;
      // A whiteout hides the lower layers only; an entry of this same layer stays. Overlayfs
      // hides a lower entry under any upper non-directory, and under an upper directory only
      // when that directory is opaque.
      const existing = this.lstat(rel);
      if (existing) {
        if (existing.isDirectory()) this.makeOpaque(rel);
        return;
      }
      this.b.mknod(this.abs(rel), this.b.constants.S_IFCHR | 0o000, 0, 0);
      this.known.addWhiteout(rel);
      this.stats.whiteouts++;
      return;
    }

    if (parts.length === 0) {
      // './': the layer's root directory itself.
      if (entry.type !== 'dir') this.fail(entry.path, 'the layer root must be a directory');
      this.known.deferred.set('', { entry });
      return;
    }
    const parent = this.ensureDir(parentParts, entry.path, true);
    const rel = parent ? `${parent}/${base}` : base;
    const path = this.abs(rel);

    // Hardlink sources are checked before anything at `rel` is removed.
    let linkSource: string | undefined;
    if (entry.type === 'hardlink') {
      const src = memberComponents(entry.linkname);
      if ('refused' in src) this.fail(entry.path, `hardlink target "${entry.linkname}": ${src.refused}`);
      if (src.length === 0) this.fail(entry.path, 'hardlink to the layer root');
      const srcParent = this.ensureDir(src.slice(0, -1), entry.path, false);
      const srcRel = srcParent ? `${srcParent}/${src.at(-1)}` : src.at(-1)!;
      const st = this.lstat(srcRel);
      if (!st) this.fail(entry.path, `hardlink target "${entry.linkname}" is not in the layer`);
      if (st.isDirectory()) this.fail(entry.path, `hardlink target "${entry.linkname}" is a directory`);
      if (srcRel === rel) return; // a link to itself: nothing to do
      // What is at `rel` is replaced first, and what is beneath it goes with it.
      if (srcRel.startsWith(`${rel}/`)) this.fail(entry.path, `hardlink target "${entry.linkname}" is beneath the member itself`);
      linkSource = this.abs(srcRel);
    }

    const existing = this.lstat(rel);
    const wasWhiteout = this.known.isWhiteout(rel);
    if (existing) {
      // Per the OCI spec: two directories merge (attributes replaced); anything else replaces.
      if (!(existing.isDirectory() && entry.type === 'dir')) this.remove(rel, existing);
    }

    switch (entry.type) {
      case 'dir':
        if (!existing || !existing.isDirectory()) mkdirSync(path, 0o700);
        this.known.addDir(rel, { entry });
        // `.wh.d` then `d/` in one layer: the new directory must hide the lower one.
        if (wasWhiteout) this.makeOpaque(rel);
        break;
      case 'file': {
        const fh = await open(path, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of body()) {
            await fh.write(chunk);
            this.stats.size += chunk.length;
          }
          // chown before chmod: chown clears setuid and setgid.
          await fh.chown(entry.uid, entry.gid);
          await fh.chmod(entry.mode);
          this.applyXattrs(path, entry);
          await fh.utimes(entry.mtime, entry.mtime);
        } finally {
          await fh.close();
        }
        break;
      }
      case 'symlink':
        symlinkSync(entry.linkname, path);
        lchownSync(path, entry.uid, entry.gid);
        this.applyXattrs(path, entry);
        lutimesSync(path, entry.mtime, entry.mtime);
        break;
      case 'hardlink':
        // link(2) on Linux does not follow a symlink source: it links the symlink itself.
        linkSync(linkSource!, path);
        break;
      case 'char':
      case 'block':
      case 'fifo': {
        const k = this.b.constants;
        const type = entry.type === 'char' ? k.S_IFCHR : entry.type === 'block' ? k.S_IFBLK : k.S_IFIFO;
        this.b.mknod(path, type | (entry.mode & 0o777), entry.devmajor, entry.devminor);
        lchownSync(path, entry.uid, entry.gid);
        // Never opened (a fifo would block, a device would act); the node is ours, just made.
        chmodSync(path, entry.mode);
        this.applyXattrs(path, entry);
        lutimesSync(path, entry.mtime, entry.mtime);
        break;
      }
    }
  }

  private applyXattrs(path: string, entry: TarEntry): void {
    for (const [name, value] of entry.xattrs) if (xattrAllowed(name)) this.b.lsetxattr(path, name, value);
  }

  /** Directory attributes, deepest first, each through an fd opened without following links. */
  async finish(): Promise<void> {
    const depth = (rel: string) => (rel === '' ? 0 : rel.split('/').length);
    const { deferred } = this.known;
    const paths = [...deferred.keys()].map((rel) => [depth(rel), rel] as const).sort((a, b) => b[0] - a[0]);
    for (const [, rel] of paths) {
      const { entry } = deferred.get(rel)!;
      if (rel !== '') this.ensureDir(rel.split('/'), entry.path, false);
      const fh = await open(this.abs(rel), C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
      try {
        await fh.chown(entry.uid, entry.gid);
        await fh.chmod(entry.mode);
        this.applyXattrs(this.abs(rel), entry);
        await fh.utimes(entry.mtime, entry.mtime);
      } finally {
        await fh.close();
      }
    }
  }
}

/**
 * Unpacks the tar stream `input` into `dest` (an empty directory, root's, that nothing else
 * writes to). Throws a LayerError naming the member for anything unsafe or unsupported; what
 * was written stays in `dest` for the caller to remove.
 */
export async function unpackLayer(input: AsyncIterable<Buffer>, dest: string, binding: UnpackBinding): Promise<UnpackStats> {
  const u = new Unpacker(dest, binding);
  try {
    for await (const member of tarMembers(input)) {
      if ('unsupported' in member) throw new LayerError(`member "${member.path}": ${member.unsupported}`);
      try {
        await u.apply(member.entry, member.body);
      } catch (err) {
        // Whatever else a member makes fail (an errno of the file system, say) names it too.
        if (err instanceof TspodError || !(err instanceof Error)) throw err;
        throw new LayerError(`member "${member.entry.path}": ${err.message}`);
      }
    }
  } catch (err) {
    if (err instanceof TarFormatError) throw new LayerError(err.message);
    throw err;
  }
  await u.finish();
  return u.stats;
}
