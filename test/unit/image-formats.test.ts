// Reading image files into plans, without unpacking (no root needed): nested indexes and
// attestation manifests as buildx writes them, containerd's image name annotation, docker
// save files, and digests checked on every blob read.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostPlatform, readImages } from '../../src/image/formats.js';
import { DirSource, TarSource } from '../../src/image/source.js';
import { loadBinding } from '../../src/native/binding.js';
import { tempDir } from '../helpers/cleanup.js';
import {
  buildImage,
  dockerSaveTar,
  hostArch,
  ociLayoutFiles,
  sha256,
  tarOfFiles,
  writeOciLayoutDir,
  writeTar,
} from '../helpers/image-builder.js';

const layer = writeTar([{ path: 'f', body: 'x' }]);
/** openat2, for reading an image directory beneath itself: no root needed. */
const binding = loadBinding();

function tmp(t: Test): string {
  const dir = tempDir(t, 'formats');
  return dir;
}

t.test('a nested index with other platforms and an attestation: the host platform is picked', async (t) => {
  const dir = tmp(t);
  const mine = buildImage({ layers: [layer], config: { Cmd: ['sh'] } });
  const theirs = buildImage({ layers: [layer], architecture: hostArch() === 'amd64' ? 'arm64' : 'amd64' });
  const attestation = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.in-toto+json', digest: sha256('{}'), size: 2 },
      layers: [],
    }),
  );
  const nested = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        (theirs.indexJson.manifests as object[])[0],
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: sha256(attestation),
          size: attestation.length,
          platform: { os: 'unknown', architecture: 'unknown' },
        },
        (mine.indexJson.manifests as object[])[0],
      ],
    }),
  );
  const blobs = new Map([...theirs.blobs, ...mine.blobs, [sha256(attestation), attestation], [sha256(nested), nested]]);
  const indexJson = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.index.v1+json',
        digest: sha256(nested),
        size: nested.length,
        annotations: { 'io.containerd.image.name': 'docker.io/library/busybox:1.36', 'org.opencontainers.image.ref.name': '1.36' },
      },
    ],
  };
  const layout = writeOciLayoutDir(join(dir, 'layout'), { ...mine, blobs, indexJson });
  const [plan, ...rest] = await readImages(new DirSource(layout, binding), hostPlatform());
  t.equal(rest.length, 0);
  t.match(plan, {
    format: 'oci',
    id: mine.configDigest,
    manifestDigest: mine.manifestDigest,
    names: [{ name: 'busybox', tag: '1.36' }],
    config: { Cmd: ['sh'] },
  });
  t.same(
    plan.layers.map((l) => l.diffId),
    mine.diffIds,
  );
  t.equal(plan.layers[0].compression, 'gzip');

  // Asked for a platform the file does not have: each platform it has is listed, not the attestation.
  await t.rejects(readImages(new DirSource(layout, binding), { os: 'linux', architecture: 'mips64le' }), {
    message: new RegExp(`no image for this host's platform linux/mips64le; the file has linux/amd64, linux/arm64$`),
  });

  // The nested index corrupted: refused by its digest before it is parsed.
  const broken = new Map(blobs);
  broken.set(sha256(nested), Buffer.from(nested.toString().replace('index', 'indey')));
  const bad = writeOciLayoutDir(join(dir, 'bad'), { ...mine, blobs: broken, indexJson });
  await t.rejects(readImages(new DirSource(bad, binding), hostPlatform()), { message: new RegExp(`blob ${sha256(nested)} is corrupted`) });
});

t.test('docker save: names from RepoTags, paths checked, config digest from its name', async (t) => {
  const dir = tmp(t);
  const file = join(dir, 'save.tar');
  writeFileSync(file, dockerSaveTar({ layers: [layer, layer], repoTags: ['registry.example:5000/a/b:c'], config: { Env: ['A=1'] } }));
  const [plan] = await readImages(new TarSource(file, file), hostPlatform());
  t.match(plan, { format: 'docker-save', names: [{ name: 'registry.example:5000/a/b', tag: 'c' }], config: { Env: ['A=1'] } });
  t.equal(plan.layers.length, 2);
  t.equal(plan.layers[0].digest, undefined, 'ID/layer.tar names no digest: checked against the diff_id');

  const evil = new Map([['manifest.json', Buffer.from(JSON.stringify([{ Config: '../../etc/passwd', RepoTags: [], Layers: [] }]))]]);
  writeFileSync(join(dir, 'evil.tar'), tarOfFiles(evil));
  await t.rejects(readImages(new TarSource(join(dir, 'evil.tar'), 'evil.tar'), hostPlatform()), {
    message: /evil\.tar: manifest\.json\[0\]\.Config: "\.\.\/\.\.\/etc\/passwd" is not a path inside the archive/,
  });
});

