// Who a container runs as: runAsUser/runAsGroup, or an image's User ("1000", "1000:1000", "app",
// "app:staff"), looked up in the image's own /etc/passwd and /etc/group, read from its layers as
// overlayfs would show them.
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

/** A passwd/group-style file's entries, as their fields. */
function entries(text: string | undefined): string[][] {
  return text ? text.split('\n').map((l) => l.split(':')) : [];
}

const numeric = (s: string) => /^\d+$/.test(s);

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

  let uid: number | undefined;
  let pw: string[] | undefined;
  let gid: number | undefined;
  // runAsUser overrides the image's User whole: its names are not looked up.
  const [u, g] = sc.runAsUser !== undefined ? [String(sc.runAsUser)] : imageUser ? imageUser.split(':') : [];
  if (u !== undefined) {
    if (numeric(u)) {
      uid = Number(u);
      pw = users().find((f) => f[2] === u);
    } else {
      pw = users().find((f) => f[0] === u);
      if (!pw) throw new InputError(where, `its user "${u}" is not in the image's /etc/passwd`);
      uid = Number(pw[2]);
    }
  }
  if (g !== undefined) {
    if (numeric(g)) {
      gid = Number(g);
    } else {
      const gr = groups().find((f) => f[0] === g);
      if (!gr) throw new InputError(where, `its group "${g}" is not in the image's /etc/group`);
      gid = Number(gr[2]);
    }
  }
  gid = sc.runAsGroup ?? gid;
  if (uid === undefined && gid === undefined) return undefined;
  const name = pw?.[0];
  const member = name && g === undefined ? groups().filter((f) => f[3]?.split(',').includes(name)).map((f) => Number(f[2])) : [];
  return { uid: uid ?? 0, gid: gid ?? (pw ? Number(pw[3]) : 0), groups: [...new Set(member)] };
}
