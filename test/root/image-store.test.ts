// The image store against real files: images built here (two layers, a whiteout, an opaque
// directory) imported as an OCI layout directory, an OCI layout tar and a docker save tarball;
// layers unpacked once; corrupted blobs refused with nothing left; ls, rm and resolve.
import t, { type Test } from 'tap';
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadBinding } from '../../src/native/binding.js';
import { ImageStore, imageRoot, resolveImage, DEFAULT_IMAGE_ROOT } from '../../src/image/store.js';
import { isRoot } from '../helpers/root.js';
import { cleanup, tempDir } from '../helpers/cleanup.js';
import {
  MTIME,
  buildImage,
  dockerSaveFiles,
  dockerSaveTar,
  ociLayoutTar,
  tarOfFiles,
  testLayers,
  writeOciLayoutDir,
  writeTar,
  type TestImage,
  ociLayoutFiles,
  sha256,
} from '../helpers/image-builder.js';

if (!isRoot) t.plan(0, 'needs root: layers are unpacked with owners, device nodes and trusted.* xattrs');

const b = loadBinding();
const CONFIG = {
  Entrypoint: ['/bin/hello'],
  Cmd: ['--loud'],
  Env: ['PATH=/bin', 'GREETING=hi'],
  WorkingDir: '/data',
  User: '1000:1000',
  ExposedPorts: { '80/tcp': {} },
};

function fixture(t: Test) {
  const dir = tempDir(t, 'image');
  const store = new ImageStore(join(dir, 'store'), b);
  const { base, top, longPath } = testLayers();
  const image: TestImage = { layers: [base, top], config: CONFIG, refName: 'example.com/app:1.0', repoTags: ['example.com/app:1.0'] };
  return { dir, store, base, top, longPath, image };
}

/** What the store holds on disk: layer directories (names) and record files. */
function contents(store: ImageStore) {
  const ls = (d: string) => (existsSync(d) ? readdirSync(d).sort() : []);
  return { layers: ls(store.layersDir), images: ls(store.imagesDir), tmp: ls(store.tmpDir) };
}

t.test('an OCI layout directory: layers in overlayfs form, config, resolve', async (t) => {
  const { dir, store, image, longPath } = fixture(t);
  const built = buildImage(image);
  const layout = writeOciLayoutDir(join(dir, 'layout'), built);
  const lines: string[] = [];
  const [imported] = await store.import(layout, { log: (l) => lines.push(l) });
  t.same(imported.names, ['example.com/app:1.0']);
  t.equal(imported.id, built.configDigest, 'the id is the config digest');
  t.same(
    imported.layers.map((l) => l.unpacked),
    [true, true],
  );
  t.equal(lines.length, 2);

  const resolved = resolveImage(store, 'example.com/app:1.0');
  t.same(resolved.diffIds, built.diffIds, 'layers bottom first');
  t.same(
    resolved.layers,
    built.diffIds.map((d) => join(store.root, 'layers', d.slice(7), 'fs')),
  );
  t.same(resolved.config, {
    Entrypoint: ['/bin/hello'],
    Cmd: ['--loud'],
    Env: ['PATH=/bin', 'GREETING=hi'],
    WorkingDir: '/data',
    User: '1000:1000',
    ExposedPorts: ['80/tcp'],
  });
  t.equal(resolveImage(store, 'example.com/app:1.0').id, resolveImage(store, built.configDigest.slice(7, 19)).id, 'by short id');
  t.same(contents(store).layers, built.diffIds.map((d) => d.slice(7)).sort());

  const [lower, upper] = resolved.layers;
  // Layer 1 as the tar said: modes, owners, mtimes, setuid, links, devices, long names.
  const hello = statSync(join(lower, 'bin/hello'));
  t.equal(hello.mode & 0o7777, 0o755);
  t.equal(readFileSync(join(lower, 'bin/hello'), 'utf8'), '#!/bin/sh\necho hello\n');
  t.equal(Math.floor(hello.mtimeMs / 1000), MTIME);
  t.equal(statSync(join(lower, 'usr/bin/su')).mode & 0o7777, 0o4755, 'setuid kept');
  const owned = statSync(join(lower, 'owned'));
  t.match(
    { uid: owned.uid, gid: owned.gid, mode: owned.mode & 0o777, mtime: owned.mtimeMs / 1000 },
    { uid: 1000, gid: 1000, mode: 0o640, mtime: 1_600_000_000 },
  );
  t.equal(statSync(join(lower, 'data')).mode & 0o777, 0o750, 'directory mode applied after its children');
  t.equal(Math.floor(statSync(join(lower, 'data')).mtimeMs / 1000), MTIME, 'directory mtime applied after its children');
  t.equal(readlinkSync(join(lower, 'link')), 'etc/keep');
  t.equal(statSync(join(lower, 'hard')).ino, statSync(join(lower, 'etc/keep')).ino, 'hardlink');
  const dev = lstatSync(join(lower, 'dev/null'));
  t.ok(dev.isCharacterDevice());
  t.equal(dev.rdev, (1 << 8) | 3, 'device 1:3');
  t.equal(readFileSync(join(lower, longPath), 'utf8'), 'long\n');
  t.equal(statSync(join(lower, 'usr')).mode & 0o777, 0o755, 'implicit parent directory');

  // Layer 2: the whiteout is a 0:0 character device; /data is opaque.
  const wh = lstatSync(join(upper, 'etc/gone'));
  t.ok(wh.isCharacterDevice(), 'whiteout is a character device');
  t.equal(wh.rdev, 0, 'whiteout is 0:0');
  t.notOk(existsSync(join(upper, 'etc/.wh.gone')), 'no .wh. file left');
  t.notOk(existsSync(join(upper, 'data/.wh..wh..opq')), 'no opaque marker file left');
  t.equal(b.lgetxattr(join(upper, 'data'), 'trusted.overlay.opaque')?.toString(), 'y');
  t.equal(b.lgetxattr(join(upper, 'etc'), 'trusted.overlay.opaque'), null, 'etc is not opaque');
  t.same(readdirSync(join(upper, 'data')), ['new']);
  const layerRecord = JSON.parse(readFileSync(join(store.root, 'layers', built.diffIds[1].slice(7), 'layer.json'), 'utf8'));
  t.match(layerRecord, { diffId: built.diffIds[1], whiteouts: 1, opaqueDirs: 1 });
  t.same(contents(store).tmp, [], 'no temporary files');
});

