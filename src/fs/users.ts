// An image's User ("1000", "1000:1000", "app", "app:staff") as numbers, names looked up in the
// image's own /etc/passwd and /etc/group, read from its layers as overlayfs would show them.
import { lstatSync, readFileSync } from 'node:fs';
import { InputError } from '../errors.js';
import { OPAQUE_XATTR } from '../image/overlay.js';
import type { NativeBinding } from '../native/binding.js';

export type UsersBinding = Pick<NativeBinding, 'lgetxattr'>;

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
 * The file at `path` (absolute) in the image, from its layers (bottom first), as overlayfs
 * shows it: the top layer that has it wins; a whiteout (a 0:0 character device) or any other
 * non-directory on the way hides what the layers below have there, and so does an opaque
 * directory (trusted.overlay.opaque=y) for what is under it. No symlink is followed: it would
 * point into the host. Undefined when the image has no such file.
 */
function imageFile(binding: UsersBinding, layers: string[], path: string): string | undefined {
  const parts = path.split('/').filter(Boolean);
  for (const layer of [...layers].reverse()) {
    let at = layer;
    let opaque = false;
    for (const [i, part] of parts.entries()) {
      at = `${at}/${part}`;
      const st = lstatSync(at, { throwIfNoEntry: false });
      if (!st) break; // not in this layer: the layers below, unless a directory above was opaque
      if (i === parts.length - 1) return st.isFile() ? readFileSync(at, 'utf8') : undefined;
      if (!st.isDirectory()) return undefined;
      opaque ||= isOpaque(binding, at);
    }
    if (opaque) return undefined;
  }
  return undefined;
}

/** The entry of `name` (field 0) in a passwd/group-style file: its fields. */
function entry(text: string | undefined, name: string): string[] | undefined {
  return text?.split('\n').map((l) => l.split(':')).find((f) => f[0] === name);
}

export function lookupUser(binding: UsersBinding, user: string, layers: string[], where: string): { uid: number; gid: number } {
  const [u, g] = user.split(':');
  const numeric = (s: string) => /^\d+$/.test(s);
  let uid: number;
  let gid: number | undefined;
  if (numeric(u)) {
    uid = Number(u);
  } else {
    const pw = entry(imageFile(binding, layers, '/etc/passwd'), u);
    if (!pw) throw new InputError(where, `its user "${u}" is not in the image's /etc/passwd`);
    uid = Number(pw[2]);
    gid = Number(pw[3]);
  }
  if (g !== undefined) {
    if (numeric(g)) {
      gid = Number(g);
    } else {
      const gr = entry(imageFile(binding, layers, '/etc/group'), g);
      if (!gr) throw new InputError(where, `its group "${g}" is not in the image's /etc/group`);
      gid = Number(gr[2]);
    }
  }
  return { uid, gid: gid ?? 0 };
}
