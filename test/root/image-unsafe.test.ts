// Layers that try to write outside their directory, as root: '..', absolute paths, members
// under a symlink the layer made, hardlinks out of the layer. Each is refused, names the
// member, writes nothing outside, and leaves nothing in the store.
import t, { type Test } from 'tap';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBinding } from '../../src/native/binding.js';
import { ImageStore } from '../../src/image/store.js';
import { isRoot } from '../helpers/root.js';
import { tempDir } from '../helpers/cleanup.js';
import { buildImage, writeOciLayoutDir, writeTar, type Member } from '../helpers/image-builder.js';

if (!isRoot) t.plan(0, 'needs root: layers are unpacked with owners, device nodes and trusted.* xattrs');

const b = loadBinding();

interface Setup {
  dir: string;
  store: ImageStore;
  /** A directory outside the store that no layer may touch. */
  outside: string;
}

function setup(t: Test): Setup {
  const dir = tempDir(t, 'unsafe');
  const outside = join(dir, 'outside');
  mkdirSync(outside, { mode: 0o755 });
  chmodSync(outside, 0o755);
  writeFileSync(join(outside, 'victim'), 'untouched\n', { mode: 0o644 });
  return { dir, store: new ImageStore(join(dir, 'store'), b), outside };
}

/** Every path under `root`, relative (lstat: symlinks not followed). */
function tree(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel))) {
      const p = rel ? `${rel}/${name}` : name;
      out.push(p);
      if (lstatSync(join(root, p)).isDirectory()) walk(p);
    }
  };
  walk('');
  return out.sort();
}

async function importLayer(s: Setup, name: string, members: Member[]) {
  const built = buildImage({ layers: [writeTar(members)], refName: name });
  return s.store.import(writeOciLayoutDir(join(s.dir, `layout-${name}`), built));
}

/** The outside directory is as set up; the store holds nothing. */
function untouched(t: Test, s: Setup) {
  t.same(tree(s.outside), ['victim'], 'nothing written outside');
  t.equal(readFileSync(join(s.outside, 'victim'), 'utf8'), 'untouched\n');
  t.equal(statSync(join(s.outside, 'victim')).mode & 0o7777, 0o644);
  t.equal(statSync(s.outside).mode & 0o7777, 0o755);
  t.same(readdirSync(s.store.layersDir), [], 'no layer, no temporary directory');
  t.same(readdirSync(s.store.imagesDir), [], 'no image record');
}

t.test("'..' components are refused", async (t) => {
  const s = setup(t);
  // From layers/.tmp-X/fs, four levels up is the test's directory.
  await t.rejects(
    importLayer(s, 'dotdot', [
      { path: 'ok', body: 'x' },
      { path: '../../../../outside/evil', body: 'pwned' },
    ]),
    {
      message: /layer sha256:[0-9a-f]{64}: member "\.\.\/\.\.\/\.\.\/\.\.\/outside\/evil": path with a '\.\.' component/,
    },
  );
  untouched(t, s);
  await t.rejects(importLayer(s, 'inner', [{ path: 'a/b/../../../evil', body: 'pwned' }]), { message: /'\.\.' component/ });
  untouched(t, s);
  t.notOk(existsSync(join(s.dir, 'evil')));
});

t.test('absolute paths are refused', async (t) => {
  const s = setup(t);
  await t.rejects(importLayer(s, 'abs', [{ path: join(s.outside, 'evil'), body: 'pwned' }]), {
    message: /member ".*\/outside\/evil": absolute path/,
  });
  untouched(t, s);
});

