// What the unpacker knows of a layer's paths (src/image/unpack.ts, KnownPaths): a replaced
// entry's subtree is forgotten by walking it, so the work of a replacement is what was beneath
// it, never every path of the layer (the audit's 40,000 replacing entries took 95 s).
import t from 'tap';
import { KnownPaths } from '../../src/image/unpack.js';

t.test('forgetting a path visits only it and what was noted beneath it, however many paths are known', async (t) => {
  const k = new KnownPaths();
  for (let i = 0; i < 20_000; i++) {
    k.addDir(`d${i}`);
    k.addWhiteout(`d${i}/gone`);
  }
  k.addDir('a');
  k.addDir('a/b', { entry: {} as never });
  k.addWhiteout('a/b/w');
  k.addOpaque('a/b');
  t.equal(k.forget('d5/gone'), 1, 'a leaf: one path, not 40,000');
  t.equal(k.forget('a'), 3, 'a directory: itself and its two paths');
  t.notOk(k.isDir('a') || k.isDir('a/b') || k.isWhiteout('a/b/w') || k.isOpaque('a/b') || k.deferred.has('a/b'), 'all of them forgotten');
  t.ok(k.isDir('d5') && k.isWhiteout('d6/gone'), 'the others are still known');
  t.equal(k.forget('a'), 1, 'forgetting again finds nothing beneath');
  k.addDir('a');
  t.equal(k.forget('a'), 1, 'a path noted again is not confused with its old children');
});

t.test('20,000 replacements among 40,000 known paths take 20,000 visits, not 800,000,000', async (t) => {
  const k = new KnownPaths();
  for (let i = 0; i < 20_000; i++) {
    k.addDir(`d${i}`);
    k.addWhiteout(`d${i}/w`);
  }
  let visits = 0;
  for (let i = 0; i < 20_000; i++) {
    k.addWhiteout(`s${i}`);
    visits += k.forget(`s${i}`);
  }
  t.equal(visits, 20_000);
});
