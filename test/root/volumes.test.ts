// Volumes: an emptyDir shared by a pod's containers and gone with the pod, in memory with a
// size limit, read-only mounts, subPath, hostPath and its type checks; and what a pod's end
// leaves of them, however it ends.
import t from 'tap';
import { existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { cleanup, mountFor, owned, tempDir } from '../helpers/cleanup.js';
import { mountsUnder, waitFor } from '../helpers/proc.js';
import { testState, type TestState } from '../helpers/state.js';
import { NO_BUSYBOX, busyboxRoot, haveBusybox } from '../helpers/busybox.js';

const skip = !isRoot ? NOT_ROOT : !haveBusybox ? NO_BUSYBOX : undefined;
if (skip) t.plan(0, skip);

const mounts = () => readFileSync('/proc/self/mountinfo', 'utf8');
const logs = async (s: TestState, pod: string, c: string) => (await s.cli(['logs', pod, c])).stdout;

function manifest(dir: string, pod: unknown): string {
  const file = join(dir, 'pod.json');
  writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'Pod', ...(pod as object) }));
  return file;
}

t.test('an emptyDir: written by one container, read by the other, gone with the pod; readOnly; subPath', async (t) => {
  const s = testState(t);
  const root = busyboxRoot(tempDir(t, 'rootfs'));
  const r = await s.cli([
    'run',
    '-d',
    '-f',
    manifest(tempDir(t, 'm'), {
      metadata: { name: 'share' },
      spec: {
        restartPolicy: 'Never',
        volumes: [{ name: 'scratch', emptyDir: {} }],
        containers: [
          {
            name: 'writer',
            rootfs: root,
            command: ['/bin/sh', '-c', 'mkdir -p /out/sub && echo hello > /out/sub/msg && echo done; exec sleep 1000'],
            volumeMounts: [{ name: 'scratch', mountPath: '/out' }],
          },
          {
            name: 'reader',
            rootfs: root,
            command: ['/bin/sh', '-c', 'until [ -e /in/msg ]; do :; done; cat /in/msg; echo x > /in/try 2>&1 || echo RO; exec sleep 1000'],
            volumeMounts: [{ name: 'scratch', mountPath: '/in', subPath: 'sub', readOnly: true }],
          },
        ],
      },
    }),
  ]);
  t.equal(r.code, 0, r.stderr);
  const out = await waitFor('the reader', async () => {
    const l = await logs(s, 'share', 'reader');
    return l.includes('RO') ? l : undefined;
  });
  t.match(out, /^hello$/m, 'the reader sees what the writer wrote (through subPath "sub")');
  t.match((await s.cli(['logs', 'share', 'reader'])).stderr, /Read-only file system/, 'a readOnly mount refuses writes');
  const dir = join(s.store.paths.pod('share'), 'volumes/scratch');
  t.equal(readFileSync(join(dir, 'sub/msg'), 'utf8'), 'hello\n', 'the emptyDir is a directory of the pod');
  t.equal((await s.cli(['rm', '-f', 'share'])).code, 0);
  t.notOk(existsSync(dir), 'and it is gone with the pod');
});

t.test('a subPath that a container turned into a symlink out of the volume is refused at the next start', async (t) => {
  const s = testState(t);
  const root = busyboxRoot(tempDir(t, 'rootfs'));
  const r = await s.cli([
    'run',
    '-d',
    '-f',
    manifest(tempDir(t, 'm'), {
      metadata: { name: 'sub' },
      spec: {
        terminationGracePeriodSeconds: 1,
        volumes: [{ name: 'v', emptyDir: {} }],
        containers: [
          {
            name: 'inside',
            rootfs: root,
            command: ['/bin/sh', '-c', 'exec sleep 1000'],
            volumeMounts: [{ name: 'v', mountPath: '/in', subPath: 'sub' }],
          },
          // The CVE-2017-1002101 move: the directory the subPath names becomes a symlink to /.
          {
            name: 'planter',
            rootfs: root,
            command: ['/bin/sh', '-c', 'rm -rf /v/sub && ln -s / /v/sub && echo PLANTED; exec sleep 1000'],
            volumeMounts: [{ name: 'v', mountPath: '/v' }],
          },
        ],
      },
    }),
  ]);
  t.equal(r.code, 0, r.stderr);
  await waitFor('the symlink', async () => (await logs(s, 'sub', 'planter')).includes('PLANTED'));
  const restart = await s.cli(['restart', 'sub', 'inside']);
  t.not(restart.code, 0, 'the restart fails');
  t.match(restart.stderr, /container inside: EXDEV: .*mount/, 'at the mount, where the kernel found the way out');
});

