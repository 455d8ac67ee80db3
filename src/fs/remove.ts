// Removing a tree that a container can write to (its writable layer, an emptyDir) while a
// process of it may still run: every step is taken relative to a directory already open, never
// through a path, and no symlink is ever followed, so a directory swapped for a symlink in the
// middle of the walk can never lead the removal out of the tree.
//
// Node has no openat or unlinkat; /proc/self/fd/N/NAME is resolved by the kernel as NAME inside
// the directory open as fd N (the magic link leads to that very directory, wherever it has been
// moved), and unlink and rmdir never follow their last component. What is deeper than MAX_DEPTH
// is moved up to the tree's top (a rename within the tree) and removed from there, so the walk
// holds at most MAX_DEPTH directories open however deep the tree is.
import { closeSync, constants, openSync, readdirSync, renameSync, rmdirSync, unlinkSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { TspodError } from '../errors.js';

const MAX_DEPTH = 64;
/** Passes over a directory until it stays empty: bounds a writer that keeps adding entries. */
const MAX_PASSES = 1000;
const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

const at = (dirFd: number, name: string) => `/proc/self/fd/${dirFd}/${name}`;
const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** An errno error of a step, as the user should read it: the entry's own path, not /proc's. */
function failed(err: unknown, what: string, path: string): TspodError {
  const e = err as NodeJS.ErrnoException;
  return new TspodError(`cannot ${what} ${path}: ${e.code ?? e.message}`, 125, { ...e, path });
}

let lifted = 0;

/**
 * Removes `path` and everything under it without following a symlink anywhere below its parent
 * directory (which is tspod's own: a state directory). Nothing there is fine.
 */
export function removeTree(path: string): void {
  let parent: number;
  try {
    parent = openSync(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (err) {
    if (code(err) === 'ENOENT') return;
    throw failed(err, 'open', dirname(path));
  }
  try {
    removeEntry(parent, basename(path), path, undefined, 0);
  } finally {
    closeSync(parent);
  }
}

/** Removes the entry `name` of the directory open as `dirFd`; `top` is the tree's top, once open. */
function removeEntry(dirFd: number, name: string, shown: string, top: number | undefined, depth: number): void {
  for (let tries = 0; ; tries++) {
    // Anything but a directory goes at once (a symlink itself, never what it points to).
    try {
      unlinkSync(at(dirFd, name));
      return;
    } catch (err) {
      if (code(err) === 'ENOENT') return;
      if (code(err) !== 'EISDIR') throw failed(err, 'remove', shown);
    }
    let fd: number;
    try {
      fd = openSync(at(dirFd, name), DIR_FLAGS);
    } catch (err) {
      if (code(err) === 'ENOENT') return;
      // Not a directory any more (swapped for a symlink or a file since): unlinked next time.
      if ((code(err) === 'ELOOP' || code(err) === 'ENOTDIR') && tries < MAX_PASSES) continue;
      throw failed(err, 'open', shown);
    }
    try {
      emptyDirectory(fd, shown, top ?? fd, depth);
    } finally {
      closeSync(fd);
    }
    try {
      rmdirSync(at(dirFd, name));
      return;
    } catch (err) {
      if (code(err) === 'ENOENT') return;
      // Something was put in it meanwhile, or it was swapped: the next try sees what is there.
      if ((code(err) === 'ENOTEMPTY' || code(err) === 'ENOTDIR') && tries < MAX_PASSES) continue;
      throw failed(err, 'remove', shown);
    }
  }
}

function emptyDirectory(fd: number, shown: string, top: number, depth: number): void {
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    let names: string[];
    try {
      names = readdirSync(`/proc/self/fd/${fd}`);
    } catch (err) {
      throw failed(err, 'read', shown);
    }
    if (names.length === 0) return;
    for (const name of names) {
      if (depth < MAX_DEPTH) {
        removeEntry(fd, name, `${shown}/${name}`, top, depth + 1);
        continue;
      }
      // Too deep to hold every directory above it open: moved up to the top, removed from there.
      try {
        renameSync(at(fd, name), at(top, `.tspod-deep-${process.pid}-${++lifted}`));
      } catch (err) {
        if (code(err) !== 'ENOENT') throw failed(err, 'move up', `${shown}/${name}`);
      }
    }
  }
  throw new TspodError(`cannot remove ${shown}: it did not stay empty (entries kept being added)`);
}
