// Containers from images in the local store: built here from a busybox tree with two layers
// (a whiteout, an opaque directory), imported as an OCI layout and as a docker save tarball.
import t, { type Test } from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { tempDir } from '../helpers/cleanup.js';
import { mountsUnder, waitFor } from '../helpers/proc.js';
import { testState, type TestState } from '../helpers/state.js';
import { NO_BUSYBOX, busyboxMembers, haveBusybox } from '../helpers/busybox.js';
import { buildImage, dockerSaveTar, writeOciLayoutDir, writeTar, type TestImage } from '../helpers/image-builder.js';

const skip = !isRoot ? NOT_ROOT : !haveBusybox ? NO_BUSYBOX : undefined;
if (skip) t.plan(0, skip);

function testImage(): TestImage {
  const base = writeTar([
    ...busyboxMembers(),
    { path: 'etc/gone', body: 'deleted by the top layer\n' },
    { path: 'data/', type: 'dir' },
    { path: 'data/old', body: 'hidden by the opaque directory\n' },
  ]);
  const top = writeTar([
    { path: 'etc/.wh.gone', body: '' },
    { path: 'data/', type: 'dir' },
    { path: 'data/.wh..wh..opq', body: '' },
    { path: 'data/new', body: 'new\n', uid: 1000, gid: 1000 },
  ]);
  return {
    layers: [base, top],
    config: {
      Entrypoint: ['/bin/sh', '-c'],
      Cmd: ['echo CMD $(id -u):$(id -g) $FROM_IMAGE $(pwd) $(ls /data) $(ls /etc | tr "\\n" " "); exec sleep 1000'],
      Env: ['FROM_IMAGE=yes', 'PATH=/bin'],
      WorkingDir: '/data',
      User: 'app',
    },
  };
}

/** A state dir and an image store of the test's own, with the image imported as `name`. */
async function withImage(t: Test, name: string, format: 'oci' | 'docker'): Promise<TestState> {
  const images = tempDir(t, 'images');
  const s = testState(t, { TSPOD_IMAGE_ROOT: images });
  const dir = tempDir(t, 'src');
  const image = testImage();
  const file = format === 'oci' ? writeOciLayoutDir(join(dir, 'layout'), buildImage(image)) : join(dir, 'save.tar');
  if (format === 'docker') writeFileSync(file, dockerSaveTar({ ...image, repoTags: [name] }));
  const r = await s.cli(['image', 'import', file, '--name', name]);
  if (r.code !== 0) throw new Error(r.stderr);
  return s;
}

const logs = async (s: TestState, pod: string, c = pod) => (await s.cli(['logs', pod, c])).stdout;

for (const format of ['oci', 'docker'] as const) {
  t.test(`an image imported from ${format === 'oci' ? 'an OCI layout' : 'a docker save tarball'} runs with its config`, async (t) => {
    const s = await withImage(t, 'demo:1', format);
    const r = await s.cli(['run', '-d', '--name', `img-${format}`, '--image', 'demo:1']);
    t.equal(r.code, 0, r.stderr);
    const out = await waitFor('its output', async () => (await logs(s, `img-${format}`)).includes('CMD') && logs(s, `img-${format}`));
    t.match(out, /^CMD 1000:1000 yes \/data new /m, 'User (looked up in its /etc/passwd), Env, WorkingDir; /data opaque');
    t.notMatch(out, /gone/, 'the whited-out file is not there');
    t.match(out, /group/, 'the rest of /etc is');
  });
}

t.test("exec runs in the image's environment, directory and user; a read-only root keeps nodev", async (t) => {
  const s = await withImage(t, 'demo:1', 'oci');
  const r = await s.cli(['run', '-d', '--name', 'ex', '--read-only', '--image', 'demo:1']);
  t.equal(r.code, 0, r.stderr);
  await waitFor('it to run', async () => (await logs(s, 'ex')).includes('CMD'));
  const e = await s.cli([
    'exec',
    'ex',
    'ex',
    '--',
    'sh',
    '-c',
    'echo $FROM_IMAGE $(pwd) $(id -u):$(id -g) $(id -G); grep " / / " /proc/self/mountinfo',
  ]);
  t.equal(e.code, 0, e.stderr);
  t.match(e.stdout, /^yes \/data 1000:1000 1000 29$/m, "the image's Env and WorkingDir, and its User with its groups");
  t.match(e.stdout, / \/ \/ ro,nodev[, ]/, 'the root is read-only and still nodev');
});

t.test('args replace the Cmd; command replaces the Entrypoint', async (t) => {
  const s = await withImage(t, 'demo:1', 'oci');
  const a = await s.cli(['run', '--image', 'demo:1', '--', 'echo ARGS $FROM_IMAGE']);
  t.equal(a.stdout, `${a.stdout.split(' |')[0]} | ARGS yes\n`, 'the words after -- are the Cmd: the Entrypoint sh -c runs them');
  const m = join(tempDir(t, 'm'), 'pod.json');
  writeFileSync(
    m,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'cmd' },
      spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'demo:1', command: ['/bin/echo'], args: ['COMMAND'] }] },
    }),
  );
  const c = await s.cli(['run', '-f', m]);
  t.equal(c.stdout, 'c     | COMMAND\n', 'command replaces the Entrypoint and drops the Cmd');
});