t.test('a member under a symlink of the layer is refused (absolute and relative targets)', async (t) => {
  const s = setup(t);
  await t.rejects(
    importLayer(s, 'abslink', [
      { path: 'lnk', type: 'symlink', linkname: s.outside },
      { path: 'lnk/evil', body: 'pwned' },
    ]),
    {
      message: /member "lnk\/evil": its parent lnk is a symlink: refusing to write through it/,
    },
  );
  untouched(t, s);
  await t.rejects(
    importLayer(s, 'rellink', [
      { path: 'a/', type: 'dir' },
      { path: 'a/up', type: 'symlink', linkname: '../../../../outside' },
      { path: 'a/up/victim', body: 'pwned' },
    ]),
    { message: /parent a\/up is a symlink/ },
  );
  untouched(t, s);
  // A directory entry or a whiteout under the symlink, too.
  await t.rejects(
    importLayer(s, 'dirlink', [
      { path: 'lnk', type: 'symlink', linkname: s.outside },
      { path: 'lnk/sub/', type: 'dir' },
    ]),
    { message: /is a symlink/ },
  );
  await t.rejects(
    importLayer(s, 'whlink', [
      { path: 'lnk', type: 'symlink', linkname: s.outside },
      { path: 'lnk/.wh.victim', body: '' },
    ]),
    { message: /is a symlink/ },
  );
  await t.rejects(
    importLayer(s, 'opqlink', [
      { path: 'lnk', type: 'symlink', linkname: s.outside },
      { path: 'lnk/.wh..wh..opq', body: '' },
    ]),
    { message: /is a symlink/ },
  );
  untouched(t, s);
  t.equal(b.lgetxattr(s.outside, 'trusted.overlay.opaque'), null, 'no xattr set outside');
});

t.test('hardlinks only to files inside the layer', async (t) => {
  const s = setup(t);
  await t.rejects(importLayer(s, 'hlabs', [{ path: 'h', type: 'hardlink', linkname: join(s.outside, 'victim') }]), {
    message: /hardlink target ".*victim": absolute path/,
  });
  await t.rejects(importLayer(s, 'hldotdot', [{ path: 'h', type: 'hardlink', linkname: '../../../../outside/victim' }]), {
    message: /'\.\.' component/,
  });
  await t.rejects(
    importLayer(s, 'hlsym', [
      { path: 'lnk', type: 'symlink', linkname: s.outside },
      { path: 'h', type: 'hardlink', linkname: 'lnk/victim' },
    ]),
    {
      message: /member "h": its parent lnk is a symlink/,
    },
  );
  await t.rejects(importLayer(s, 'hlmissing', [{ path: 'h', type: 'hardlink', linkname: 'nope' }]), {
    message: /hardlink target "nope" is not in the layer/,
  });
  untouched(t, s);
  t.equal(statSync(join(s.outside, 'victim')).nlink, 1, 'no new link to the victim');
});

t.test('an entry replacing a symlink replaces it, never writes through it', async (t) => {
  const s = setup(t);
  const [img] = await importLayer(s, 'replace', [
    { path: 'f', type: 'symlink', linkname: join(s.outside, 'victim') },
    { path: 'f', body: 'mine', mode: 0o600 },
    { path: 'd', type: 'symlink', linkname: s.outside },
    { path: 'd/', type: 'dir', mode: 0o700 },
  ]);
  const fs = img.layers[0].dir;
  t.ok(lstatSync(join(fs, 'f')).isFile());
  t.equal(readFileSync(join(fs, 'f'), 'utf8'), 'mine');
  t.ok(lstatSync(join(fs, 'd')).isDirectory());
  t.equal(statSync(join(fs, 'd')).mode & 0o777, 0o700);
  t.same(tree(s.outside), ['victim']);
  t.equal(readFileSync(join(s.outside, 'victim'), 'utf8'), 'untouched\n');
  t.equal(statSync(s.outside).mode & 0o7777, 0o755, 'the symlinked directory kept its mode');
});

t.test('a directory replaced by a symlink after its entry: its attributes do not follow the link', async (t) => {
  const s = setup(t);
  const [img] = await importLayer(s, 'late', [
    { path: 'd/', type: 'dir', mode: 0o700, uid: 4242 },
    { path: 'd', type: 'symlink', linkname: s.outside },
  ]);
  t.ok(lstatSync(join(img.layers[0].dir, 'd')).isSymbolicLink());
  t.equal(statSync(s.outside).mode & 0o7777, 0o755);
  t.equal(statSync(s.outside).uid, 0);
});

