// removeTree (src/fs/remove.ts): a tree a container can write to is removed without ever
// following a symlink, also while something swaps a directory for a symlink during the walk.
import t, { type Test } from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeTree } from '../../src/fs/remove.js';
import { waitFor } from '../helpers/proc.js';
import { cleanup, owned, tempDir } from '../helpers/cleanup.js';

function scratch(t: Test): string {
  const dir = tempDir(t, 'remove');
  return dir;
}

const openFds = () => readdirSync('/proc/self/fd').length;

t.test('a tree of files, directories, symlinks and a FIFO goes; what its symlinks point to stays', async (t) => {
  const dir = scratch(t);
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'victim'), 'keep me');
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'a/b/c'), { recursive: true });
  writeFileSync(join(tree, 'a/b/c/file'), 'x');
  writeFileSync(join(tree, 'top'), 'y');
  symlinkSync(outside, join(tree, 'a/to-outside'));
  symlinkSync(join(outside, 'victim'), join(tree, 'a/b/to-victim'));
  execFileSync('mkfifo', [join(tree, 'a/fifo')]);
  const before = openFds();
  removeTree(tree);
  t.notOk(existsSync(tree), 'the tree is gone');
  t.equal(readFileSync(join(outside, 'victim'), 'utf8'), 'keep me', 'the symlinks went, not their targets');
  t.equal(openFds(), before, 'no fd is left open');
  t.doesNotThrow(() => removeTree(tree), 'a tree that is not there is fine');
});

t.test('a symlink given as the tree is removed itself', async (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, 'real'));
  writeFileSync(join(dir, 'real/file'), 'z');
  symlinkSync(join(dir, 'real'), join(dir, 'link'));
  removeTree(join(dir, 'link'));
  t.notOk(existsSync(join(dir, 'link')));
  t.ok(existsSync(join(dir, 'real/file')));
});

t.test('a tree far deeper than the walk holds open (300 levels) goes, with no fd left open', async (t) => {
  const dir = scratch(t);
  // Made a level at a time, relative to the one before: the whole path is longer than PATH_MAX.
  const path = join(dir, 'deep');
  mkdirSync(path);
  const script = 'cd "$1"; i=0; while [ $i -lt 300 ]; do mkdir d; cd d; echo $i > f; i=$((i+1)); done';
  execFileSync('sh', ['-c', script, 'sh', path]);
  const before = openFds();
  removeTree(path);
  t.notOk(existsSync(path));
  t.equal(openFds(), before);
});

t.test('a directory swapped for a symlink right after it was listed: its entries are removed where they are, not outside', async (t) => {
  // The worst moment, made certain: fs.readdirSync (which removeTree calls through the module)
  // swaps the directory for a symlink to outside as soon as it has listed it. A walk by path
  // would now unlink outside/victimN; an fd-relative one unlinks them in the moved directory.
  const dir = scratch(t);
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'sub'), { recursive: true });
  for (let i = 0; i < 5; i++) {
    writeFileSync(join(outside, `victim${i}`), 'keep me');
    writeFileSync(join(tree, `sub/victim${i}`), '');
  }
  // The CommonJS module object: what src/ calls through, and writable (an ESM namespace is not).
  const fs = require('node:fs') as typeof import('node:fs');
  const real = fs.readdirSync;
  let swapped = 0;
  (fs as { readdirSync: unknown }).readdirSync = (path: string, ...rest: unknown[]) => {
    const names = (real as (p: string, ...r: unknown[]) => string[])(path, ...rest);
    if (names.includes('victim0') && existsSync(join(tree, 'sub')) && !swapped++) {
      fs.renameSync(join(tree, 'sub'), join(tree, 'sub.moved'));
      fs.symlinkSync(outside, join(tree, 'sub'));
    }
    return names;
  };
  cleanup(t, 'restore fs.readdirSync', () => ((fs as { readdirSync: unknown }).readdirSync = real));
  removeTree(tree);
  t.equal(swapped, 1, 'the swap happened, right after the listing');
  t.same(readdirSync(outside).sort(), ['victim0', 'victim1', 'victim2', 'victim3', 'victim4'], 'nothing outside was removed');
  t.notOk(existsSync(tree), 'and the tree, symlink and moved directory included, is gone');
});

t.test('a directory swapped for a symlink to outside during the walk never leads the removal out of the tree', async (t) => {
  const dir = scratch(t);
  const outside = join(dir, 'outside');
  let swaps = 0;
  for (let round = 0; round < 5; round++) {
    mkdirSync(outside, { recursive: true });
    for (let i = 0; i < 50; i++) writeFileSync(join(outside, `victim${i}`), 'keep me');
    const tree = join(dir, `tree${round}`);
    for (let i = 0; i < 2000; i++) {
      mkdirSync(join(tree, `d${i}`), { recursive: true });
      writeFileSync(join(tree, `d${i}/f`), '');
    }
    // The same names as outside's: a walk that follows the symlink midway removes those.
    for (let i = 0; i < 50; i++) writeFileSync(join(tree, `d1000/victim${i}`), '');
    // As fast as it can, until the stop file appears: d1000 moved aside and a symlink to outside
    // put in its place, then undone. It prints how many times the symlink was in place.
    const [stop, started] = [join(dir, `stop${round}`), join(dir, `started${round}`)];
    const swapper = owned(
      t,
      spawn(
        process.execPath,
        [
          '-e',
          `const fs = require('fs'); process.chdir(${JSON.stringify(tree)}); let n = 0;
         for (let i = 0; i % 256 !== 0 || !fs.existsSync(${JSON.stringify(stop)}); i++) {
           try { fs.renameSync('d1000', 'd1000.real'); fs.symlinkSync(${JSON.stringify(outside)}, 'd1000'); n++;
                 fs.unlinkSync('d1000'); fs.renameSync('d1000.real', 'd1000'); } catch {}
           if (n === 1) fs.writeFileSync(${JSON.stringify(started)}, '');
         }
         console.log(n);`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      ),
    );
    let out = '';
    swapper.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => swapper.once('exit', r));
    await waitFor('the swapper to run', () => existsSync(started) || undefined);
    try {
      removeTree(tree);
    } catch {
      // The swapper may win a rename, or have d1000.real in its hands: it is cleaned up below.
    }
    writeFileSync(stop, '');
    await exited;
    swaps += Number(out.trim() || 0);
    rmSync(tree, { recursive: true, force: true });
    const left = readdirSync(outside).filter((n) => n.startsWith('victim'));
    t.equal(left.length, 50, `round ${round}: every file outside the tree is still there`);
  }
  t.ok(swaps > 0, `the swapper swapped during the removals (${swaps} times)`);
});
