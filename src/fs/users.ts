// Who a container runs as: runAsUser/runAsGroup, or an image's User ("1000", "1000:1000", "app",
// "app:staff"), looked up in the image's own /etc/passwd and /etc/group, read from its layers as
// overlayfs would show them.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { InputError, TspodError } from '../errors.js';
import { OPAQUE_XATTR } from './overlay.js';
import { MAX_ID } from '../pod/fields.js';
import type { NativeBinding, NativeConstants } from '../native/binding.js';

export type UsersBinding = Pick<NativeBinding, 'lgetxattr'> & { constants: Pick<NativeConstants, 'O_PATH'> };

/** passwd and group files are small: a larger one is refused, not read. */
const MAX_FILE_BYTES = 1 << 20;

/** A layer's directory marked opaque; a file system without trusted xattrs has none. */
function isOpaque(binding: UsersBinding, dir: string): boolean {
  try {
    return binding.lgetxattr(dir, OPAQUE_XATTR)?.toString() === 'y';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTSUP') return false;
    throw err;
  }
}

/**
 * The file at `parts` in one layer: its text; null when something there hides the layers below
 * (a whiteout or any other non-directory on the way, a non-file at the end, an opaque directory
 * above a missing name); undefined when the layer has nothing there. A root file system is the
 * containers' to change while this runs, so each name is looked up in the directory opened the
 * step before (through /proc/self/fd, O_NOFOLLOW: no symlink is followed, it would point into
 * the host), and only a regular file is opened for reading, by its O_PATH fd.
 */
function fromLayer(binding: UsersBinding, layer: string, parts: string[], bottom: boolean): string | null | undefined {
  const fds: number[] = [];
  const open = (path: string, flags: number) => {
    const fd = openSync(path, flags);
    fds.push(fd);
    return fd;
  };
  try {
    let dir = open(layer, constants.O_RDONLY | constants.O_DIRECTORY);
    let at = layer;
    let opaque = false;
    for (const [i, part] of parts.entries()) {
      at = `${at}/${part}`;
      let fd: number;
      try {
        fd = open(`/proc/self/fd/${dir}/${part}`, binding.constants.O_PATH | constants.O_NOFOLLOW);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return opaque ? null : undefined;
        throw err;
      }
      const st = fstatSync(fd);
      if (i === parts.length - 1)
        return st.isFile() ? readSmall(open(`/proc/self/fd/${fd}`, constants.O_RDONLY | constants.O_NONBLOCK), at) : null;
      if (!st.isDirectory()) return null;
      // By path, which only image layers (root's) need: the bottom layer, a root file system's
      // only one, has nothing below it to hide.
      if (!bottom) opaque ||= isOpaque(binding, at);
      dir = fd;
    }
    return undefined;
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

function readSmall(fd: number, path: string): string {
  const buf = Buffer.alloc(MAX_FILE_BYTES + 1);
  let n = 0;
  for (let got; n < buf.length && (got = readSync(fd, buf, n, buf.length - n, null)) > 0;) n += got;
  if (n > MAX_FILE_BYTES) throw new TspodError(`${path}: larger than ${MAX_FILE_BYTES} bytes, not read`);
  return buf.toString('utf8', 0, n);
}

/** The file at `path` (absolute) in the image, from its layers (bottom first), as overlayfs
 *  shows it: the top layer that has it wins. Undefined when the image has no such file. */
function imageFile(binding: UsersBinding, layers: string[], path: string): string | undefined {
  const parts = path.split('/').filter(Boolean);
  for (let i = layers.length - 1; i >= 0; i--) {
    const text = fromLayer(binding, layers[i], parts, i === 0);
    if (text !== undefined) return text ?? undefined;
  }
  return undefined;
}

/** A passwd/group-style file's entries, as their fields; blank lines and comments left out. */
function entries(text: string | undefined): string[][] {
  if (!text) return [];
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

const numeric = (s: string) => /^\d+$/.test(s);

/** A uid or gid field as written: digits, in range. */
const validId = (s: string | undefined): s is string => s !== undefined && numeric(s) && Number(s) <= MAX_ID;

/** Who a container's process runs as. */
export interface UserIds {
  uid: number;
  gid: number;
  /** Supplementary groups. */
  groups: number[];
}

/**
 * Who a container runs as: runAsUser/runAsGroup over the image's User ("1000", "1000:1000",
 * "app", "app:staff"), `layers` being the image's (or a root file system's) directories. As runc
 * and containerd do it: a user found in /etc/passwd (by name, or by uid for a number) brings its
 * primary group and the groups of /etc/group that list it, unless the User names a group; a uid
 * that is not there runs with gid 0 and no other group. Undefined: nothing asks for a user.
 */
export function containerUser(
  binding: UsersBinding,
  layers: string[],
  imageUser: string | undefined,
  sc: { runAsUser?: number; runAsGroup?: number } = {},
  where: string,
): UserIds | undefined {
  let passwd: string[][] | undefined;
  const users = () => (passwd ??= entries(imageFile(binding, layers, '/etc/passwd')));
  let group: string[][] | undefined;
  const groups = () => (group ??= entries(imageFile(binding, layers, '/etc/group')));
  /** An id from the User or from one of the files, checked as runAsUser is. */
  const id = (text: string | undefined, what: string): number => {
    if (!validId(text)) throw new InputError(where, `${what} is not a numeric id from 0 to ${MAX_ID}: ${JSON.stringify(text ?? '')}`);
    return Number(text);
  };

  let uid: number | undefined;
  let pw: string[] | undefined;
  let gid: number | undefined;
  // runAsUser overrides the image's User whole: its names are not looked up. An empty part
  // ("app:", ":50") is no part, as runc reads it.
  const [u, g] = (sc.runAsUser !== undefined ? [String(sc.runAsUser)] : (imageUser ?? '').split(':')).map((p) => p || undefined);
  if (u !== undefined) {
    if (numeric(u)) {
      uid = id(u, `its User's uid`);
      pw = users().find((f) => validId(f[2]) && Number(f[2]) === uid);
    } else {
      pw = users().find((f) => f[0] === u);
      if (!pw) throw new InputError(where, `its user "${u}" is not in the image's /etc/passwd`);
      uid = id(pw[2], `/etc/passwd's uid of "${u}"`);
    }
  }
  if (g !== undefined) {
    if (numeric(g)) {
      gid = id(g, `its User's gid`);
    } else {
      const gr = groups().find((f) => f[0] === g);
      if (!gr) throw new InputError(where, `its group "${g}" is not in the image's /etc/group`);
      gid = id(gr[2], `/etc/group's gid of "${g}"`);
    }
  }
  gid = sc.runAsGroup ?? gid;
  if (uid === undefined && gid === undefined) return undefined;
  const name = pw?.[0];
  // A malformed group line is nobody's: only well-formed ones count.
  const member =
    name && g === undefined
      ? groups()
          .filter((f) => validId(f[2]) && f[3]?.split(',').includes(name))
          .map((f) => Number(f[2]))
      : [];
  return { uid: uid ?? 0, gid: gid ?? (pw ? id(pw[3], `/etc/passwd's gid of "${name}"`) : 0), groups: [...new Set(member)] };
}