t.test('an OCI layout tar and a docker save tarball import; each layer is unpacked once', async (t) => {
  const { dir, store, image } = fixture(t);
  const built = buildImage(image);
  writeFileSync(join(dir, 'oci.tar'), ociLayoutTar(built));
  writeFileSync(join(dir, 'docker.tar'), dockerSaveTar({ ...image, repoTags: ['app:saved', 'docker.io/library/app:also'] }));

  const [oci] = await store.import(join(dir, 'oci.tar'));
  t.same(
    oci.layers.map((l) => l.unpacked),
    [true, true],
  );
  const again = await store.import(join(dir, 'oci.tar'));
  t.same(
    again[0].layers.map((l) => l.unpacked),
    [false, false],
    'importing twice unpacks nothing',
  );

  const [docker] = await store.import(join(dir, 'docker.tar'));
  t.same(docker.names, ['app:saved', 'app:also'], 'RepoTags, docker.io/library/ dropped');
  t.same(
    docker.layers.map((l) => l.unpacked),
    [false, false],
    'the same layers (by diff_id) from another format',
  );
  t.equal(docker.id, oci.id, 'same config: same image id');

  // A second image sharing the base layer: only its own top layer is unpacked.
  const other = writeTar([
    { path: 'other/', type: 'dir' },
    { path: 'other/file', body: 'other\n' },
  ]);
  const second = buildImage({ ...image, layers: [image.layers[0], other], refName: 'second' });
  const [s] = await store.import(writeOciLayoutDir(join(dir, 'second'), second));
  t.same(
    s.layers.map((l) => l.unpacked),
    [false, true],
  );
  t.equal(contents(store).layers.length, 3, 'three distinct layers in the store');
  t.same(
    store.list().map((r) => `${r.name}:${r.tag}`),
    ['app:also', 'app:saved', 'example.com/app:1.0', 'second:latest'],
  );
});

