// The addon itself: what a spawned process gets (and does not get) from Node, errors shaped
// like Node's own from both sides of the fork, and exit notification through pidfds.
import t, { type Test } from 'tap';
import { chmodSync, closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';
import { loadBinding, type ExitStatus, type SpawnRequest } from '../../src/native/binding.js';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { cleanup, tempDir } from '../helpers/cleanup.js';
import { nsInode } from '../helpers/proc.js';

if (!isRoot) t.plan(0, NOT_ROOT);

const b = loadBinding();
const C = b.constants;

/** Spawns a program with stdout to a file; resolves with its output and exit status. */
async function run(t: Test, req: Partial<SpawnRequest> & { argv: string[] }) {
  const dir = tempDir(t, 'native');
  const out = openSync(join(dir, 'out'), 'w');
  const devnull = openSync('/dev/null', 'r');
  let proc;
  try {
    proc = b.spawn({
      path: req.argv[0],
      searchPath: ['/usr/bin', '/bin', '/usr/sbin', '/sbin'],
      env: [],
      stdio: [devnull, out, out],
      ...req,
    });
  } finally {
    closeSync(out);
    closeSync(devnull);
  }
  const status = await new Promise<ExitStatus>((r) => new b.ExitWatch(proc.pidfd, r));
  closeSync(proc.pidfd);
  return { output: readFileSync(join(dir, 'out'), 'utf8'), status, pid: proc.pid };
}

t.test('the environment is exactly the one given; signal state is reset', async (t) => {
  const env = await run(t, { argv: ['env'], env: ['A=1', 'B=two words'] });
  t.equal(env.output, 'A=1\nB=two words\n');
  t.same(env.status, { code: 0, signal: null, coreDumped: false });
  // Node ignores SIGPIPE; the child must not inherit that (SIG_IGN survives execve).
  const sig = await run(t, { argv: ['grep', '-E', '^Sig(Blk|Ign)', '/proc/self/status'] });
  t.equal(sig.output, 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
});

t.test('no fd of the parent reaches the program, even one without O_CLOEXEC', async (t) => {
  // A Node process with an inherited fd 3 (not close-on-exec) spawns ls of its child's fds.
  const script = `
    const b = require(${JSON.stringify(join(process.cwd(), 'build/Release/tspod.node'))});
    const p = b.spawn({ path: '/bin/ls', argv: ['ls', '/proc/self/fd'], env: [], stdio: [0, 1, 2] });
    new b.ExitWatch(p.pidfd, () => {});`;
  const out = execFileSync(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit', 'pipe'], encoding: 'utf8' });
  // ls itself holds one more fd: its directory stream.
  t.same(
    out
      .trim()
      .split('\n')
      .map(Number)
      .filter((fd) => fd <= 2),
    [0, 1, 2],
  );
  t.equal(out.trim().split('\n').length, 4, "only 0, 1, 2 and ls's own directory fd");
});

t.test('new namespaces: hostname and lo up in the child', async (t) => {
  const r = await run(t, {
    argv: ['sh', '-c', 'cat /proc/sys/kernel/hostname; ip -o link show lo'],
    env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
    newNamespaces: C.CLONE_NEWUTS | C.CLONE_NEWNET,
    hostname: 'native-host',
    loopbackUp: true,
  });
  const [host, lo] = r.output.split('\n');
  t.equal(host, 'native-host');
  t.match(lo, /<LOOPBACK,UP,LOWER_UP>/);
});

t.test('joining through a pidfd lands the process in the pid namespace, still our child', async (t) => {
  const devnull = openSync('/dev/null', 'r');
  cleanup(t, 'close /dev/null', () => closeSync(devnull));
  const holder = b.spawn({
    path: '/bin/sleep',
    argv: ['sleep', '100'],
    env: [],
    stdio: [devnull, devnull, devnull],
    newNamespaces: C.CLONE_NEWPID | C.CLONE_NEWNET,
  });
  const holderExit = new Promise<ExitStatus>((r) => new b.ExitWatch(holder.pidfd, r));
  cleanup(t, 'kill the namespace holder', async () => {
    b.pidfdSendSignal(holder.pidfd, osConstants.signals.SIGKILL);
    await holderExit;
    closeSync(holder.pidfd);
  });
  const r = await run(t, {
    argv: ['sh', '-c', 'echo $$; exec sleep 0.2'],
    joinNamespaces: [{ fd: holder.pidfd, type: C.CLONE_NEWPID | C.CLONE_NEWNET, label: 'holder' }],
  });
  t.equal(r.output, '2\n', "PID 2 in the holder's namespace");
  t.same(r.status, { code: 0, signal: null, coreDumped: false }, 'and its status reaches us');
});

t.test('child-side failures come back as Node-style errors naming step and object', async (t) => {
  const attempt = (req: Partial<SpawnRequest>) => {
    try {
      b.spawn({ path: '/bin/true', argv: ['true'], env: [], stdio: [0, 1, 2], ...req });
      return undefined;
    } catch (err) {
      return err as NodeJS.ErrnoException;
    }
  };
  t.match(attempt({ path: '/nonexistent/prog' }), {
    message: "ENOENT: no such file or directory, execve '/nonexistent/prog'",
    code: 'ENOENT',
    errno: -2,
    syscall: 'execve',
    path: '/nonexistent/prog',
  });
  t.match(attempt({ path: 'no-such-prog', searchPath: ['/usr/bin', '/bin'] }), { code: 'ENOENT', syscall: 'execve', path: 'no-such-prog' });
  t.match(attempt({ path: '/tmp' }), { message: "EACCES: permission denied, execve '/tmp'", code: 'EACCES' });
  t.match(attempt({ cwd: '/nonexistent' }), { message: "ENOENT: no such file or directory, chdir '/nonexistent'", syscall: 'chdir' });
  t.match(
    attempt({ newNamespaces: C.CLONE_NEWNS, fs: [{ op: 'mount', source: 'tmpfs', target: '/nonexistent-target', fstype: 'tmpfs' }] }),
    {
      message: "ENOENT: no such file or directory, mount '/nonexistent-target'",
      syscall: 'mount',
      path: '/nonexistent-target',
    },
  );
  const devnull = openSync('/dev/null', 'r');
  cleanup(t, 'close /dev/null', () => closeSync(devnull));
  t.match(attempt({ joinNamespaces: [{ fd: devnull, type: C.CLONE_NEWNET, label: '/dev/null' }] }), {
    message: "EINVAL: invalid argument, setns '/dev/null'",
    code: 'EINVAL',
    errno: -22,
    syscall: 'setns',
  });
  // A cgroup the child cannot write itself into: /dev/null open read-only gives EBADF.
  t.match(attempt({ joinCgroups: [{ fd: devnull, label: '/sys/fs/cgroup/x/cgroup.procs' }] }), {
    message: "EBADF: bad file descriptor, write '/sys/fs/cgroup/x/cgroup.procs'",
    code: 'EBADF',
    syscall: 'write',
    path: '/sys/fs/cgroup/x/cgroup.procs',
  });
  t.throws(() => b.spawn({} as SpawnRequest), { name: 'TypeError', message: 'spawn: path must be a string' });
});

t.test('a user namespace: made with its maps, joined as its root, entered after the file system; idmap failures named', async (t) => {
  const fd = b.createUserNamespace('0 3100000000 65536\n', '0 3100000000 65536\n');
  cleanup(t, 'close the user namespace', () => closeSync(fd));
  const userns = statSync(`/proc/self/fd/${fd}`).ino;
  t.not(userns, nsInode('self', 'user'), 'a new one');
  const maps = b.userNamespaceMaps(fd);
  t.same(
    [maps.uid, maps.gid].map((m) => m.trim().split(/\s+/).join(' ')),
    ['0 3100000000 65536', '0 3100000000 65536'],
    'its maps, read inside',
  );
  const own = openSync('/proc/self/ns/user', 'r');
  cleanup(t, 'close our user namespace', () => closeSync(own));
  t.throws(() => b.userNamespaceMaps(own), { code: 'EINVAL', syscall: 'setns' }, 'our own cannot be entered');
  // Joined first: the process is its root, and the UTS namespace it is made with is the user
  // namespace's (its root could set the hostname there).
  const joined = await run(t, {
    argv: ['sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map; echo $(id -u) $(id -g) $(hostname)'],
    joinNamespaces: [{ fd, type: C.CLONE_NEWUSER, label: 'userns' }],
    newNamespaces: C.CLONE_NEWUTS,
    hostname: 'inside',
  });
  t.same(
    joined.output.split('\n').map((l) => l.trim().split(/\s+/).join(' ')),
    ['0 3100000000 65536', '0 3100000000 65536', '0 0 inside', ''],
  );
  // Entered after the file-system steps: they run as the host's root, what they create is the namespace root's.
  const dir = tempDir(t, 'userns-fs');
  chmodSync(dir, 0o777); // made as the namespace's root, which is no one special here
  const entered = await run(t, {
    argv: ['sh', '-c', `echo $(id -u); stat -c %u ${dir}/made`],
    newNamespaces: C.CLONE_NEWNS,
    fs: [
      { op: 'mount', target: '/', flags: C.MS_REC | C.MS_PRIVATE },
      { op: 'mkdir', target: `${dir}/made`, mode: 0o755 },
    ],
    userNamespace: { fd, label: 'userns', hostRoot: 3100000000 },
    user: { uid: 0, gid: 0 },
  });
  t.equal(entered.output, '0\n0\n', 'root inside; the directory it made is its own');
  t.equal(statSync(`${dir}/made`).uid, 3100000000, "and the range's first id on the host");
  // A source that is not there names the call and the path.
  t.throws(
    () =>
      b.spawn({
        path: '/bin/true',
        argv: ['true'],
        env: [],
        stdio: [0, 1, 2],
        newNamespaces: C.CLONE_NEWNS,
        fs: [{ op: 'idmap', source: '/nonexistent-layer', target: dir }],
        userNamespace: { fd, label: 'userns', hostRoot: 3100000000 },
      }),
    { code: 'ENOENT', syscall: 'open_tree', path: '/nonexistent-layer' },
  );
  t.throws(() => b.probeIdmappedMount('/nonexistent', fd), { code: 'ENOENT', syscall: 'open_tree', path: '/nonexistent' });
  t.throws(() => b.createUserNamespace('0 0 1\n0 0 1\n', '0 0 1\n'), { code: 'EINVAL', syscall: 'write', path: /^\/proc\/\d+\/uid_map$/ });
});

t.test("thin wrappers act on Node's main thread, with Node-style errors", async (t) => {
  const own = openSync('/proc/thread-self/ns/net', 'r');
  cleanup(t, 'close our net namespace fd', () => closeSync(own));
  const before = nsInode('thread-self', 'net');
  b.setns(own, C.CLONE_NEWNET, '/proc/thread-self/ns/net');
  t.equal(nsInode('thread-self', 'net'), before, 'setns into our own network namespace');
  const mnt = openSync('/proc/thread-self/ns/mnt', 'r');
  cleanup(t, 'close our mnt namespace fd', () => closeSync(mnt));
  t.throws(
    () => b.setns(mnt, C.CLONE_NEWNS, '/proc/thread-self/ns/mnt'),
    {
      code: 'EINVAL',
      message: "EINVAL: invalid argument, setns '/proc/thread-self/ns/mnt'",
    },
    'a mount namespace cannot be joined by a multi-threaded process',
  );
  t.throws(() => b.unshare(C.CLONE_NEWUSER), { code: 'EINVAL', syscall: 'unshare' }, 'a user namespace needs a single-threaded caller');
  t.throws(() => b.pidfdOpen(0x3fffffff), { code: 'ESRCH', syscall: 'pidfd_open' });
});

t.test('exit watch: signals, a closed watch, and a process that is not our child', async (t) => {
  const devnull = openSync('/dev/null', 'r');
  cleanup(t, 'close /dev/null', () => closeSync(devnull));
  const p = b.spawn({ path: '/bin/sleep', argv: ['sleep', '100'], env: [], stdio: [devnull, devnull, devnull] });
  const status = new Promise<ExitStatus>((r) => new b.ExitWatch(p.pidfd, r));
  b.pidfdSendSignal(p.pidfd, osConstants.signals.SIGKILL);
  t.same(await status, { code: null, signal: osConstants.signals.SIGKILL, coreDumped: false });
  t.throws(() => b.pidfdSendSignal(p.pidfd, 0), { code: 'ESRCH' }, 'once reaped, signals fail with ESRCH');
  closeSync(p.pidfd);

  // A closed watch never calls back; its process is still reaped by a second watch.
  const q = b.spawn({ path: '/bin/true', argv: ['true'], env: [], stdio: [devnull, devnull, devnull] });
  let called = false;
  new b.ExitWatch(q.pidfd, () => (called = true)).close();
  const second = await new Promise<ExitStatus>((r) => new b.ExitWatch(q.pidfd, r));
  t.equal(called, false);
  t.equal(second.code, 0);
  closeSync(q.pidfd);

  // An orphan adopted by init: its exit is seen, its status belongs to its parent.
  const pid = Number(execFileSync('sh', ['-c', 'sleep 0.3 >/dev/null 2>&1 & echo $!'], { encoding: 'utf8' }));
  const fd = b.pidfdOpen(pid);
  const orphan = await new Promise<ExitStatus>((r) => new b.ExitWatch(fd, r));
  closeSync(fd);
  t.match(orphan, { code: null, signal: null, error: { code: 'ECHILD', syscall: 'waitid' } });
});

t.test('an onExit that throws is an uncaught exception of the JS code, not an abort', async (t) => {
  const script = `
    const b = require(${JSON.stringify(join(__dirname, '../../dist/native/binding.js'))}).loadBinding();
    process.on('uncaughtException', (e) => { console.log('uncaught: ' + e.message); process.exit(3); });
    const { pidfd } = b.spawn({ path: '/bin/true', argv: ['true'], env: [], cwd: '/', stdio: [0, 1, 2] });
    new b.ExitWatch(pidfd, () => { throw new Error('thrown in onExit'); });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  t.equal(r.signal, null, 'Node was not aborted');
  t.equal(r.status, 3);
  t.equal(r.stdout.trim(), 'uncaught: thrown in onExit');
});

t.test('socketInNetns: a failure to open the way back (EMFILE) is reported, and the next call tries again', async (t) => {
  // A process of its own: the addon opens its way back once per process, and this one must
  // not have done it yet. Every fd is taken, then one is freed.
  const script = `
    const b = require(${JSON.stringify(join(__dirname, '../../build/Release/tspod.node'))});
    const fs = require('fs');
    const ns = fs.openSync('/proc/self/ns/net', 'r');
    const held = [];
    for (;;) { try { held.push(fs.openSync('/dev/null', 'r')); } catch { break; } }
    let first;
    try {
      b.socketInNetns(ns, b.constants.AF_INET, b.constants.SOCK_STREAM);
      first = 'no error';
    } catch (e) {
      first = e.code + ' ' + e.syscall + ' ' + e.path;
    }
    for (const fd of held.splice(0, 4)) fs.closeSync(fd);
    const fd = b.socketInNetns(ns, b.constants.AF_INET, b.constants.SOCK_STREAM);
    console.log(JSON.stringify({ first, second: typeof fd }));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout), { first: 'EMFILE open /proc/thread-self/ns/net', second: 'number' });
});
