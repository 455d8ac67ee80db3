// containerUser reads an image's /etc/passwd and /etc/group from its layer directories as
// overlayfs shows them. The opaque xattr comes from a fake lgetxattr (setting trusted.* needs
// root); everything else is real files.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { containerUser } from '../../src/fs/users.js';
import { loadBinding } from '../../src/native/binding.js';
import { tempDir } from '../helpers/cleanup.js';

// O_PATH, from the addon.
const { constants } = loadBinding();

t.test("an image's user names, from the layers as overlayfs shows them", async (t) => {
  const dir = tempDir(t, 'users');
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
  const binding = {
    constants,
    lgetxattr: (path: string, name: string) => (name === 'trusted.overlay.opaque' && opaque.has(path) ? Buffer.from('y') : null),
  };
  const base = layer('base', { 'etc/passwd': 'app:x:1000:1000::/:/bin/sh\n', 'etc/group': 'staff:x:50:\n' });
  const user = (layers: string[], name: string) => containerUser(binding, layers, name, {}, 'spec.containers[0].image');

  t.same(user([base], 'app:staff'), { uid: 1000, gid: 50, groups: [] });
  t.same(
    user([base, layer('top', { 'etc/passwd': 'app:x:2000:2000::/:/bin/sh\n' })], 'app'),
    { uid: 2000, gid: 2000, groups: [] },
    'the top layer that has the file wins',
  );
  t.same(user([base, layer('other', { 'usr/x': '' })], 'app'), { uid: 1000, gid: 1000, groups: [] }, 'a layer without it: the one below');

  const hidden = layer('hidden', { 'etc/hosts': '' });
  opaque.add(join(hidden, 'etc'));
  t.throws(
    () => user([base, hidden], 'app'),
    { name: 'InputError', field: 'spec.containers[0].image', problem: /"app" is not in the image's \/etc\/passwd/ },
    'an opaque /etc hides the passwd below',
  );

  const file = layer('file', { etc: 'not a directory' });
  t.throws(
    () => user([base, file], 'app'),
    { name: 'InputError', problem: /not in the image's \/etc\/passwd/ },
    'a file where /etc was hides it',
  );

  const link = layer('link');
  symlinkSync(join(base, 'etc'), join(link, 'etc'));
  t.throws(
    () => user([link], 'app'),
    { name: 'InputError', problem: /not in the image's \/etc\/passwd/ },
    'a symlinked /etc is not followed',
  );
});

t.test('groups: from passwd for a number too, /etc/group memberships, runAsUser over the image', async (t) => {
  const dir = tempDir(t, 'users');
  mkdirSync(join(dir, 'etc'));
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nwheel:x:10:bob,app\nstaff:x:50:\naudio:x:29:app\nwheel2:x:11:application\n');
  const binding = { constants, lgetxattr: () => null };
  const user = (imageUser: string | undefined, sc = {}) => containerUser(binding, [dir], imageUser, sc, 'spec.containers[0].image');

  t.same(user('app'), { uid: 1000, gid: 1000, groups: [10, 29] }, 'a name: its primary group and the groups listing it');
  t.same(user('1000'), { uid: 1000, gid: 1000, groups: [10, 29] }, 'a number found in /etc/passwd: the same');
  t.same(user('4242'), { uid: 4242, gid: 0, groups: [] }, 'a number not there: gid 0');
  t.same(user('app:staff'), { uid: 1000, gid: 50, groups: [] }, 'a group named in the User: that group alone');
  t.same(user('1000:7'), { uid: 1000, gid: 7, groups: [] });
  t.same(user('ghost', { runAsUser: 1000 }), { uid: 1000, gid: 1000, groups: [10, 29] }, "runAsUser: the image's User is not looked up");
  t.same(user('app:staff', { runAsUser: 4242 }), { uid: 4242, gid: 0, groups: [] }, 'nor its group');
  t.same(
    user(undefined, { runAsUser: 1000, runAsGroup: 7 }),
    { uid: 1000, gid: 7, groups: [10, 29] },
    'runAsGroup: the primary group; the supplementary ones stay',
  );
  t.same(user('app', { runAsGroup: 7 }), { uid: 1000, gid: 7, groups: [10, 29] });
  t.same(user(undefined, { runAsGroup: 7 }), { uid: 0, gid: 7, groups: [] });
  t.equal(user(undefined), undefined, 'nothing asked: root, as the process already is');
  t.throws(() => user('ghost'), {
    name: 'InputError',
    field: 'spec.containers[0].image',
    problem: 'its user "ghost" is not in the image\'s /etc/passwd',
  });
  t.throws(() => user('app:nogroup'), { name: 'InputError', problem: 'its group "nogroup" is not in the image\'s /etc/group' });
  t.same(
    containerUser(binding, [], undefined, { runAsUser: 1000 }, 'x'),
    { uid: 1000, gid: 0, groups: [] },
    "no files (the host's file system): gid 0",
  );
});

t.test('files as people write them, and as a container could leave them', async (t) => {
  const dir = tempDir(t, 'users');
  const root = (name: string, files: Record<string, string>) => {
    const r = join(dir, name);
    mkdirSync(join(r, 'etc'), { recursive: true });
    for (const [f, text] of Object.entries(files)) writeFileSync(join(r, 'etc', f), text);
    return r;
  };
  const binding = { constants, lgetxattr: () => null };
  const user = (layer: string, imageUser: string | undefined, sc = {}) =>
    containerUser(binding, [layer], imageUser, sc, 'spec.containers[0].image');

  const messy = root('messy', {
    passwd: '# users\r\n\r\napp:x:1000:1000::/:/bin/sh\r\nbad:x:abc:1::/:/bin/sh\nshort:x:1001\n',
    group: '# groups\n\naudio:x:29:bob,app\r\nodd:x:notanumber:app\n',
  });
  t.same(
    user(messy, 'app'),
    { uid: 1000, gid: 1000, groups: [29] },
    "comments, blank lines and CRLF are read as Linux reads them; a malformed group is nobody's",
  );
  t.same(user(messy, 'app:'), { uid: 1000, gid: 1000, groups: [29] }, 'an empty group part is no group');
  t.same(user(messy, ':50'), { uid: 0, gid: 50, groups: [] }, 'an empty user part is no user');
  t.throws(() => user(messy, 'bad'), { name: 'InputError', problem: /^\/etc\/passwd's uid of "bad" is not a numeric id/ });
  t.throws(() => user(messy, 'short'), { name: 'InputError', problem: /^\/etc\/passwd's gid of "short" is not a numeric id/ });
  t.throws(() => user(messy, '4294967295'), { name: 'InputError', problem: /^its User's uid is not a numeric id from 0 to 4294967294/ });

  // What a container sharing its root file system could put there.
  const fifo = root('fifo', {});
  execFileSync('mkfifo', [join(fifo, 'etc/passwd')]);
  t.same(
    user(fifo, undefined, { runAsUser: 1000 }),
    { uid: 1000, gid: 0, groups: [] },
    'a FIFO is not opened (it would block the monitor)',
  );
  const linked = root('linked', {});
  symlinkSync(join(messy, 'etc/passwd'), join(linked, 'etc/passwd'));
  t.throws(
    () => user(linked, 'app'),
    { name: 'InputError', problem: /"app" is not in the image's \/etc\/passwd/ },
    'a symlinked passwd is not followed',
  );
  const big = root('big', { passwd: 'x'.repeat((1 << 20) + 1) });
  t.throws(() => user(big, 'app'), { message: /etc\/passwd: larger than 1048576 bytes, not read$/ });
});