t.test('an emptyDir in memory: a tmpfs of its size, unmounted with the pod', async (t) => {
  const s = testState(t);
  const root = busyboxRoot(tempDir(t, 'rootfs'));
  t.equal(
    (
      await s.cli([
        'run',
        '-d',
        '-f',
        manifest(tempDir(t, 'm'), {
          metadata: { name: 'mem' },
          spec: {
            restartPolicy: 'Never',
            volumes: [{ name: 'ram', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }],
            containers: [
              {
                name: 'c',
                rootfs: root,
                command: [
                  '/bin/sh',
                  '-c',
                  'df -k /ram | tail -1; dd if=/dev/zero of=/ram/big bs=1k count=2048 2>&1 | head -1; exec sleep 1000',
                ],
                volumeMounts: [{ name: 'ram', mountPath: '/ram' }],
              },
            ],
          },
        }),
      ])
    ).code,
    0,
  );
  const dir = join(s.store.paths.pod('mem'), 'volumes/ram');
  const out = await waitFor('dd', async () => {
    const l = await logs(s, 'mem', 'c');
    return /No space left|bytes/.test(l) ? l : undefined;
  });
  t.match(out, /^tmpfs\s+1024\s/m, 'a 1 MiB tmpfs');
  t.match(out, /No space left on device/, 'writing more than its size fails');
  t.match(mounts(), ` ${dir} `, 'mounted while the pod runs');
  t.equal((await s.cli(['rm', '-f', 'mem'])).code, 0);
  t.notMatch(mounts(), ` ${dir} `, 'unmounted with the pod');
});

t.test('hostPath: bound in; its type checks fail cleanly before anything starts', async (t) => {
  const s = testState(t);
  const root = busyboxRoot(tempDir(t, 'rootfs'));
  const host = tempDir(t, 'host');
  writeFileSync(join(host, 'file'), 'from the host\n');
  const pod = (volumes: unknown[], mountPath = '/h') =>
    manifest(tempDir(t, 'm'), {
      metadata: { name: 'hp' },
      spec: {
        restartPolicy: 'Never',
        volumes,
        containers: [
          {
            name: 'c',
            rootfs: root,
            command: ['/bin/sh', '-c', 'cat /h/file 2>/dev/null || cat /h; ls /made'],
            volumeMounts: [{ name: 'v', mountPath }, ...(volumes.length > 1 ? [{ name: 'w', mountPath: '/made' }] : [])],
          },
        ],
      },
    });
  const ok = await s.cli([
    'run',
    '-f',
    pod([
      { name: 'v', hostPath: { path: host, type: 'Directory' } },
      { name: 'w', hostPath: { path: join(host, 'new-dir'), type: 'DirectoryOrCreate' } },
    ]),
  ]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, 'from the host', 'the host directory is in the container');
  t.ok(existsSync(join(host, 'new-dir')), 'DirectoryOrCreate made the directory');
  const cases: [unknown, RegExp][] = [
    [
      { name: 'v', hostPath: { path: join(host, 'missing'), type: 'Directory' } },
      /^tspod: spec\.volumes\[0\]\.hostPath\.path: .*missing does not exist \(type Directory\)$/m,
    ],
    [{ name: 'v', hostPath: { path: host, type: 'File' } }, /^tspod: spec\.volumes\[0\]\.hostPath\.path: .* is not a file \(type File\)$/m],
    [{ name: 'v', hostPath: { path: join(host, 'file'), type: 'Socket' } }, /is not a socket \(type Socket\)$/m],
  ];
  for (const [volume, message] of cases) {
    const r = await s.cli(['run', '-f', pod([volume])]);
    t.equal(r.code, 125);
    t.match(r.stderr, message);
    t.same(s.store.names(), [], 'nothing was created');
  }
});

