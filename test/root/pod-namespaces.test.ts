// The namespaces a pod takes from the host or makes beyond the four it shares: hostPID and
// hostIPC (Kubernetes' fields, --pid host, --ipc host), a time namespace with shifted clocks
// (--time-offset), a cgroup namespace its containers share (--share cgroup); checked against
// the inodes of /proc/PID/ns/* and the clocks themselves, and against what `tspod inspect` says
// of each.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { cleanup, tempDir } from '../helpers/cleanup.js';
import { nsInode, waitFor } from '../helpers/proc.js';
import { testState } from '../helpers/state.js';
import { freeHostPort } from '../helpers/net.js';

if (!isRoot) t.plan(0, NOT_ROOT);

interface Proc {
  process: { pid: number };
  sharing: Record<string, string>;
}
interface Inspected {
  infra: Proc;
  containers: (Proc & { name: string })[];
}

t.test("hostPID and hostIPC: the infra and the containers are in the host's PID and IPC namespaces, the rest their own", async (t) => {
  const s = testState(t);
  const file = join(tempDir(t, 'hostns'), 'pod.yaml');
  writeFileSync(
    file,
    'apiVersion: v1\nkind: Pod\nmetadata: {name: h}\nspec:\n  hostPID: true\n  hostIPC: true\n' +
      "  containers:\n  - {name: c, command: [sleep, '1000']}\n",
  );
  const r = await s.cli(['run', '-d', '-f', file]);
  t.equal(r.code, 0, r.stderr);
  const view = JSON.parse((await s.cli(['inspect', 'h', '--json'])).stdout) as Inspected;
  const c = view.containers[0];
  for (const p of [view.infra, c]) {
    t.equal(nsInode(p.process.pid, 'pid'), nsInode('self', 'pid'), `pid ${p.process.pid}: the host's PID namespace`);
    t.equal(nsInode(p.process.pid, 'ipc'), nsInode('self', 'ipc'), `pid ${p.process.pid}: the host's IPC namespace`);
    t.not(nsInode(p.process.pid, 'net'), nsInode('self', 'net'), `pid ${p.process.pid}: a network namespace of the pod's`);
  }
  t.same([view.infra.sharing.pid, view.infra.sharing.ipc, view.infra.sharing.net], ['host', 'host', 'own'], 'inspect: the infra');
  t.same([c.sharing.pid, c.sharing.ipc, c.sharing.net, c.sharing.mnt], ['host', 'host', 'infra', 'own'], 'inspect: the container');
  // The container sees the host's processes: PID 1 is the host's init.
  const init = await s.cli(['exec', 'h', 'c', '--', 'cat', '/proc/1/comm']);
  t.equal(init.stdout, readFileSync('/proc/1/comm', 'utf8'));
  t.equal((await s.cli(['rm', '-f', 'h'])).code, 0);

  const cli = await s.cli(['run', '-d', '--name', 'hc', '--pid', 'host', '--ipc', 'host', '--', 'sleep', '1000']);
  t.equal(cli.code, 0, cli.stderr);
  const pid = s.store.read('hc')!.containers[0].process!.pid;
  t.same([nsInode(pid, 'pid'), nsInode(pid, 'ipc')], [nsInode('self', 'pid'), nsInode('self', 'ipc')], '--pid host --ipc host');
});

t.test("--share cgroup: the containers are in the infra's cgroup namespace, rooted at the infra's cgroup", async (t) => {
  const s = testState(t);
  t.equal((await s.cli(['pod', 'create', 'cg', '--share', 'net,ipc,uts,pid,cgroup'])).code, 0);
  for (const name of ['a', 'b']) t.equal((await s.cli(['run', '-d', '--pod', 'cg', '--name', name, '--', 'sleep', '1000'])).code, 0);
  const record = s.store.need('cg');
  const infra = record.infra!.process.pid;
  t.not(nsInode(infra, 'cgroup'), nsInode('self', 'cgroup'), 'the infra has a cgroup namespace of its own');
  for (const c of record.containers) {
    t.equal(nsInode(c.process!.pid, 'cgroup'), nsInode(infra, 'cgroup'), `container ${c.name} is in the infra's`);
  }
  const seen = await s.cli(['exec', 'cg', 'a', '--', 'cat', '/proc/self/cgroup']);
  if (record.cgroup) t.match(seen.stdout, /^0::\/\.\.\/ctr-a$/m, "the container's own cgroup, as a sibling of the namespace's root");
  const view = JSON.parse((await s.cli(['inspect', 'cg', '--json'])).stdout) as Inspected;
  t.same(
    view.containers.map((c) => c.sharing.cgroup),
    ['infra', 'infra'],
    "inspect: the infra's",
  );
  // Without it (the default) each container's cgroup namespace is its own.
  t.equal((await s.cli(['pod', 'create', 'own'])).code, 0);
  t.equal((await s.cli(['run', '-d', '--pod', 'own', '--name', 'a', '--', 'sleep', '1000'])).code, 0);
  const own = s.store.need('own');
  t.not(nsInode(own.containers[0].process!.pid, 'cgroup'), nsInode(own.infra!.process.pid, 'cgroup'));
});