t.test("an OCI tar read in place, including through the archive's own symlinks", async (t) => {
  const dir = tmp(t);
  const built = buildImage({ layers: [layer], refName: 'x' });
  const files = ociLayoutFiles(built);
  const tar = tarOfFiles(files);
  writeFileSync(join(dir, 'oci.tar'), tar);
  const [plan] = await readImages(new TarSource(join(dir, 'oci.tar'), 'oci.tar'), hostPlatform());
  t.equal(plan.id, built.configDigest);
  t.equal(
    new TarSource(join(dir, 'oci.tar'), 'oci.tar').size(`./blobs/sha256/${built.layerDigests[0].slice(7)}`),
    built.blobs.get(built.layerDigests[0])!.length,
  );
  // A symlink member pointing inside the archive resolves; one pointing out does not.
  writeFileSync(
    join(dir, 'links.tar'),
    writeTar([
      { path: 'real', body: 'data' },
      { path: 'd/in', type: 'symlink', linkname: '../real' },
      { path: 'out', type: 'symlink', linkname: '../../etc/passwd' },
      { path: 'abs', type: 'symlink', linkname: '/etc/passwd' },
    ]),
  );
  const src = new TarSource(join(dir, 'links.tar'), 'links.tar');
  t.ok(src.has('d/in'));
  t.notOk(src.has('out'));
  t.notOk(src.has('abs'));
  t.notOk(src.has('../real'));
});

t.test('indexes that name each other many times are each expanded once; their depth and size are bounded', async (t) => {
  const dir = tmp(t);
  const mine = buildImage({ layers: [layer], config: { Cmd: ['sh'] } });
  const blobs = new Map(mine.blobs);
  const index = (manifests: object[]) => {
    const data = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
    blobs.set(sha256(data), data);
    return { mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(data), size: data.length };
  };
  const layout = (name: string, top: object) =>
    writeOciLayoutDir(join(dir, name), {
      ...mine,
      blobs,
      indexJson: { schemaVersion: 2, manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': 'x:1' } }] },
    });
  // Four levels, each an index naming the level below 40 times: 40^4 = 2,560,000 paths to the
  // one manifest, which an expansion per reference would walk (and read) one by one.
  let level: object = (mine.indexJson.manifests as object[])[0];
  for (let i = 0; i < 4; i++) level = index(Array(40).fill(level));
  const plans = await readImages(new DirSource(layout('wide', level), binding), hostPlatform());
  t.equal(plans.length, 1);
  t.equal(plans[0].id, mine.configDigest, 'the one image, found once');

  const deeper = index([level]);
  await t.rejects(readImages(new DirSource(layout('deep', deeper), binding), hostPlatform()), {
    message: /indexes nested more than 4 deep at sha256:/,
  });

  const huge = index(Array.from({ length: 10_001 }, () => (mine.indexJson.manifests as object[])[0]));
  await t.rejects(readImages(new DirSource(layout('huge', huge), binding), hostPlatform()), {
    message: /its indexes name more than 10000 descriptors$/,
  });
});

t.test(
  'an image directory is read without leaving it: a link out is refused, its target never read; a link inside is followed',
  async (t) => {
    const dir = tmp(t);
    const secret = join(dir, 'secret');
    writeFileSync(secret, '{"root-only": "contents"}');
    const mine = buildImage({ layers: [layer] });
    const out = writeOciLayoutDir(join(dir, 'out'), mine);
    rmSync(join(out, 'index.json'));
    symlinkSync(secret, join(out, 'index.json'));
    const err = await readImages(new DirSource(out, binding), hostPlatform()).then(
      () => undefined,
      (e: Error) => e,
    );
    t.equal(err?.message, `${out}: index.json leads out of the directory (a symlink or '..'): refused`);
    t.notMatch(err?.message, /root-only/, 'nothing of the target is in the message');

    const up = writeOciLayoutDir(join(dir, 'up'), mine);
    rmSync(join(up, 'index.json'));
    symlinkSync('../secret', join(up, 'index.json'));
    await t.rejects(
      readImages(new DirSource(up, binding), hostPlatform()),
      { message: /index\.json leads out of the directory/ },
      "and by '..'",
    );

    const inside = writeOciLayoutDir(join(dir, 'inside'), mine);
    renameSync(join(inside, 'index.json'), join(inside, 'real-index.json'));
    symlinkSync('real-index.json', join(inside, 'index.json'));
    const [plan] = await readImages(new DirSource(inside, binding), hostPlatform());
    t.equal(plan.id, mine.configDigest, 'a link to another file of the directory is followed');

    const fifo = writeOciLayoutDir(join(dir, 'fifo'), mine);
    rmSync(join(fifo, 'index.json'));
    execFileSync('mkfifo', [join(fifo, 'index.json')]);
    await t.rejects(
      readImages(new DirSource(fifo, binding), hostPlatform()),
      { message: /neither an OCI image layout/ },
      'a FIFO is not waited on: it is not a file',
    );
  },
);