t.test('whatever way a pod ends, no mount, overlay or emptyDir stays', async (t) => {
  const s = testState(t);
  const root = busyboxRoot(tempDir(t, 'rootfs'));
  const spec = (name: string, command = ['/bin/sleep', '1000']) =>
    manifest(tempDir(t, 'm'), {
      metadata: { name },
      spec: {
        restartPolicy: 'Never',
        // Its sleep is PID 1 of its own PID namespace: it ignores SIGTERM, and is killed after this.
        terminationGracePeriodSeconds: 1,
        volumes: [
          { name: 'ram', emptyDir: { medium: 'Memory' } },
          { name: 'disk', emptyDir: {} },
        ],
        containers: [
          {
            name: 'c',
            rootfs: root,
            command,
            volumeMounts: [
              { name: 'ram', mountPath: '/ram' },
              { name: 'disk', mountPath: '/disk' },
            ],
          },
        ],
      },
    });
  const check = (how: string, name: string) => {
    t.same(mountsUnder(s.root, root), [], `${how}: no mount is left`);
    t.notOk(existsSync(join(s.store.paths.pod(name), 'volumes')), `${how}: no emptyDir left`);
  };
  /** run -d, which must succeed; for a pod that keeps running, its tmpfs must be there. */
  const start = async (name: string, command?: string[]) => {
    const r = await s.cli(['run', '-d', '-f', spec(name, command)]);
    t.equal(r.code, 0, `${name} started`, { stderr: r.stderr });
    const ram = join(s.store.paths.pod(name), 'volumes/ram');
    if (!command) t.ok(mountsUnder(s.root).includes(ram), `${name}: its tmpfs is mounted while it runs`);
  };
  const cli = async (...args: string[]) => t.equal((await s.cli(args)).code, 0, `tspod ${args.join(' ')}`);

  await start('normal', ['/bin/sh', '-c', 'exit 0']);
  await waitFor('normal to complete', () => s.store.read('normal')?.state === 'completed');
  check('completed', 'normal');
  await cli('rm', 'normal');

  await start('forced');
  await cli('rm', '-f', 'forced');
  check('rm -f', 'forced');

  await start('killed');
  process.kill(s.store.read('killed')!.infra!.process.pid, 'SIGKILL');
  await waitFor('killed to fail', () => s.store.read('killed')?.state === 'failed');
  check('infra killed', 'killed');
  await cli('rm', 'killed');

  await start('orphan');
  await s.killMonitor();
  await cli('rm', '-f', 'orphan');
  t.same(mountsUnder(s.root, root), [], 'monitor killed, then rm -f without it: no mount left');

  const failed = await s.cli(['run', '-d', '-f', spec('failed', ['/nonexistent'])]);
  t.equal(failed.code, 127, 'a start that fails');
  t.same(mountsUnder(s.root, root), [], 'failed start: no mount left');
  t.same(s.store.names(), [], 'and no pod');
});

t.test("under a shared mount, a pod's tmpfs is not copied into the peer mount namespaces", async (t) => {
  // As on a systemd host, where / and /run are shared: a shared mount, with a peer of it in a
  // second mount namespace (unshare --propagation unchanged keeps the peer group).
  const shared = tempDir(t, 'shared');
  mountFor(t, shared, '--bind', shared);
  execFileSync('mount', ['--make-shared', shared]);
  const peer = owned(t, spawn('unshare', ['-m', '--propagation', 'unchanged', 'sleep', '1000'], { stdio: 'ignore' }));
  const peerMounts = () =>
    readFileSync(`/proc/${peer.pid}/mountinfo`, 'utf8')
      .split('\n')
      .filter((l) => l.includes(shared));
  await waitFor('the peer namespace', () => readFileSync(`/proc/${peer.pid}/comm`, 'utf8') === 'sleep\n');
  const before = peerMounts();
  t.equal(before.length, 1, 'the peer has the shared mount');

  const s = testState(t, {}, shared);
  const root = busyboxRoot(tempDir(t, 'rootfs'));
  const r = await s.cli([
    'run',
    '-d',
    '-f',
    manifest(tempDir(t, 'm'), {
      metadata: { name: 'iso' },
      spec: {
        restartPolicy: 'Never',
        volumes: [{ name: 'ram', emptyDir: { medium: 'Memory' } }],
        containers: [{ name: 'c', rootfs: root, command: ['sleep', '1000'], volumeMounts: [{ name: 'ram', mountPath: '/ram' }] }],
      },
    }),
  ]);
  t.equal(r.code, 0, r.stderr);
  const dir = join(s.store.paths.pod('iso'), 'volumes/ram');
  t.match(mounts(), ` ${dir} `, 'the tmpfs is mounted here');
  t.same(
    peerMounts().filter((l) => l.includes(' tmpfs ')),
    [],
    'and not in the peer namespace',
  );
  t.equal((await s.cli(['rm', '-f', 'iso'])).code, 0);
  t.same(peerMounts(), before, "after rm, the peer has no mount of the pod's left");
  t.notMatch(mounts(), ` ${s.store.paths.pod('iso')}`, 'nor has this namespace');
});

