// Pods and containers in cgroups, on this host's v2 hierarchy (hybrid here: the controller-less
// cgroup2 at /sys/fs/cgroup/unified): every process is born in its cgroup, and a container's
// stop, restart and removal end all of its processes, not only the first.
import t from 'tap';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { tempDir } from '../helpers/cleanup.js';
import { cliPath } from '../helpers/cli.js';
import { NO_BUSYBOX, busyboxRoot, haveBusybox } from '../helpers/busybox.js';
import { alive, nsInode, procInfo, waitFor } from '../helpers/proc.js';
import { testState, type TestState } from '../helpers/state.js';
import { findV2Hierarchy } from '../../src/cgroup/hierarchy.js';
import type { PodRecord } from '../../src/state/records.js';

const v2 = findV2Hierarchy();
const skip = !isRoot ? NOT_ROOT : !v2 ? 'needs a cgroup v2 hierarchy mounted (none in /proc/self/mountinfo)' : undefined;
if (skip) t.plan(0, skip);

const record = (s: TestState, pod: string) => s.store.read(pod) as PodRecord;
/** The cgroup a process is in, as /proc/PID/cgroup names it in the v2 hierarchy. */
const cgroupOf = (pid: number) =>
  readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'))!
    .slice(3);
/** Every process in a cgroup directory (not below it). */
const procsIn = (dir: string) =>
  existsSync(dir) ? readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number) : [];

t.test('each process is born in its cgroup; a container has a cgroup namespace rooted there, which exec joins', async (t) => {
  const s = testState(t);
  t.equal((await s.cli(['pod', 'create', 'cg'])).code, 0);
  t.equal((await s.cli(['run', '-d', '--pod', 'cg', '--name', 'a', '--', 'sleep', '1000'])).code, 0);
  const rec = record(s, 'cg');
  t.equal(rec.cgroup?.mount, v2!.mount, 'the record names the v2 hierarchy');
  t.match(rec.cgroup?.name, /^\/tspod\/cg-[0-9a-f]{8}$/, 'and the pod cgroup under /tspod');
  const pod = rec.cgroup!.name;
  t.equal(cgroupOf(rec.infra!.process.pid), `${pod}/infra`, 'the infra');
  t.equal(cgroupOf(rec.containers[0].process!.pid), `${pod}/ctr-a`, 'the container');
  const ctr = rec.containers[0].process!.pid;
  t.not(nsInode(ctr, 'cgroup'), nsInode('self', 'cgroup'), 'the container has a cgroup namespace of its own');
  const exec = await s.cli(['exec', 'cg', 'a', '--', 'sh', '-c', 'cat /proc/self/cgroup; readlink /proc/self/ns/cgroup']);
  t.equal(exec.code, 0, exec.stderr);
  t.match(exec.stdout, /^0::\/$/m, 'inside, its cgroup is the root of that namespace (0::/)');
  t.match(exec.stdout, `cgroup:[${nsInode(ctr, 'cgroup')}]`, 'and a command exec-ed into it is in that namespace');
});