t.test('a gzipped docker save tarball, a docker save directory, and --name', async (t) => {
  const { dir, store, image } = fixture(t);
  writeFileSync(join(dir, 'docker.tar.gz'), gzipSync(dockerSaveTar(image)));
  const [a] = await store.import(join(dir, 'docker.tar.gz'), { name: 'renamed:v2' });
  t.same(a.names, ['renamed:v2']);
  t.same(contents(store).tmp, [], 'the gunzipped copy is gone');
  const unpacked = join(dir, 'unpacked');
  for (const [path, data] of dockerSaveFiles(image)) {
    mkdirSync(join(unpacked, path, '..'), { recursive: true });
    writeFileSync(join(unpacked, path), data);
  }
  const [c] = await store.import(unpacked);
  t.same(c.names, ['example.com/app:1.0']);
  t.equal(c.id, a.id);
});

t.test('a corrupted blob is refused, named, and nothing is left in the store', async (t) => {
  const { dir, store, image } = fixture(t);
  const built = buildImage(image);
  const flip = (data: Buffer, at = Math.floor(data.length / 2)) => {
    const copy = Buffer.from(data);
    copy[at] ^= 0x01;
    return copy;
  };

  // A layer blob of an OCI layout directory.
  const layout = writeOciLayoutDir(join(dir, 'layout'), built);
  const layerDigest = built.layerDigests[1];
  const blob = join(layout, 'blobs/sha256', layerDigest.slice(7));
  writeFileSync(blob, flip(readFileSync(blob)));
  await t.rejects(store.import(layout), { message: new RegExp(`^${layout}: blob ${layerDigest} is corrupted`) });
  t.same(contents(store), { layers: [], images: [], tmp: [] }, 'nothing in the store');

  // The first layer this time, in an OCI tar: checked before the second is even looked at.
  const files = new Map([...ociLayoutFiles(built)]);
  const first = `blobs/sha256/${built.layerDigests[0].slice(7)}`;
  files.set(first, flip(files.get(first)!));
  writeFileSync(join(dir, 'bad.tar'), tarOfFiles(files));
  await t.rejects(store.import(join(dir, 'bad.tar')), { message: new RegExp(`bad\\.tar: blob ${built.layerDigests[0]} is corrupted`) });
  t.same(contents(store), { layers: [], images: [], tmp: [] });

  // The config blob.
  const cfg = new Map([...ociLayoutFiles(built)]);
  const cfgPath = `blobs/sha256/${built.configDigest.slice(7)}`;
  cfg.set(cfgPath, flip(cfg.get(cfgPath)!, 5));
  writeFileSync(join(dir, 'badcfg.tar'), tarOfFiles(cfg));
  await t.rejects(store.import(join(dir, 'badcfg.tar')), { message: new RegExp(`blob ${built.configDigest} is corrupted`) });

  // A blob of the right content but the wrong size in its descriptor.
  const sized = buildImage(image);
  (sized.indexJson.manifests as { size: number }[])[0].size += 1;
  await t.rejects(store.import(writeOciLayoutDir(join(dir, 'sized'), sized)), {
    message: new RegExp(`blob ${sized.manifestDigest}: \\d+ bytes where its descriptor says`),
  });

  // A docker save layer.tar: named by its path, checked against the diff_id.
  const saved = dockerSaveFiles(image);
  const layerTar = [...saved.keys()].find((k) => k.endsWith('layer.tar'))!;
  saved.set(layerTar, flip(saved.get(layerTar)!, 10));
  writeFileSync(join(dir, 'bad-docker.tar'), tarOfFiles(saved));
  await t.rejects(store.import(join(dir, 'bad-docker.tar')), {
    message: new RegExp(`layer ${layerTar} is corrupted: its content has digest sha256:[0-9a-f]{64}, its config says sha256:`),
  });
  t.same(contents(store), { layers: [], images: [], tmp: [] });
});