t.test("a readOnly volume keeps its source mount's nosuid, nodev, noexec, nosymfollow and atime", async (t) => {
  const s = testState(t);
  const root = busyboxRoot(tempDir(t, 'rootfs'));
  const host = tempDir(t, 'noexec');
  mountFor(t, host, '-t', 'tmpfs', '-o', 'nosuid,nodev,noexec,nosymfollow,strictatime,size=1m', 'tspod-test');
  const r = await s.cli([
    'run',
    '-f',
    manifest(tempDir(t, 'm'), {
      metadata: { name: 'ro' },
      spec: {
        restartPolicy: 'Never',
        volumes: [
          { name: 'ram', emptyDir: { medium: 'Memory' } },
          { name: 'h', hostPath: { path: host, type: 'Directory' } },
        ],
        containers: [
          {
            name: 'c',
            rootfs: root,
            command: ['/bin/sh', '-c', 'grep -E " /(ram|h) " /proc/self/mountinfo'],
            volumeMounts: [
              { name: 'ram', mountPath: '/ram', readOnly: true },
              { name: 'h', mountPath: '/h', readOnly: true },
            ],
          },
        ],
      },
    }),
  ]);
  t.equal(r.code, 0, r.stderr);
  // A foreground run prefixes each line with its container's name; mountinfo's fifth field is
  // the mount point and its sixth the per-mount options.
  const fields = r.stdout
    .trim()
    .split('\n')
    .map((l) => l.replace(/^c +\| /, '').split(' '));
  const options = new Map(fields.map((f) => [f[4], f[5].split(',')]));
  const has = (path: string, want: string[]) => want.every((o) => options.get(path)?.includes(o));
  t.ok(has('/ram', ['ro', 'nosuid', 'nodev']), `the memory emptyDir: read-only, still nosuid and nodev (${options.get('/ram')})`);
  t.ok(
    has('/h', ['ro', 'nosuid', 'nodev', 'noexec', 'nosymfollow']),
    `the hostPath: read-only, still nosuid, nodev, noexec and nosymfollow (${options.get('/h')})`,
  );
  t.notOk(
    options.get('/h')?.some((o) => /atime$/.test(o)),
    `and still strictatime: no relatime or noatime (${options.get('/h')})`,
  );
});

t.test("a memory emptyDir stays one volume when a new monitor adds the pod's first container with a root of its own", async (t) => {
  const s = testState(t);
  const root = busyboxRoot(tempDir(t, 'rootfs'));
  const hostDir = tempDir(t, 'mnt');
  // Only a container on the host's file system at first: the pod has no /dev/shm yet.
  const r = await s.cli([
    'run',
    '-d',
    '-f',
    manifest(tempDir(t, 'm'), {
      metadata: { name: 'adm' },
      spec: {
        volumes: [{ name: 'ram', emptyDir: { medium: 'Memory' } }],
        containers: [
          {
            name: 'w',
            command: ['sh', '-c', `echo from-w > ${hostDir}/marker; exec sleep 1000`],
            volumeMounts: [{ name: 'ram', mountPath: hostDir }],
          },
        ],
      },
    }),
  ]);
  t.equal(r.code, 0, r.stderr);
  await waitFor('the marker', () => existsSync(join(s.store.paths.pod('adm'), 'volumes/ram/marker')));
  await s.killMonitor();
  // Never restarted: its log then holds one run's output, whenever it is read.
  const add = await s.cli([
    'run',
    '-d',
    '--pod',
    'adm',
    '--name',
    'r',
    '--restart',
    'Never',
    '--rootfs',
    root,
    '-v',
    'ram:/ram',
    '--',
    'cat',
    '/ram/marker',
  ]);
  t.equal(add.code, 0, add.stderr);
  t.equal(
    await waitFor('its output', async () => (await logs(s, 'adm', 'r')) || undefined),
    'from-w\n',
    'the new container sees what the first wrote, in the same tmpfs',
  );
  const podDir = s.store.paths.pod('adm');
  t.same(mountsUnder(s.root), [podDir, `${podDir}/shm`, `${podDir}/volumes/ram`], 'one bind of the pod directory, under it the tmpfs');
});

t.test("a state root reached through a symlink: the pod's mounts are still found and undone", async (t) => {
  // As --root /var/run/tspod on Debian, where /var/run is a symlink to /run.
  const real = tempDir(t, 'real');
  const link = `${real}.link`;
  cleanup(t, `remove ${link}`, () => rmSync(link, { force: true }));
  symlinkSync(real, link);
  const s = testState(t, {}, link);
  const root = busyboxRoot(tempDir(t, 'rootfs'));
  const r = await s.cli([
    'run',
    '-d',
    '-f',
    manifest(tempDir(t, 'm'), {
      metadata: { name: 'viasym' },
      spec: {
        volumes: [{ name: 'ram', emptyDir: { medium: 'Memory' } }],
        containers: [{ name: 'c', rootfs: root, command: ['sleep', '1000'], volumeMounts: [{ name: 'ram', mountPath: '/ram' }] }],
      },
    }),
  ]);
  t.equal(r.code, 0, r.stderr);
  t.equal(mountsUnder(real).length, 3, 'the pod directory, its /dev/shm and the emptyDir are mounted');
  t.equal((await s.cli(['rm', '-f', 'viasym'])).code, 0);
  t.same(mountsUnder(real), [], 'and all unmounted with the pod');
});
