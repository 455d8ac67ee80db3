// The supervisor's own mounts, as this process's mount table shows them: what is mounted under
// a directory, and unmounting all of it (a pod's tmpfs when the pod ends, or when what is left
// of a pod whose supervisor died is cleaned away).
import { readFileSync, realpathSync } from 'node:fs';
import type { NativeBinding } from '../native/binding.js';

/** This process's mount points at or under `path` (mountinfo's escapes undone). mountinfo
 *  names them without symlinks (a state root under /var/run is under /run there). */
export function mountsUnder(path: string): string[] {
  let dir = path;
  try {
    dir = realpathSync(path);
  } catch {
    // gone: nothing can be mounted under it
  }
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(dir + '/'));
}

export const isMountPoint = (dir: string): boolean => mountsUnder(dir).includes(dir);

/** Unmounts everything mounted at or under `dir` (deepest first), in this mount namespace. */
export function unmountUnder(binding: Pick<NativeBinding, 'umount2' | 'constants'>, dir: string): void {
  for (const p of mountsUnder(dir).sort((a, b) => b.length - a.length)) binding.umount2(p, binding.constants.MNT_DETACH);
}