t.test('unsupported members and xattrs', async (t) => {
  const s = setup(t);
  const [img] = await importLayer(s, 'xattrs', [
    {
      path: 'f',
      body: 'x',
      xattrs: {
        'user.note': 'kept',
        'trusted.overlay.redirect': '/etc',
        'security.capability': Buffer.from([0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
      },
    },
  ]);
  const f = join(img.layers[0].dir, 'f');
  t.equal(b.lgetxattr(f, 'user.note')?.toString(), 'kept');
  t.equal(b.lgetxattr(f, 'trusted.overlay.redirect'), null, 'trusted.* from a layer is never applied');
  t.ok(b.lgetxattr(f, 'security.capability'), 'file capabilities are applied');
});

t.test('a directory replaced by a file and that by a directory again: the last one is what the layer has', async (t) => {
  const s = setup(t);
  const members: Member[] = [];
  for (let i = 0; i < 500; i++) {
    members.push({ path: `d${i}/`, type: 'dir' }, { path: `d${i}/f`, body: 'x' }, { path: `d${i}/sub/`, type: 'dir' });
    members.push({ path: `d${i}`, body: 'now a file' }, { path: `d${i}/`, type: 'dir' });
  }
  const [image] = await importLayer(s, 'churn', members);
  const root = image.layers[0].dir;
  const names = readdirSync(root);
  t.equal(names.length, 500, 'one entry per name');
  t.ok(
    names.every((n) => lstatSync(join(root, n)).isDirectory() && readdirSync(join(root, n)).length === 0),
    'each an empty directory: what the replaced ones held went with them',
  );
});

t.test('bad owners, times, names and links are refused naming the archive, the layer and the member', async (t) => {
  const s = setup(t);
  const layout = (name: string) => join(s.dir, `layout-${name}`);
  const cases: [name: string, members: Member[], problem: RegExp][] = [
    ['bigid', [{ path: 'f', body: 'x', pax: { uid: String(2 ** 32) } }], /member "f": uid 4294967296 is not an id \(0 to 4294967294\)$/],
    // chown's "leave it as it is": the file would have stayed root's, silently.
    ['minus1', [{ path: 'f', body: 'x', pax: { gid: '4294967295' } }], /member "f": gid 4294967295 is not an id \(0 to 4294967294\)$/],
    [
      'mtime',
      [{ path: 'f', body: 'x', pax: { mtime: '100000000000000000000' } }],
      /member "f": mtime 100000000000000000000 is out of range$/,
    ],
    [
      'linkunder',
      [
        { path: 'd/', type: 'dir' },
        { path: 'd/child', body: 'x' },
        { path: 'd', type: 'hardlink', linkname: 'd/child' },
      ],
      /member "d": hardlink target "d\/child" is beneath the member itself$/,
    ],
    [
      'longname',
      [{ path: 'n'.repeat(300), body: 'x' }],
      /member "n{300}": a name of 300 bytes: longer than the kernel takes \(NAME_MAX 255\)$/,
    ],
    [
      'longpath',
      [{ path: Array(25).fill('d'.repeat(200)).join('/'), body: 'x' }],
      /member "(d{200}\/){24}d{200}": a path of 5024 bytes: with the layer's directory, longer than the kernel takes \(PATH_MAX 4096\)$/,
    ],
  ];
  for (const [name, members, problem] of cases) {
    const err = await importLayer(s, name, members).then(
      () => undefined,
      (e: Error) => e,
    );
    t.type(err, Error, `${name}: refused`);
    t.match(err?.name, 'TspodError', `${name}: tspod's own error, not a raw one`);
    t.match(
      err?.message,
      new RegExp(`^${layout(name).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: layer sha256:[0-9a-f]{64}: `),
      `${name}: names the archive and the layer`,
    );
    t.match(err?.message, problem, `${name}: names the member and why`);
    untouched(t, s);
  }
});