t.test('host namespaces that contradict the pod are refused, naming the field, nothing created', async (t) => {
  const s = testState(t);
  const file = join(tempDir(t, 'hostns-bad'), 'pod.yaml');
  writeFileSync(
    file,
    'apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  hostPID: true\n  shareProcessNamespace: true\n' +
      "  containers:\n  - {name: c, command: ['true']}\n",
  );
  const both = await s.cli(['run', '-d', '-f', file]);
  t.match(both.stderr, /spec\.shareProcessNamespace: cannot go with hostPID/);
  const share = await s.cli(['run', '-d', '--name', 'x', '--pid', 'host', '--share', 'net,ipc,uts', '--', 'true']);
  t.match(share.stderr, /hostPID: .* its containers must share it/);
  const sysctl = await s.cli(['run', '-d', '--name', 'x', '--ipc', 'host', '--sysctl', 'kernel.shm_rmid_forced=1', '--', 'true']);
  t.match(sysctl.stderr, /kernel\.shm_rmid_forced would change the host's: the pod is in the host's IPC namespace/);
  const mode = await s.cli(['run', '--pid', 'container:x', '--', 'true']);
  t.match(mode.stderr, /--pid: "container:x" is not one tspod takes/);
  for (const r of [both, share, sysctl, mode]) t.equal(r.code, 125);
  await waitFor('no pod', () => s.store.names().length === 0 || undefined);
  t.same(s.store.names(), []);
});

t.test('--time-offset: CLOCK_MONOTONIC and CLOCK_BOOTTIME shifted in every container and exec, not on the host', async (t) => {
  const s = testState(t);
  const DAY = 86400;
  // Each clock as seconds, from perl's clock_gettime (Time::HiRes is part of perl itself).
  const clocks =
    'perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC,CLOCK_BOOTTIME ' +
    "-e 'printf qq(%d %d\\n), clock_gettime(CLOCK_MONOTONIC), clock_gettime(CLOCK_BOOTTIME)'";
  const created = await s.cli(['pod', 'create', 'tp', '--time-offset', `monotonic=${DAY},boottime=${2 * DAY}`]);
  t.equal(created.code, 0, created.stderr);
  t.equal((await s.cli(['run', '-d', '--pod', 'tp', '--name', 'c', '--', 'sleep', '1000'])).code, 0);
  const host = () =>
    readFileSync('/proc/uptime', 'utf8')
      .split(' ')
      .map(Number)
      .slice(0, 1)
      .concat(Number(process.hrtime.bigint() / 1_000_000_000n));
  const inside = await s.cli(['exec', 'tp', 'c', '--', 'sh', '-c', clocks]);
  t.equal(inside.code, 0, inside.stderr);
  const [mono, boot] = inside.stdout.trim().split(' ').map(Number);
  const [hostBoot, hostMono] = host();
  // Generous bounds: the commands take time, this machine is shared.
  t.ok(Math.abs(mono - hostMono - DAY) < 60, `monotonic: ${mono} inside, ${hostMono} here`);
  t.ok(Math.abs(boot - hostBoot - 2 * DAY) < 60, `boottime: ${boot} inside, ${hostBoot} here`);
  const view = JSON.parse((await s.cli(['inspect', 'tp', '--json'])).stdout) as Inspected;
  const pid = view.containers[0].process.pid;
  t.equal(nsInode(pid, 'time'), nsInode(view.infra.process.pid, 'time'), "the container is in the infra's time namespace");
  t.not(nsInode(pid, 'time'), nsInode('self', 'time'), "which is not the host's");
  t.same([view.infra.sharing.time, view.containers[0].sharing.time], ['own', 'infra']);
  const bad = await s.cli(['run', '--time-offset', 'realtime=5', '--', 'true']);
  t.match(bad.stderr, /--time-offset: "realtime=5" is not CLOCK=SECONDS/);
});

