// tspod image import / ls / rm as a user runs them: the built CLI (dist/), with a store of the
// test's own ($TSPOD_IMAGE_ROOT).
import t, { type Test } from 'tap';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot } from '../helpers/root.js';
import { tempDir } from '../helpers/cleanup.js';
import { runCli } from '../helpers/cli.js';
import { buildImage, ociLayoutTar, testLayers, writeTar } from '../helpers/image-builder.js';

if (!isRoot) t.plan(0, 'needs root: tspod image import and rm need root');

/** tspod with an image store of the test's own. */
function cli(t: Test, dir: string) {
  const env = { ...process.env, TSPOD_IMAGE_ROOT: join(dir, 'store') };
  return (args: string[]) => runCli(t, args, { env });
}

t.test('import, ls, rm', async (t) => {
  const dir = tempDir(t, 'image-cli');
  const tspod = cli(t, dir);
  const { base, top } = testLayers();
  const built = buildImage({ layers: [base, top], refName: 'app:1', config: { Cmd: ['/bin/hello'] } });
  writeFileSync(join(dir, 'app.tar'), ociLayoutTar(built));
  const other = buildImage({ layers: [base, writeTar([{ path: 'x', body: 'x' }])], refName: 'other:2' });
  writeFileSync(join(dir, 'other.tar'), ociLayoutTar(other));

  const imp = await tspod(['image', 'import', join(dir, 'app.tar')]);
  t.equal(imp.code, 0, imp.stderr);
  t.match(imp.stdout, new RegExp(`^imported app:1 \\(image ${built.configDigest.slice(7, 19)}, linux/(amd64|arm64)\\)\\n$`));
  t.match(imp.stderr, /layer [0-9a-f]{12}: unpacked\nlayer [0-9a-f]{12}: unpacked\n/);
  const imp2 = await tspod(['image', 'import', '--name', 'renamed:v9', join(dir, 'other.tar')]);
  t.equal(imp2.code, 0, imp2.stderr);
  t.match(imp2.stderr, /: already in the store\n.*: unpacked\n/);

  const ls = await tspod(['image', 'ls']);
  t.equal(ls.code, 0, ls.stderr);
  const lines = ls.stdout.trimEnd().split('\n');
  t.match(lines[0], /^IMAGE\s+ID\s+CREATED\s+SIZE\s+LAYERS\s+PLATFORM$/);
  t.match(lines[1], new RegExp(`^app:1\\s+${built.configDigest.slice(7, 19)}\\s+\\d+d ago\\s+\\d+B\\s+2\\s+linux/`));
  t.match(lines[2], /^renamed:v9\s/);
  const json = JSON.parse((await tspod(['image', 'ls', '--json'])).stdout);
  t.match(json, [
    { name: 'app:1', id: built.configDigest, layers: 2, created: '2024-01-02T03:04:05Z' },
    { name: 'renamed:v9', id: other.configDigest },
  ]);

  const rm = await tspod(['image', 'rm', 'renamed:v9']);
  t.equal(rm.code, 0, rm.stderr);
  t.equal(rm.stdout, `untagged renamed:v9\ndeleted layer ${other.diffIds[1].slice(7, 19)}\n`);
  t.equal(readdirSync(join(dir, 'store/layers')).length, 2, 'the shared base stays');

  const missing = await tspod(['image', 'rm', 'nope']);
  t.equal(missing.code, 125);
  t.match(missing.stderr, /^tspod: image "nope" is not in the local image store/);
  const bad = await tspod(['image', 'import', join(dir, 'nothing.tar')]);
  t.equal(bad.code, 125);
  t.equal(bad.stderr, `tspod: ${join(dir, 'nothing.tar')}: no such file or directory\n`);
  const badName = await tspod(['image', 'import', '--name', 'Bad', join(dir, 'app.tar')]);
  t.equal(badName.code, 125);
  t.match(badName.stderr, /^tspod: --name: "Bad": invalid name component/);

  const rmAll = await tspod(['image', 'rm', 'app:1']);
  t.equal(rmAll.code, 0, rmAll.stderr);
  t.same(readdirSync(join(dir, 'store/layers')), []);
  t.ok(existsSync(join(dir, 'store/lock')));
});