t.test(
  'stop, restart and rm of a container that forked and had a command exec-ed in: none of its processes is left, the others keep theirs',
  async (t) => {
    const s = testState(t);
    t.equal((await s.cli(['pod', 'create', 'zz'])).code, 0);
    for (const name of ['a', 'b']) {
      const r = await s.cli(['run', '-d', '--pod', 'zz', '--name', name, '--', 'sh', '-c', 'sleep 1001 & sleep 1002 & wait']);
      t.equal(r.code, 0, r.stderr);
    }
    const rec = record(s, 'zz');
    const dir = (c: string) => `${rec.cgroup!.mount}${rec.cgroup!.name}/ctr-${c}`;
    const others = () => ({ infra: rec.infra!.process.pid, b: procsIn(dir('b')).sort() });
    const before = others();
    await waitFor('a and its two children', () => procsIn(dir('a')).length === 3 || undefined);
    const exec = s.start(['exec', 'zz', 'a', '--', 'sleep', '1003']);
    await waitFor('the exec-ed command in a', () => procsIn(dir('a')).length === 4 || undefined);
    const ofA = procsIn(dir('a')).map((pid) => ({ pid, startTime: procInfo(pid)!.startTime }));

    t.equal((await s.cli(['stop', 'zz', 'a', '--grace', '1'])).code, 0);
    t.same(procsIn(dir('a')), [], 'stop: nothing left in its cgroup');
    t.same(
      ofA.filter((p) => alive(p)),
      [],
      'not one of its four processes runs (its children and the exec-ed one included)',
    );
    t.not(await exec.done, 0, 'the exec-ed command was ended with it');

    t.equal((await s.cli(['restart', 'zz', 'a'])).code, 0);
    t.equal((await s.cli(['restart', 'zz', 'a'])).code, 0);
    await waitFor('a running again with its children', () => procsIn(dir('a')).length === 3 || undefined);
    t.equal(procsIn(dir('a')).length, 3, 'two restarts later: still its three processes, nothing piled up');
    const third = procsIn(dir('a')).map((pid) => ({ pid, startTime: procInfo(pid)!.startTime }));

    t.equal((await s.cli(['rm', '-f', 'zz', 'a'])).code, 0);
    t.same(
      third.filter((p) => alive(p)),
      [],
      'rm -f: none of its processes runs',
    );
    t.notOk(existsSync(dir('a')), 'and its cgroup is gone');
    t.same(others(), before, 'the infra and the other container kept their processes');
  },
);