t.test("two containers of one image do not see each other's writes; a restart starts from the image", async (t) => {
  const s = await withImage(t, 'demo:1', 'oci');
  const m = join(tempDir(t, 'm'), 'pod.json');
  // As root: the image's user app may not write its /data.
  const writer = (n: string) => ({
    name: n,
    image: 'demo:1',
    securityContext: { runAsUser: 0 },
    args: [`echo ${n} > /data/mine; ls /data | tr "\\n" " "; echo; exec sleep 1000`],
  });
  writeFileSync(
    m,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'two' },
      spec: { restartPolicy: 'Always', containers: [writer('a'), writer('b')] },
    }),
  );
  t.equal((await s.cli(['run', '-d', '-f', m])).code, 0);
  await waitFor('both', async () => (await logs(s, 'two', 'a')).includes('mine') && (await logs(s, 'two', 'b')).includes('mine'));
  const upperA = join(s.store.paths.pod('two'), 'containers/a/upper/data/mine');
  t.equal(readFileSync(upperA, 'utf8'), 'a\n', "a's write is in a's writable layer");
  t.equal(readFileSync(join(s.store.paths.pod('two'), 'containers/b/upper/data/mine'), 'utf8'), 'b\n', "b's in b's");
  t.equal(await s.cli(['exec', 'two', 'a', '--', 'cat', '/data/mine']).then((r) => r.stdout), 'a\n', 'a reads its own file');
  await s.cli(['restart', 'two', 'a', '--grace', '1']);
  await waitFor(
    'a restarted',
    () => s.store.read('two')?.containers[0].restartCount === 1 && s.store.read('two')!.containers[0].state === 'running',
  );
  const e = await waitFor('the restarted a', async () => {
    const r = await s.cli(['exec', 'two', 'a', '--', 'cat', '/data/mine']);
    return r.code === 0 ? r.stdout : undefined;
  });
  t.equal(e, 'a\n', 'the restarted container wrote again on a fresh layer');
  const podDir = s.store.paths.pod('two');
  t.same(mountsUnder(s.root), [podDir, `${podDir}/shm`], "the overlays are in the containers' mount namespaces, not the host's");
  t.equal((await s.cli(['rm', '-f', 'two', 'b'])).code, 0);
  t.notOk(existsSync(join(s.store.paths.pod('two'), 'containers/b')), 'removing a container removes its writable layer');
  t.equal((await s.cli(['rm', '-f', 'two'])).code, 0);
  t.notOk(existsSync(s.store.paths.pod('two')), 'and removing the pod, everything');
  t.same(mountsUnder(s.root), [], 'nor any mount of the pod');
});

t.test('an image that is not in the store: a clear error, nothing created', async (t) => {
  const s = testState(t, { TSPOD_IMAGE_ROOT: tempDir(t, 'images') });
  const r = await s.cli(['run', '-d', '--name', 'noimg', '--image', 'nothere:1']);
  t.equal(r.code, 125);
  t.match(r.stderr, /^tspod: image "nothere:1" is not in the local image store .*tspod image import FILE/);
  t.same(s.store.names(), []);
});

t.test('image rm keeps the layers a pod is made of', async (t) => {
  const s = await withImage(t, 'demo:1', 'oci');
  await s.cli(['run', '-d', '--name', 'user', '--image', 'demo:1']);
  const layers = s.store.read('user')!.containers[0].imageLayers!;
  t.equal(layers.length, 2);
  const rm = await s.cli(['image', 'rm', 'demo:1']);
  t.equal(rm.code, 0, rm.stderr);
  t.notMatch((await s.cli(['image', 'ls'])).stdout, 'demo', 'the image is gone from the list');
  t.ok(
    layers.every((l) => existsSync(l)),
    'but its layers stay while the pod uses them',
  );
  t.match((await s.cli(['exec', 'user', 'user', '--', 'cat', '/data/new'])).stdout, 'new', 'and the container goes on');
});

t.test('an image of 128 layers runs (mount options are one page: 41 layers was the most before)', async (t) => {
  const images = tempDir(t, 'images');
  const s = testState(t, { TSPOD_IMAGE_ROOT: images });
  const layers = [writeTar([...busyboxMembers(), { path: 'layers/', type: 'dir' }])];
  for (let i = 1; i < 128; i++) {
    layers.push(
      writeTar([
        { path: 'layers/', type: 'dir' },
        { path: `layers/f${i}`, body: `${i}\n` },
        { path: 'layers/top', body: `${i}\n` },
      ]),
    );
  }
  const file = writeOciLayoutDir(join(tempDir(t, 'src'), 'layout'), buildImage({ layers, config: { Env: ['PATH=/bin'] } }));
  const imported = await s.cli(['image', 'import', file, '--name', 'tall:1']);
  t.equal(imported.code, 0, imported.stderr);
  const r = await s.cli([
    'run',
    '--name',
    'tall',
    '--image',
    'tall:1',
    '--',
    'sh',
    '-c',
    'echo FILES $(ls /layers | wc -l) TOP $(cat /layers/top)',
  ]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /FILES 128 TOP 127$/m, "every layer's file is there, and the top layer's version of the shared one");
});
