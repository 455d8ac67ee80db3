// Whiteouts in a layer beside entries of the same name (src/image/unpack.ts), with a recording
// stand-in for mknod and lsetxattr, so no root is needed. OCI layer.md: whiteouts apply only to
// the lower layers, whatever their order in the layer; entries of their own layer stay. In
// overlayfs terms: a directory of the layer named by a whiteout is made opaque, a non-directory
// needs nothing (it hides the lower entry itself), an absent path gets the 0:0 device.
import t, { type Test } from 'tap';
import { lstatSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { unpackLayer, type UnpackBinding } from '../../src/image/unpack.js';
import { writeTar, type Member } from '../helpers/image-builder.js';
import { tempDir } from '../helpers/cleanup.js';

const S_IFCHR = 0o20000;

/** Unpacks `members` into a new directory; what was made there, and what the binding was asked. */
async function unpack(t: Test, members: Member[]) {
  const dest = tempDir(t, 'unpack-wh');
  const devices: string[] = [];
  const opaque: string[] = [];
  const binding = {
    // A whiteout device stands here as an empty file: the unpacker only lstats what it made.
    mknod: (path: string, mode: number, major: number, minor: number) => {
      if ((mode & 0o170000) !== S_IFCHR || major !== 0 || minor !== 0) throw new Error(`unexpected mknod of ${path}`);
      writeFileSync(path, '', { flag: 'wx' });
      devices.push(path.slice(dest.length + 1));
    },
    lsetxattr: (path: string, name: string, value: Buffer) => {
      if (name === 'trusted.overlay.opaque' && value.toString() === 'y') opaque.push(path.slice(dest.length + 1));
    },
    constants: { S_IFCHR, S_IFBLK: 0o60000, S_IFIFO: 0o10000 },
  } as unknown as UnpackBinding;
  // Owned by whoever runs the test, so that chown needs no root.
  const own = members.map((m) => ({ uid: process.getuid!(), gid: process.getgid!(), ...m }));
  const stats = await unpackLayer(Readable.from([writeTar(own)]), dest, binding);
  return { dest, devices, opaque, stats };
}

t.test('a new directory then a whiteout of its name: the directory is made opaque, its content stays', async (t) => {
  const { dest, devices, opaque, stats } = await unpack(t, [
    { path: 'data/', type: 'dir' },
    { path: 'data/fresh', body: 'fresh' },
    { path: '.wh.data', body: '' },
  ]);
  t.same(opaque, ['data'], 'data is opaque: the lower /data is hidden');
  t.same(devices, [], 'no device in place of the directory');
  t.same(readdirSync(join(dest, 'data')), ['fresh'], "the layer's own content stays");
  t.match(stats, { whiteouts: 0, opaqueDirs: 1 });
});

t.test('the whiteout first, then the directory: the same directory, opaque', async (t) => {
  const { dest, opaque, stats } = await unpack(t, [
    { path: '.wh.data', body: '' },
    { path: 'data/', type: 'dir' },
    { path: 'data/fresh', body: 'fresh' },
  ]);
  t.same(opaque, ['data']);
  t.ok(lstatSync(join(dest, 'data')).isDirectory(), 'the device made for the whiteout is replaced by the directory');
  t.same(readdirSync(join(dest, 'data')), ['fresh']);
  t.match(stats, { whiteouts: 1, opaqueDirs: 1 });
});

t.test('a directory the layer made only as a parent, then a whiteout of it: opaque too', async (t) => {
  const { dest, opaque } = await unpack(t, [
    { path: 'a/b/file', body: 'x' },
    { path: 'a/.wh.b', body: '' },
  ]);
  t.same(opaque, ['a/b']);
  t.same(readdirSync(join(dest, 'a/b')), ['file']);
});

t.test('a whiteout of a file, a symlink or a whiteout of the same layer: nothing more (the upper entry hides the lower one)', async (t) => {
  const { dest, devices, opaque, stats } = await unpack(t, [
    { path: 'd/', type: 'dir' },
    { path: 'f', body: 'kept' },
    { path: 'l', type: 'symlink', linkname: 'd' },
    { path: '.wh.f', body: '' },
    { path: '.wh.l', body: '' },
    { path: '.wh.gone', body: '' },
    { path: '.wh.gone', body: '' },
  ]);
  t.same(opaque, [], 'no opaque directory: not d through the symlink l');
  t.same(devices, ['gone'], 'one device, for the path the layer does not have');
  t.ok(lstatSync(join(dest, 'f')).isFile() && lstatSync(join(dest, 'l')).isSymbolicLink(), 'the file and the link stay');
  t.match(stats, { whiteouts: 1, opaqueDirs: 0 });
});

t.test('a directory made opaque three ways is counted once', async (t) => {
  const { opaque, stats } = await unpack(t, [
    { path: '.wh.d', body: '' },
    { path: 'd/', type: 'dir' },
    { path: 'd/.wh..wh..opq', body: '' },
    { path: '.wh.d', body: '' },
  ]);
  t.same(opaque, ['d'], 'the xattr set once');
  t.match(stats, { opaqueDirs: 1 });
});

t.test('an opaque directory replaced by a file of the same layer is forgotten: a new directory there is opaque again', async (t) => {
  const { opaque } = await unpack(t, [
    { path: 'd/', type: 'dir' },
    { path: '.wh.d', body: '' },
    { path: 'd', body: 'a file now' },
    { path: 'd/', type: 'dir' },
    { path: '.wh.d', body: '' },
  ]);
  t.same(opaque, ['d', 'd'], 'the new directory has the xattr too');
});
