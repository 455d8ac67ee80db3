// Containers on a root file system of their own (a busybox tree built here): what they see of
// the file system, /proc, /dev and /etc, a read-only root, the user they run as, and that
// nothing they mount reaches the host.
import t from 'tap';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { tempDir } from '../helpers/cleanup.js';
import { mountsUnder, procInfo, waitFor } from '../helpers/proc.js';
import { testState } from '../helpers/state.js';
import { NO_BUSYBOX, busyboxRoot, haveBusybox } from '../helpers/busybox.js';

const skip = !isRoot ? NOT_ROOT : !haveBusybox ? NO_BUSYBOX : undefined;
if (skip) t.plan(0, skip);

const logOf = async (s: ReturnType<typeof testState>, pod: string, ctr: string) => (await s.cli(['logs', pod, ctr])).stdout;

t.test('a root of its own: the tree, /proc of the pod, /dev, /etc, and no mount on the host', async (t) => {
  const s = testState(t);
  const root = busyboxRoot(tempDir(t, 'rootfs'));
  const manifest = join(tempDir(t, 'm'), 'pod.json');
  writeFileSync(
    manifest,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'rf' },
      spec: {
        hostname: 'rf-host',
        shareProcessNamespace: true,
        restartPolicy: 'Never',
        containers: [
          { name: 'keeper', rootfs: root, command: ['/bin/sleep', '1000'] },
          {
            name: 'look',
            rootfs: root,
            command: [
              '/bin/sh',
              '-c',
              [
                'until [ -e /proc/1 ] && ps | grep -q "sleep 1000"; do :; done',
                'echo ROOT $(ls /)',
                'echo PID1 $(cat /proc/1/comm)',
                'echo PS $(ps -o comm | tail -n +2 | sort | tr "\\n" " ")',
                'echo DEV $(ls -A /dev)',
                'echo HOST $(cat /etc/hostname)',
                'grep rf-host /etc/hosts',
                'mount -t tmpfs tmpfs /mnt 2>/dev/null || (mkdir -p /mnt && mount -t tmpfs tmpfs /mnt)',
                'echo MNT $(grep -c " /mnt " /proc/self/mountinfo)',
                'echo PWD $(pwd)',
              ].join('; '),
            ],
            workingDir: '/etc',
            // mount needs SYS_ADMIN, beyond the default set.
            securityContext: { capabilities: { add: ['SYS_ADMIN'] } },
          },
        ],
      },
    }),
  );
  const r = await s.cli(['run', '-d', '-f', manifest]);
  t.equal(r.code, 0, r.stderr);
  await waitFor('look to finish', () => s.store.read('rf')?.containers[1].state === 'exited', 15000);
  const out = await logOf(s, 'rf', 'look');
  const line = (k: string) =>
    out
      .split('\n')
      .find((l) => l.startsWith(k + ' '))
      ?.slice(k.length + 1);
  t.equal(line('ROOT'), 'bin dev etc proc sys', 'only its tree (and the mount points made in it)');
  t.equal(line('PID1'), 'pause', "its /proc is the pod's: pause is PID 1");
  t.match(line('PS'), /pause.*sleep/, "it sees the other container's process");
  t.equal(
    line('DEV'),
    'fd full null ptmx pts random shm stderr stdin stdout termination-log tty urandom zero',
    '/dev holds the listed nodes',
  );
  t.equal(line('HOST'), 'rf-host', "/etc/hostname is the pod's");
  t.match(out, /^127\.0\.1\.1\trf-host$/m, '/etc/hosts names the pod');
  t.equal(line('MNT'), '1', 'it mounted a tmpfs inside');
  t.equal(line('PWD'), '/etc', 'workingDir');
  const podDir = s.store.paths.pod('rf');
  t.same(
    mountsUnder(s.root, root),
    [podDir, `${podDir}/shm`],
    "the host sees no mount of a container: only the pod's directory (private) and its /dev/shm",
  );
  t.equal((await s.cli(['rm', '-f', 'rf'])).code, 0);
  t.same(mountsUnder(s.root, root), [], 'and nothing once the pod is gone');
});

t.test("a FIFO where the pod's /etc/hosts is mounted does not stop the container", async (t) => {
  const s = testState(t);
  const root = busyboxRoot(tempDir(t, 'rootfs'));
  execFileSync('mkfifo', [join(root, 'etc/hosts')]);
  const r = await s.cli([
    'run',
    '-d',
    '--name',
    'odd',
    '--hostname',
    'odd-host',
    '--rootfs',
    root,
    '--',
    '/bin/sh',
    '-c',
    'cat /etc/hosts; sleep 1000',
  ]);
  t.equal(r.code, 0, r.stderr);
  const out = await waitFor('its output', async () => (await logOf(s, 'odd', 'odd')).includes('odd-host') && logOf(s, 'odd', 'odd'));
  t.match(out, /\todd-host$/m, "the pod's /etc/hosts is mounted over the FIFO");
});

t.test('readOnlyRootFilesystem, runAsUser and runAsGroup', async (t) => {
  const s = testState(t);
  const root = busyboxRoot(tempDir(t, 'rootfs'));
  const manifest = join(tempDir(t, 'm'), 'pod.json');
  writeFileSync(
    manifest,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'sec' },
      spec: {
        restartPolicy: 'Never',
        containers: [
          {
            name: 'c',
            rootfs: root,
            command: ['/bin/sh', '-c', 'touch /new 2>&1 || echo ROOT-RO; touch /dev/shm/ok && echo SHM-RW; id; exec sleep 1000'],
            securityContext: { readOnlyRootFilesystem: true, runAsUser: 1000, runAsGroup: 1000 },
          },
        ],
      },
    }),
  );
  t.equal((await s.cli(['run', '-d', '-f', manifest])).code, 0);
  const pid = await waitFor('the process', () => {
    const c = s.store.read('sec')?.containers[0];
    return c?.process && procInfo(c.process.pid)?.comm === 'sleep' ? c.process.pid : undefined;
  });
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  t.match(status, /^Uid:\t1000\t1000\t1000\t1000$/m, 'runAsUser: the uid in /proc/PID/status');
  t.match(status, /^Gid:\t1000\t1000\t1000\t1000$/m, 'runAsGroup');
  t.match(status, /^Groups:\t29 *$/m, "the supplementary groups that /etc/group of its root lists uid 1000's user in");
  const out = await logOf(s, 'sec', 'c');
  t.match(out, /Read-only file system/, 'the root refuses writes');
  t.match(out, /ROOT-RO/);
  t.match(out, /SHM-RW/, '/dev/shm is still writable');
  t.match(out, /uid=1000\(app\) gid=1000\(app\)/);
  t.same(readdirSync(root).sort(), ['bin', 'dev', 'etc', 'proc', 'sys'], 'nothing was written into the tree');
});
