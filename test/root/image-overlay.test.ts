// End to end: the image's layers, as the store unpacked them, mounted with overlayfs as the
// runtime will (lowerdir = top:...:bottom): the whited-out file is gone and the opaque
// directory shows only the top layer's content. Mounted in a temporary directory, unmounted
// in the teardown whatever happens.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBinding } from '../../src/native/binding.js';
import { ImageStore, resolveImage } from '../../src/image/store.js';
import { isRoot } from '../helpers/root.js';
import { cleanup, tempDir } from '../helpers/cleanup.js';
import { buildImage, dockerSaveTar, ociLayoutTar, testLayers } from '../helpers/image-builder.js';

if (!isRoot) t.plan(0, 'needs root: unpacks layers and mounts overlayfs');

function mounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === path);
}

for (const format of ['oci-tar', 'docker-save'] as const) {
  t.test(`the merged view of an image from ${format}`, async (t) => {
    const dir = tempDir(t, 'overlay');
    const store = new ImageStore(join(dir, 'store'), loadBinding());
    const { base, top, longPath } = testLayers();
    const image = { layers: [base, top], refName: 'merged:1', repoTags: ['merged:1'], config: { Cmd: ['/bin/hello'] } };
    const file = join(dir, 'image.tar');
    writeFileSync(file, format === 'oci-tar' ? ociLayoutTar(buildImage(image)) : dockerSaveTar(image));
    await store.import(file);
    const { layers } = resolveImage(store, 'merged:1');

    const merged = join(dir, 'merged');
    mkdirSync(merged);
    // Registered before the mount, so a failing assertion can never leave it mounted; tap runs
    // teardowns last-registered first, so this unmounts before tempDir's removal runs.
    cleanup(t, 'unmount the overlay', () => {
      if (mounted(merged)) execFileSync('umount', [merged]);
    });
    // Lower layers only (read-only): overlayfs lists them top first.
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${[...layers].reverse().join(':')}`, merged]);
    t.ok(mounted(merged));

    t.notOk(existsSync(join(merged, 'etc/gone')), 'the whited-out file is gone');
    t.same(readdirSync(join(merged, 'etc')).sort(), ['added', 'keep'], 'no whiteout shows');
    t.same(readdirSync(join(merged, 'data')), ['new'], 'the opaque directory shows only the top layer');
    t.equal(statSync(join(merged, 'data')).mode & 0o777, 0o750);
    t.equal(readFileSync(join(merged, 'bin/hello'), 'utf8'), '#!/bin/sh\necho hello\n');
    t.equal(readFileSync(join(merged, 'link'), 'utf8'), 'kept\n', 'symlink resolves inside the merged tree');
    t.equal(readlinkSync(join(merged, 'link')), 'etc/keep');
    t.equal(statSync(join(merged, 'usr/bin/su')).mode & 0o7777, 0o4755);
    t.ok(statSync(join(merged, 'dev/null')).isCharacterDevice());
    t.equal(readFileSync(join(merged, longPath), 'utf8'), 'long\n');
    t.same(readdirSync(merged).sort(), ['bin', 'data', 'deep', 'dev', 'etc', 'hard', 'link', 'owned', 'usr']);

    execFileSync('umount', [merged]);
    t.notOk(mounted(merged), 'unmounted');
  });
}
