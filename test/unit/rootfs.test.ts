// The shape of a container's file-system steps, and the manifest fields of issue 5.
import t from 'tap';
import { FakeBinding } from '../helpers/fake-binding.js';
import { hostfsSteps, rootfsSteps } from '../../src/fs/rootfs.js';
import { podFromManifest } from '../../src/pod/manifest.js';
import { containerArgv, containerEnv } from '../../src/pod/env.js';

const c = new FakeBinding().constants;

t.test('a root file system: private first, the root mounted, everything in it, pivot last', async (t) => {
  const steps = rootfsSteps(c, {
    root: '/run/p/rootfs',
    source: { links: '/run/p/layers', count: 2, upper: '/u', work: '/w' },
    readOnly: true,
    shm: '/run/p/shm',
    etc: '/run/p/etc',
    binds: [{ source: '/vol', target: '/data/x', directory: true, readOnly: true }],
  });
  t.match(steps[0], { op: 'mount', target: '/', flags: c.MS_REC | c.MS_PRIVATE }, 'nothing can propagate to the host');
  t.same(steps[1], { op: 'chdir', target: '/run/p/layers' }, 'the layers are named from their links directory');
  t.match(
    steps[2],
    { op: 'mount', fstype: 'overlay', target: '/run/p/rootfs', data: 'lowerdir=1:0,upperdir=/u,workdir=/w' },
    'the top layer first in lowerdir',
  );
  t.match(steps[3], { op: 'openRoot', target: '/run/p/rootfs' });
  t.same(steps.at(-1), { op: 'pivot', target: '/run/p/rootfs' });
  t.match(
    steps.at(-2),
    { op: 'mount', target: '/run/p/rootfs', flags: c.MS_REMOUNT | c.MS_BIND | c.MS_RDONLY | c.MS_NODEV },
    'read-only after every mount point is made, still nodev',
  );
  const inside = steps.slice(4, -2);
  t.ok(
    inside.every((s) => 'inRoot' in s && s.inRoot),
    'every step between is resolved inside the root',
  );
  const targets = inside.filter((s) => s.op === 'mount').map((s) => s.target);
  t.same(targets, [
    '/proc',
    '/sys',
    '/dev',
    '/dev/pts',
    '/dev/shm',
    '/etc/hostname',
    '/etc/hosts',
    '/etc/resolv.conf',
    '/data/x',
    '/data/x',
  ]);
  t.same(
    inside.filter((s) => s.op === 'mknod').map((s) => s.target),
    ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty'],
  );
  t.same(
    inside.filter((s) => s.op === 'mkdir' && s.target.startsWith('/data')).map((s) => s.target),
    ['/data', '/data/x'],
    'mount points made level by level',
  );

  const dir = rootfsSteps(c, { root: '/r', source: { dir: '/tree' }, readOnly: false, shm: '/s', etc: '/e', binds: [] });
  t.match(
    dir[1],
    { op: 'mount', source: '/tree', target: '/r', flags: c.MS_BIND | c.MS_REC },
    "a directory is bound onto the root's place",
  );
  t.notOk(
    dir.some((s) => s.op === 'mount' && s.flags === (c.MS_REMOUNT | c.MS_BIND | c.MS_RDONLY) && s.target === '/r'),
    'writable root',
  );
});

t.test("on the host's file system: its /proc and its volumes only", async (t) => {
  const steps = hostfsSteps(c, [{ source: '/v', target: '/mnt', directory: true, readOnly: false }]);
  t.same(
    steps.map((s) => s.target),
    ['/', '/proc', '/mnt'],
  );
  t.notOk(
    steps.some((s) => 'inRoot' in s),
    'no root of its own',
  );
});

t.test('manifest: image, rootfs, volumes, volumeMounts, securityContext', async (t) => {
  const pod = podFromManifest({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p' },
    spec: {
      volumes: [
        { name: 'a', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
        { name: 'b', hostPath: { path: '/srv', type: 'Directory' } },
      ],
      containers: [
        {
          name: 'c',
          image: 'nginx:1.25',
          volumeMounts: [{ name: 'a', mountPath: '/cache', subPath: 'x', readOnly: true }],
          securityContext: { runAsUser: 101, readOnlyRootFilesystem: true },
        },
      ],
    },
  });
  t.same(pod.volumes[0], { name: 'a', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } });
  t.same(pod.containers[0].command, [], "no command: the image's");
  t.same(pod.containers[0].securityContext, { runAsUser: 101, readOnlyRootFilesystem: true });
  const bad = (mutate: (s: any) => void, field: string, problem: RegExp) => {
    const spec: any = {
      volumes: [{ name: 'a', emptyDir: {} }],
      containers: [{ name: 'c', rootfs: '/r', command: ['x'], volumeMounts: [{ name: 'a', mountPath: '/m' }] }],
    };
    mutate(spec);
    t.throws(
      () => podFromManifest({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec }),
      { name: 'InputError', field, problem },
      field,
    );
  };
  bad((s) => (s.containers[0].volumeMounts[0].name = 'nope'), 'spec.containers[0].volumeMounts[0].name', /no volume named "nope"/);
  bad((s) => (s.containers[0].volumeMounts[0].subPath = '../up'), 'spec.containers[0].volumeMounts[0].subPath', /without "\.\."/);
  bad((s) => (s.containers[0].image = 'x:1'), 'spec.containers[0].rootfs', /cannot both be given/);
  bad((s) => (s.volumes[0] = { name: 'a', emptyDir: { sizeLimit: 'lots' } }), 'spec.volumes[0].emptyDir.sizeLimit', /is not a size/);
  bad((s) => (s.volumes[0] = { name: 'a', nfs: {} }), 'spec.volumes[0].nfs', /not supported/);
  bad((s) => (s.volumes[0] = { name: 'a', hostPath: { path: '/x', type: 'Weird' } }), 'spec.volumes[0].hostPath.type', /must be one of/);
  bad((s) => (s.containers[0].securityContext = { runAsUser: -1 }), 'spec.containers[0].securityContext.runAsUser', /numeric id/);
  bad((s) => s.volumes.push({ name: 'a', emptyDir: {} }), 'spec.volumes[1].name', /duplicate volume name/);
});

t.test("an image's config by Kubernetes' rules", async (t) => {
  const config = { Entrypoint: ['/ep'], Cmd: ['def'] };
  const c = (command: string[], args: string[]) => ({ name: 'c', command, args, env: [] });
  const env = containerEnv({ hostname: 'h' }, c([], []), ['PATH=/img/bin', 'A=1', 'HOSTNAME=image']);
  t.equal(env.get('PATH'), '/img/bin', "the image's Env");
  t.equal(env.get('HOSTNAME'), 'h', "but the pod's hostname");
  t.same(containerArgv(c([], []), env, config), ['/ep', 'def'], 'neither: Entrypoint and Cmd');
  t.same(containerArgv(c([], ['x']), env, config), ['/ep', 'x'], 'args: Entrypoint and args');
  t.same(containerArgv(c(['/bin/x'], []), env, config), ['/bin/x'], 'command: no Cmd');
  t.same(containerArgv(c(['/bin/x'], ['y']), env, config), ['/bin/x', 'y'], 'both');
});
