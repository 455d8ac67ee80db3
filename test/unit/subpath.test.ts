// The directories of an emptyDir's subPath are made beneath the volume while another process
// (a container sharing the volume) swaps a directory on the way for a symlink out of it.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdirsBeneath } from '../../src/storage/storage.js';
import { owned, tempDir } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/proc.js';

t.test('a symlink swapped in above never leads the mkdir out of the volume', async (t) => {
  const dir = tempDir(t, 'subpath');
  const [volume, outside] = [join(dir, 'volume'), join(dir, 'outside')];
  mkdirSync(join(volume, 'a'), { recursive: true });
  mkdirSync(outside);
  // As fast as it can, until the stop file appears: a/ moved aside, a symlink to outside/ put in
  // its place, then undone. It reports how often the symlink was in place, and its failures: the
  // mkdir below can make a fresh a/ while the real one is aside, which the swapper then removes.
  const stop = join(dir, 'stop');
  const swap = `const fs = require('fs'); process.chdir(${JSON.stringify(volume)});
    const report = { swaps: 0, errors: {} };
    for (let i = 0; i % 256 !== 0 || !fs.existsSync(${JSON.stringify(stop)}); i++) {
      try {
        fs.renameSync('a', 'a.real'); fs.symlinkSync(${JSON.stringify(outside)}, 'a'); report.swaps++;
        fs.unlinkSync('a'); fs.renameSync('a.real', 'a');
      } catch (err) {
        report.errors[err.code] = (report.errors[err.code] ?? 0) + 1;
        // Back to one real a/: the one the mkdir made (if any) goes, the moved one returns.
        try { fs.unlinkSync('a'); } catch {}
        try { fs.rmSync('a', { recursive: true }); } catch {}
        try { fs.renameSync('a.real', 'a'); } catch {}
      }
    }
    console.log(JSON.stringify(report));`;
  const swapper = owned(t, spawn(process.execPath, ['-e', swap], { stdio: ['ignore', 'pipe', 'inherit'] }));
  let out = '';
  swapper.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise((r) => swapper.once('close', r));
  await waitFor('the swapper to run', () => existsSync(join(volume, 'a.real')) || undefined);

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
  writeFileSync(stop, '');
  await exited;
  const report = JSON.parse(out) as { swaps: number; errors: Record<string, number> };
  t.ok(report.swaps > 0, `the symlink was in place ${report.swaps} times during the mkdirs`);
  // What the mkdir's own a/ and b/ cause; anything else would mean the swapper did not swap.
  t.same(
    Object.keys(report.errors).filter((code) => !['ENOENT', 'EEXIST', 'ENOTEMPTY', 'EISDIR'].includes(code)),
    [],
    `the swapper failed only where the mkdir raced it: ${JSON.stringify(report.errors)}`,
  );
  t.ok(made > 0, `the directory was made (${made} times)`);
  t.equal(escaped, 0, 'never outside the volume');
});