t.test("a container's first process exits: what it left running is killed before its exit is recorded", async (t) => {
  const s = testState(t);
  const go = join(tempDir(t, 'orphan'), 'go');
  t.equal((await s.cli(['pod', 'create', 'orph'])).code, 0);
  const script = `sleep 1000 & until [ -e ${go} ]; do sleep 0.05; done; exit 3`;
  const r = await s.cli(['run', '-d', '--pod', 'orph', '--name', 'c', '--restart', 'Never', '--', 'sh', '-c', script]);
  t.equal(r.code, 0, r.stderr);
  const rec = record(s, 'orph');
  const dir = `${rec.cgroup!.mount}${rec.cgroup!.name}/ctr-c`;
  const left = await waitFor('the sleep it starts', () => {
    const pid = procsIn(dir).find((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8') === 'sleep\u00001000\u0000');
    return pid === undefined ? undefined : { pid, startTime: procInfo(pid)!.startTime };
  });
  writeFileSync(go, '');
  const c = await waitFor('the exit recorded', () => {
    const ctr = record(s, 'orph').containers[0];
    return ctr.state === 'exited' ? ctr : undefined;
  });
  t.equal(c.lastExit?.code, 3, "its status is its first process's");
  t.notOk(alive(left), `the sleep it left (pid ${left.pid}) was gone by then`);
  t.same(procsIn(dir), [], 'and its cgroup empty');
});

t.test('every way a pod ends leaves no cgroup, and the tspod root goes with the last pod', async (t) => {
  const s = testState(t);
  const dirs: string[] = [];
  const made = (pod: string) => {
    const rec = record(s, pod);
    dirs.push(`${rec.cgroup!.mount}${rec.cgroup!.name}`);
    return rec;
  };
  const ok = async (args: string[]) => t.equal((await s.cli(args)).code, 0, `tspod ${args.join(' ')}`);

  await ok(['run', '-d', '--name', 'done', '--restart', 'Never', '--', 'true']);
  made('done');
  await waitFor('done to complete', () => record(s, 'done').state === 'completed' || undefined);
  await ok(['run', '-d', '--name', 'forced', '--', 'sh', '-c', 'sleep 1000 & wait']);
  made('forced');
  await ok(['rm', '-f', 'forced']);
  await ok(['run', '-d', '--name', 'infra-killed', '--', 'sleep', '1000']);
  const killed = made('infra-killed');
  process.kill(killed.infra!.process.pid, 'SIGKILL');
  await waitFor('the pod to fail', () => record(s, 'infra-killed').state === 'failed' || undefined);
  const failed = await s.cli(['run', '-d', '--name', 'bad', '--', '/nonexistent/program']);
  t.equal(failed.code, 127, 'a start that fails');
  t.equal(s.store.read('bad'), undefined);

  // A foreground tspod killed with SIGKILL: its record stays, stale, until the name is taken again.
  const fg = s.start(['run', '--name', 'fg', '--', 'sh', '-c', 'sleep 1000 & wait']);
  await waitFor('the foreground pod', () => s.store.read('fg')?.containers[0]?.state === 'running' || undefined);
  made('fg');
  fg.child.kill('SIGKILL');
  t.equal(await fg.done, 137);
  await ok(['run', '--name', 'fg', '--', 'true']);

  for (const dir of dirs) t.notOk(existsSync(dir), `${dir.slice(v2!.mount.length)}: gone`);
  await ok(['rm', 'done']);
  await ok(['rm', 'infra-killed']);
  // Test files run two at a time, and another file's pods share /tspod: it stays while one of
  // theirs is in it. Empty, it must go (a pod of theirs being made empties it only for a moment).
  const root = `${v2!.mount}/tspod`;
  const podsIn = () => (existsSync(root) ? readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory()).length : 0);
  t.ok(
    await waitFor('the root gone or holding another pod', () => !existsSync(root) || podsIn() > 0),
    'no pod of ours left: the /tspod root is gone unless another pod is in it',
  );
});

t.test(
  'a container with a root of its own sees its own cgroup, read-only, at /sys/fs/cgroup',
  { skip: !haveBusybox && NO_BUSYBOX },
  async (t) => {
    const s = testState(t);
    const tree = busyboxRoot(tempDir(t, 'cg-root'));
    const script = [
      'grep " /sys/fs/cgroup " /proc/self/mountinfo',
      'echo "procs: $(cat /sys/fs/cgroup/cgroup.procs | tr "\\n" " ")"',
      'echo "self: $$"',
      'touch /sys/fs/cgroup/x 2>&1; true',
    ].join('; ');
    const r = await s.cli(['run', '--name', 'rooted', '--rootfs', tree, '--', '/bin/sh', '-c', script]);
    t.equal(r.code, 0, r.stderr);
    const out = r.stdout.replace(/^rooted +\| /gm, '');
    t.match(
      out,
      /^\S+ \S+ \S+ \/ \/sys\/fs\/cgroup ro,nosuid,nodev,noexec\S*( \S+)* - cgroup2 /m,
      'cgroup2, read-only, rooted at its cgroup (/)',
    );
    const self = /^self: (\d+)$/m.exec(out)?.[1];
    const procs = /^procs: ([\d ]*)$/m.exec(out)?.[1].trim().split(' ');
    t.ok(self !== undefined && procs?.includes(self), `the cgroup it sees holds its own shell (${self} in ${procs?.join(',')})`);
    t.match(out, /touch: \/sys\/fs\/cgroup\/x: Read-only file system/, 'and nothing can be written there');
  },
);

t.test('with no cgroup2 mounted, tspod mounts one of its own in its state directory, and containers still get their cgroups', async (t) => {
  const s = testState(t);
  // A mount namespace of the test's own, where the host's cgroup2 is unmounted: a v1-only host.
  const script = `umount -l ${v2!.mount} && exec "$0" "$@"`;
  const inside = [
    'cat /proc/1/cgroup /proc/self/cgroup',
    "grep -c ' - cgroup2 ' /proc/self/mountinfo",
    `awk '$9 == "cgroup2" {print $5}' /proc/self/mountinfo`,
  ].join('; ');
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('unshare', ['-m', 'sh', '-c', script, process.execPath, cliPath, 'run', '--', 'sh', '-c', inside], { env: s.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  t.equal(r.code, 0, r.stderr);
  // The foreground run prefixes each line with the container's name.
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => l.replace(/^\S+ \| /, ''));
  t.same(
    lines.filter((l) => l.startsWith('0::')),
    ['0::/../infra', '0::/'],
    "in the container's cgroup namespace: pause in the infra's cgroup beside it, the container in its own",
  );
  t.same(lines.slice(-2), ['1', join(s.root, 'cgroup2')], "one cgroup2 mount: tspod's own, in the state directory");
});
