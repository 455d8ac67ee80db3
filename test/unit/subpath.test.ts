// The directories of an emptyDir's subPath are made beneath the volume while another process
// (a container sharing the volume) swaps a directory on the way for a symlink out of it.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdirsBeneath } from '../../src/storage/storage.js';

t.test('a symlink swapped in above never leads the mkdir out of the volume', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tspod-subpath-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [volume, outside] = [join(dir, 'volume'), join(dir, 'outside')];
  mkdirSync(join(volume, 'a'), { recursive: true });
  mkdirSync(outside);
  // As fast as it can: a/ moved aside, a symlink to outside/ put in its place, then undone.
  const swap = `const fs = require('fs'); process.chdir(${JSON.stringify(volume)});
    for (;;) {
      try {
        fs.renameSync('a', 'a.real'); fs.symlinkSync(${JSON.stringify(outside)}, 'a');
        fs.unlinkSync('a'); fs.renameSync('a.real', 'a');
      } catch {}
    }`;
  const swapper = spawn(process.execPath, ['-e', swap], { stdio: 'ignore' });
  t.teardown(() => swapper.kill('SIGKILL'));
  await new Promise((r) => setTimeout(r, 200)); // its Node has started

  let made = 0;
  let escaped = 0;
  for (let i = 0; i < 20000 && escaped === 0; i++) {
    try {
      mkdirsBeneath(volume, 'a/b');
    } catch (err) {
      // The a/ it made while a/ was away, replaced by the real one since: gone under it.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (existsSync(join(outside, 'b'))) escaped++;
    for (const d of [join(volume, 'a', 'b'), join(volume, 'a.real', 'b'), join(outside, 'b')]) {
      if (existsSync(d)) {
        made++;
        rmSync(d, { recursive: true, force: true });
      }
    }
  }
  t.ok(made > 0, `the directory was made (${made} times)`);
  t.equal(escaped, 0, 'never outside the volume');
});