t.test('a file of several images imports all or none: one refused leaves no layer, no image, and every name as it was', async (t) => {
  const { dir, store, image } = fixture(t);
  const [base] = image.layers;
  const old = buildImage({ ...image, layers: [base], refName: 'app:1' });
  await store.import(writeOciLayoutDir(join(dir, 'old'), old));
  const before = contents(store);
  const recordFile = join(store.imagesDir, before.images[0]);
  const oldRecord = readFileSync(recordFile, 'utf8');

  // app:1 again (base and a new layer), then bad:1, whose new layer is refused as it is unpacked.
  const good = buildImage({ ...image, refName: 'app:1' });
  const bad = buildImage({ ...image, layers: [base, writeTar([{ path: '/abs', body: 'x' }])], refName: 'bad:1' });
  const both = writeOciLayoutDir(join(dir, 'both'), {
    ...good,
    blobs: new Map([...good.blobs, ...bad.blobs]),
    indexJson: { ...good.indexJson, manifests: [...(good.indexJson.manifests as unknown[]), ...(bad.indexJson.manifests as unknown[])] },
  });
  const attempt = async (s: ImageStore, what: string) => {
    const lines: string[] = [];
    await t.rejects(s.import(both, { log: (l) => lines.push(l) }), { message: /member "\/abs": absolute path/ }, what);
    t.ok(lines.includes(`layer ${good.diffIds[1].slice(7, 19)}: unpacked`), "app:1's new layer was unpacked before bad:1 failed");
    t.same(contents(s), before, 'then removed: the layers, the names and tmp/ as they were');
    t.equal(readFileSync(recordFile, 'utf8'), oldRecord, 'app:1 still names the image it named, its record untouched');
    t.equal(s.resolve('app:1').id, old.configDigest);
  };
  await attempt(store, 'refused');
  // When what is in use cannot be told, the layers this import unpacked still go.
  const damaged = new ImageStore(store.root, b, {
    layersInUse: () => {
      throw new Error('a damaged pod record');
    },
  });
  await attempt(damaged, 'refused, with a store that cannot tell what is in use');

  // Without the bad image, the import succeeds and the name moves.
  const fine = writeOciLayoutDir(join(dir, 'fine'), good);
  await store.import(fine);
  t.equal(store.resolve('app:1').id, good.configDigest, 'app:1 names the new image');
  t.same(contents(store).layers, good.diffIds.map((d) => d.slice(7)).sort(), "the old image's only layer is shared: kept");
});

t.test('ls and rm: rm removes the layers no other image uses', async (t) => {
  const { dir, store, image } = fixture(t);
  const other = writeTar([{ path: 'other', body: 'x' }]);
  const a = buildImage(image);
  const bImg = buildImage({ ...image, layers: [image.layers[0], other], refName: 'b:1' });
  await store.import(writeOciLayoutDir(join(dir, 'a'), a));
  await store.import(writeOciLayoutDir(join(dir, 'b'), bImg));
  await store.import(writeOciLayoutDir(join(dir, 'a2'), a), { name: 'a-alias' });
  t.same(
    store.list().map((r) => `${r.name}:${r.tag}`),
    ['a-alias:latest', 'b:1', 'example.com/app:1.0'],
  );
  const rec = store.list().find((r) => r.name === 'b')!;
  t.match(rec, { id: bImg.configDigest, layers: bImg.diffIds, created: '2024-01-02T03:04:05Z', format: 'oci' });
  t.ok(rec.size > 0);

  // By id with two names: refused, naming them.
  await t.rejects(store.remove(a.configDigest), {
    name: 'InputError',
    message: /has 2 names \(a-alias:latest, example\.com\/app:1\.0\): remove them by name/,
  });
  t.same(await store.remove('a-alias'), { untagged: ['a-alias:latest'], deletedLayers: [] }, 'another name still uses its layers');
  const r1 = await store.remove('example.com/app:1.0');
  t.same(r1.deletedLayers, [a.diffIds[1]], 'only the layer b does not share');
  t.ok(store.hasLayer(a.diffIds[0]), 'the shared base stays');
  const r2 = await store.remove(bImg.configDigest.slice(7, 19));
  t.same(r2.untagged, ['b:1']);
  t.same(r2.deletedLayers.sort(), [...bImg.diffIds].sort());
  t.same(contents(store), { layers: [], images: [], tmp: [] });
  await t.rejects(store.remove('b:1'), { message: /not in the local image store/ });
});

t.test('layers in use are kept until they are not', async (t) => {
  const { dir, store: plain, image } = fixture(t);
  let inUse: string[] = [];
  const store = new ImageStore(plain.root, b, { layersInUse: () => inUse });
  await store.import(writeOciLayoutDir(join(dir, 'a'), buildImage(image)));
  const resolved = store.resolve('example.com/app:1.0');
  inUse = resolved.layers;
  t.same((await store.remove('example.com/app:1.0')).deletedLayers, [], 'a running container still uses them');
  t.equal(contents(store).layers.length, 2);
  inUse = [];
  t.same((await store.gc()).sort(), [...resolved.diffIds].sort(), 'gc removes them once unused');
});

