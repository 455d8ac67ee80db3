// An image's User ("1000", "1000:1000", "app", "app:staff") as numbers, names looked up in the
// image's own /etc/passwd and /etc/group: the top layer that has the file wins, and a whiteout
// there means the file was deleted.
import { lstatSync, readFileSync } from 'node:fs';
import { InputError } from '../errors.js';

/** The file at `path` inside the image, from its layers (bottom first), or undefined. */
function imageFile(layers: string[], path: string): string | undefined {
  for (const layer of [...layers].reverse()) {
    let st;
    try {
      st = lstatSync(`${layer}${path}`);
    } catch {
      continue;
    }
    // A whiteout (a 0:0 character device) hides the file of the layers below; a symlink is not
    // followed (it would point into the host).
    if (!st.isFile()) return undefined;
    return readFileSync(`${layer}${path}`, 'utf8');
  }
  return undefined;
}

/** The entry of `name` (field 0) in a passwd/group-style file: its fields. */
function entry(text: string | undefined, name: string): string[] | undefined {
  return text?.split('\n').map((l) => l.split(':')).find((f) => f[0] === name);
}

export function lookupUser(user: string, layers: string[], where: string): { uid: number; gid: number } {
  const [u, g] = user.split(':');
  const numeric = (s: string) => /^\d+$/.test(s);
  let uid: number;
  let gid: number | undefined;
  if (numeric(u)) {
    uid = Number(u);
  } else {
    const pw = entry(imageFile(layers, '/etc/passwd'), u);
    if (!pw) throw new InputError(where, `its user "${u}" is not in the image's /etc/passwd`);
    uid = Number(pw[2]);
    gid = Number(pw[3]);
  }
  if (g !== undefined) {
    if (numeric(g)) {
      gid = Number(g);
    } else {
      const gr = entry(imageFile(layers, '/etc/group'), g);
      if (!gr) throw new InputError(where, `its group "${g}" is not in the image's /etc/group`);
      gid = Number(gr[2]);
    }
  }
  return { uid, gid: gid ?? 0 };
}
