// lookupUser reads an image's /etc/passwd and /etc/group from its layer directories as
// overlayfs shows them. The opaque xattr comes from a fake lgetxattr (setting trusted.* needs
// root); everything else is real files.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lookupUser } from '../../src/fs/users.js';

t.test("an image's user names, from the layers as overlayfs shows them", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tspod-users-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const layer = (name: string, files: Record<string, string> = {}) => {
    const root = join(dir, name);
    mkdirSync(root);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return root;
  };
  const opaque = new Set<string>();
  const binding = { lgetxattr: (path: string, name: string) => (name === 'trusted.overlay.opaque' && opaque.has(path) ? Buffer.from('y') : null) };
  const base = layer('base', { 'etc/passwd': 'app:x:1000:1000::/:/bin/sh\n', 'etc/group': 'staff:x:50:\n' });
  const user = (layers: string[], name: string) => lookupUser(binding, name, layers, 'spec.containers[0].image');

  t.same(user([base], 'app:staff'), { uid: 1000, gid: 50 });
  t.same(user([base, layer('top', { 'etc/passwd': 'app:x:2000:2000::/:/bin/sh\n' })], 'app'), { uid: 2000, gid: 2000 }, 'the top layer that has the file wins');
  t.same(user([base, layer('other', { 'usr/x': '' })], 'app'), { uid: 1000, gid: 1000 }, 'a layer without it: the one below');

  const hidden = layer('hidden', { 'etc/hosts': '' });
  opaque.add(join(hidden, 'etc'));
  t.throws(() => user([base, hidden], 'app'), { name: 'InputError', field: 'spec.containers[0].image', problem: /"app" is not in the image's \/etc\/passwd/ }, 'an opaque /etc hides the passwd below');

  const file = layer('file', { etc: 'not a directory' });
  t.throws(() => user([base, file], 'app'), { name: 'InputError', problem: /not in the image's \/etc\/passwd/ }, 'a file where /etc was hides it');

  const link = layer('link');
  symlinkSync(join(base, 'etc'), join(link, 'etc'));
  t.throws(() => user([link], 'app'), { name: 'InputError', problem: /not in the image's \/etc\/passwd/ }, 'a symlinked /etc is not followed');
});