t.test('an image that is not in the store: a clear error, no registry', async (t) => {
  const { store } = fixture(t);
  t.throws(() => resolveImage(store, 'nginx:1.25'), {
    message: new RegExp(
      String.raw`^image "nginx:1\.25" is not in the local image store \(.*\); ` +
        'tspod never pulls from a registry: import it from a file with tspod image import FILE',
    ),
  });
  t.throws(() => store.resolve('Bad Name'), { name: 'InputError' });
  t.equal(imageRoot(), process.env.TSPOD_IMAGE_ROOT || DEFAULT_IMAGE_ROOT);
  t.equal(imageRoot('rel/dir'), join(process.cwd(), 'rel/dir'));
});

t.test('refused inputs: other platforms, zstd, no name, not an image', async (t) => {
  const { dir, store, image } = fixture(t);
  const foreign = buildImage({ ...image, architecture: 's390x' });
  await t.rejects(store.import(writeOciLayoutDir(join(dir, 'foreign'), foreign)), {
    message: /no image for this host's platform linux\/(amd64|arm64); the file has linux\/s390x/,
  });

  // An index with several platforms: the host's is picked.
  const mine = buildImage(image);
  const theirs = buildImage({ ...image, architecture: 'riscv64' });
  const multi = { ...mine, blobs: new Map([...mine.blobs, ...theirs.blobs]) };
  multi.indexJson = {
    ...mine.indexJson,
    manifests: [...(theirs.indexJson.manifests as object[]), ...(mine.indexJson.manifests as object[])],
  };
  const [picked] = await store.import(writeOciLayoutDir(join(dir, 'multi'), multi));
  t.equal(picked.id, mine.configDigest);

  const zstd = buildImage(image);
  const manifest = JSON.parse(zstd.blobs.get(zstd.manifestDigest)!.toString());
  manifest.layers[0].mediaType = 'application/vnd.oci.image.layer.v1.tar+zstd';
  const data = Buffer.from(JSON.stringify(manifest));
  zstd.blobs.set(sha256(data), data);
  zstd.indexJson = {
    ...zstd.indexJson,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: sha256(data),
        size: data.length,
        annotations: { 'org.opencontainers.image.ref.name': 'z' },
      },
    ],
  };
  await t.rejects(store.import(writeOciLayoutDir(join(dir, 'zstd'), zstd)), { message: /zstd-compressed .*not support/ });

  const unnamed = buildImage({ ...image, refName: undefined });
  await t.rejects(store.import(writeOciLayoutDir(join(dir, 'unnamed'), unnamed)), {
    message: /has no name in the file .*--name NAME\[:TAG\]/,
  });
  t.equal((await store.import(join(dir, 'unnamed'), { name: 'named' }))[0].names[0], 'named:latest');

  writeFileSync(join(dir, 'junk'), 'not an image at all');
  await t.rejects(store.import(join(dir, 'junk')), { message: /junk: not a tar archive/ });
  await t.rejects(store.import(join(dir, 'missing')), { message: /missing: no such file or directory/ });
  mkdirSync(join(dir, 'empty'));
  await t.rejects(store.import(join(dir, 'empty')), { message: /neither an OCI image layout/ });
  await t.rejects(store.import(join(dir, 'unnamed'), { name: 'UPPER' }), { name: 'InputError', field: '--name' });
  rmSync(join(dir, 'junk'));
});

t.test('concurrent imports take turns (the store lock); a shared layer is unpacked once', async (t) => {
  const { dir, store, image } = fixture(t);
  const other = new ImageStore(store.root, b); // a second store object: its own lock fd
  const x = buildImage({ ...image, refName: 'x' });
  const y = buildImage({ ...image, layers: [image.layers[0], writeTar([{ path: 'y', body: 'y' }])], refName: 'y' });
  const [rx, ry] = await Promise.all([
    store.import(writeOciLayoutDir(join(dir, 'x'), x)),
    other.import(writeOciLayoutDir(join(dir, 'y'), y)),
  ]);
  const unpackedBase = [rx[0].layers[0].unpacked, ry[0].layers[0].unpacked];
  t.same(unpackedBase.sort(), [false, true], 'the base layer was unpacked by exactly one of them');
  t.equal(contents(store).layers.length, 3);
});