t.test("joining: a named network namespace (ns:PATH) and another pod's IPC and UTS (pod:NAME); inspect says whose", async (t) => {
  // A network namespace kept by a bind mount, as `ip netns add` keeps one in /run/netns (which
  // ip would leave mounted on a host that had none): here, in the test's own directory.
  const netns = join(tempDir(t, 'netns'), 'net');
  writeFileSync(netns, '');
  execFileSync('unshare', [`--net=${netns}`, 'true']);
  cleanup(t, `unmount ${netns}`, () => execFileSync('umount', ['-l', netns]));
  const s = testState(t);
  t.equal((await s.cli(['pod', 'create', 'a', '--hostname', 'alpha'])).code, 0);
  // The joined namespace's lo is its owner's to bring up: tspod leaves it as it is.
  execFileSync('nsenter', [`--net=${netns}`, 'ip', 'link', 'set', 'lo', 'up']);
  const port = await freeHostPort();
  const server = "require('http').createServer((q, r) => r.end('in the named namespace')).listen(8080)";
  const joins = ['--network', `ns:${netns}`, '--ipc', 'pod:a', '--uts', 'pod:a'];
  const r = await s.cli(['run', '-d', '--name', 'b', ...joins, '-p', `127.0.0.1:${port}:8080`, '--', process.execPath, '-e', server]);
  t.equal(r.code, 0, r.stderr);
  const a = s.store.read('a')!.infra!.process.pid;
  const b = s.store.read('b')!.containers[0].process!.pid;
  t.equal(nsInode(b, 'net'), statSync(netns).ino, "b's container is in the named network namespace");
  t.same([nsInode(b, 'ipc'), nsInode(b, 'uts')], [nsInode(a, 'ipc'), nsInode(a, 'uts')], "and in pod a's IPC and UTS namespaces");
  t.equal((await s.cli(['exec', 'b', 'b', '--', 'hostname'])).stdout, 'alpha\n', "so a's hostname");
  const body = await waitFor('the published port', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
    return res?.ok ? res.text() : undefined;
  });
  t.equal(body, 'in the named namespace', 'a published port reaches a server in the joined network namespace');
  t.not(nsInode(b, 'pid'), nsInode(a, 'pid'), 'its PID namespace is its own');
  const view = JSON.parse((await s.cli(['inspect', 'b', '--json'])).stdout) as Inspected;
  t.same([view.infra.sharing.net, view.infra.sharing.ipc, view.infra.sharing.pid], [`ns:${netns}`, 'pod:a', 'own']);
});

t.test('joining what is not there, or what contradicts the pod, is refused naming the option; nothing created', async (t) => {
  const s = testState(t);
  const cases: [string[], RegExp][] = [
    [['--network', 'ns:/run/netns/tspod-none'], /--network: ns:\/run\/netns\/tspod-none: ENOENT/],
    [['--ipc', 'pod:nosuch'], /--ipc: pod:nosuch: no such running pod/],
    [['--uts', 'ns:/etc/passwd'], /--uts: ns:\/etc\/passwd: not a namespace file/],
    [['--network', 'ns:netns/x'], /--network: "ns:netns\/x": ns: takes an absolute path/],
    [['--uts', 'host'], /--uts: host: tspod has no host UTS mode/],
    [['--ipc', 'ns:/proc/1/ns/ipc', '--sysctl', 'kernel.shm_rmid_forced=1'], /would change the ipc namespace the pod joins/],
    [
      ['--network', 'ns:/proc/1/ns/net', '--share', 'ipc,uts,pid'],
      /--network ns:\/proc\/1\/ns\/net: joins a net namespace for the pod: its containers must share it/,
    ],
  ];
  for (const [args, error] of cases) {
    const r = await s.cli(['run', '-d', '--name', 'x', ...args, '--', 'true']);
    t.equal(r.code, 125, args.join(' '));
    t.match(r.stderr, error);
  }
  await waitFor('no pod', () => s.store.names().length === 0 || undefined);
  t.same(s.store.names(), []);
});