t.test("a change waits for the store's lock a bounded time, then fails naming the lock", async (t) => {
  const { store } = fixture(t);
  mkdirSync(store.root, { recursive: true });
  // Another tspod holds the lock (an import of a large image, say).
  let held: number | undefined = openSync(store.lockFile, 'a');
  cleanup(t, 'close the held lock', () => held !== undefined && closeSync(held));
  t.ok(b.flock(held, true, false), 'the test holds the lock');
  const waiting = new ImageStore(store.root, b, { lockTimeoutMs: 300 });
  await t.rejects(waiting.gc(), { message: `timed out after 0 s waiting for ${store.lockFile}, held by another tspod` });
  closeSync(held);
  held = undefined;
  t.same(await waiting.gc(), [], 'and it runs once the lock is free');
});

t.test('a decompression bomb stops at the ceiling or at the free space to leave, naming what, and leaves nothing', async (t) => {
  const { dir } = fixture(t);
  const bomb = writeTar([{ path: 'zeros', body: Buffer.alloc(40 * 2 ** 20) }]);
  const image = buildImage({ layers: [bomb], refName: 'bomb:1' });
  t.ok(gzipSync(bomb).length < 2 ** 20, 'under 1 MiB compressed, 40 MiB expanded');
  const limited = (limits: { maxBytes: number; minFreeBytes: number }) => new ImageStore(join(dir, 'store'), b, { limits });

  // The layer expands past the ceiling as it is unpacked.
  const layout = writeOciLayoutDir(join(dir, 'layout'), image);
  const store = limited({ maxBytes: 8 * 2 ** 20, minFreeBytes: 0 });
  await t.rejects(store.import(layout), {
    name: 'TspodError',
    message: new RegExp(
      `^${layout}: layer sha256:[0-9a-f]{64}: the import would write more than 8 MiB \\(its ceiling, TSPOD_IMAGE_MAX_BYTES\\)$`,
    ),
  });
  t.same(contents(store), { layers: [], images: [], tmp: [] }, 'no layer, no record, no temporary file');

  // A gzipped archive is gunzipped into tmp/ first: the ceiling counts that too.
  const gz = join(dir, 'bomb.tar.gz');
  const small = buildImage({ layers: [writeTar([{ path: 'f', body: 'x' }])], refName: 'small:1' });
  const files = ociLayoutFiles(small);
  files.set('padding', Buffer.alloc(40 * 2 ** 20));
  writeFileSync(gz, gzipSync(tarOfFiles(files)));
  await t.rejects(store.import(gz), { message: new RegExp(`^${gz}: the import would write more than 8 MiB`) });
  t.same(contents(store), { layers: [], images: [], tmp: [] });

  // However big the ceiling, the free space the import must leave stops it first.
  const full = limited({ maxBytes: Number.MAX_SAFE_INTEGER, minFreeBytes: Number.MAX_SAFE_INTEGER });
  await t.rejects(full.import(layout), {
    message: /the import would leave less than \d+ MiB free on the file system of .*TSPOD_IMAGE_MIN_FREE_BYTES/,
  });
  t.same(contents(full), { layers: [], images: [], tmp: [] });
});

t.test('leftovers of a crash are removed by the next import, never used', async (t) => {
  const { dir, store, image } = fixture(t);
  const built = buildImage(image);
  store.ensureRoot();
  // A layer half unpacked under a temporary name, a record half written, a gunzipped copy.
  const half = join(store.layersDir, `.tmp-${built.diffIds[0].slice(7, 19)}-deadbeef`);
  mkdirSync(join(half, 'fs/etc'), { recursive: true });
  writeFileSync(join(store.imagesDir, '.tmp-1-cafe'), '{"half":');
  writeFileSync(join(store.tmpDir, 'import-1-beef.tar'), 'x');
  t.notOk(store.hasLayer(built.diffIds[0]), 'a temporary directory is not a layer');
  t.same(store.list(), [], 'a temporary record is not an image');
  const [img] = await store.import(writeOciLayoutDir(join(dir, 'layout'), built));
  t.same(
    img.layers.map((l) => l.unpacked),
    [true, true],
  );
  t.same(contents(store), { layers: built.diffIds.map((d) => d.slice(7)).sort(), images: ['example.com%2Fapp%3A1.0.json'], tmp: [] });
});
