// Detached pods and the monitor, through the CLI: the seed's three steps, ps and pod ls,
// restart of one container, stop and rm, and foreground pods seen by the other commands.
import t from 'tap';
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/cli.js';
import { fetchInPod } from '../helpers/net.js';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { tempDir } from '../helpers/cleanup.js';
import { alive, nsInode, waitFor } from '../helpers/proc.js';
import { testState, type TestState } from '../helpers/state.js';
import type { PodRecord } from '../../src/state/records.js';
import type { PsRow } from '../../src/cli/ps.js';

if (!isRoot) t.plan(0, NOT_ROOT);

const record = (s: TestState, pod: string) => s.store.read(pod) as PodRecord;
const pidOf = (s: TestState, pod: string, ctr: string) => record(s, pod).containers.find((c) => c.name === ctr)!.process!.pid;

/** What a container sees as PID 1: /proc/PID/root leads into its own mount namespace. */
const pid1Of = (pid: number) => readFileSync(`/proc/${pid}/root/proc/1/comm`, 'utf8').trim();

t.test("the seed's flow: pod create, then two containers joined with run -d --pod", async (t) => {
  const s = testState(t);
  const created = await s.cli(['pod', 'create', 'seed']);
  t.equal(created.code, 0, created.stderr);
  t.equal(created.stdout, 'seed\n');
  for (const [name, script] of [
    ['ghost', 'ghost.js'],
    ['nginx', 'proxy.js'],
  ]) {
    const r = await s.cli(['run', '-d', '--pod', 'seed', '--name', name, '--', 'node', `examples/seed/${script}`]);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, `${name}\n`);
  }
  const rec = record(s, 'seed');
  const infra = rec.infra!.process.pid;
  for (const name of ['ghost', 'nginx']) {
    const pid = pidOf(s, 'seed', name);
    t.equal(nsInode(pid, 'net'), nsInode(infra, 'net'), `${name} is in the pod's network`);
    t.equal(pid1Of(pid), 'pause', `${name} sees pause as PID 1`);
  }
  const page = await waitFor('the proxy to reach the blog', () => {
    const out = fetchInPod(infra, 80);
    return out.startsWith('200') ? out : undefined;
  });
  t.equal(page, '200 Ghost (tspod stand-in)', 'port 80 of the pod proxies to 127.0.0.1:2368');

  const ps = await s.cli(['ps', '--json']);
  const rows = JSON.parse(ps.stdout) as PsRow[];
  t.same(
    rows.map((r) => [r.pod, r.container, r.infra, r.state]),
    [
      ['seed', '(infra)', true, 'running'],
      ['seed', 'ghost', false, 'running'],
      ['seed', 'nginx', false, 'running'],
    ],
  );
  t.equal(rows[0].pid, infra);
  const table = (await s.cli(['ps'])).stdout.split('\n');
  t.match(table[0], /^POD +CONTAINER +PID +STATE +READY +EXIT +RESTARTS +AGE +INFO$/);
  t.match(table[1], new RegExp(`^seed +\\(infra\\) +${infra} +running `));
  const ls = JSON.parse((await s.cli(['pod', 'ls', '--json'])).stdout);
  t.match(ls, [
    {
      name: 'seed',
      state: 'running',
      infraPid: infra,
      containers: 2,
      running: 2,
      share: ['net', 'ipc', 'uts', 'pid'],
      supervisor: 'monitor',
    },
  ]);
});

t.test('restart of one container: new pid, same infra and network, the other one still serving', async (t) => {
  const s = testState(t);
  t.equal((await s.cli(['pod', 'create', 'rp'])).code, 0);
  await s.cli(['run', '-d', '--pod', 'rp', '--name', 'ghost', '--', 'node', 'examples/seed/ghost.js']);
  await s.cli(['run', '-d', '--pod', 'rp', '--name', 'nginx', '--', 'node', 'examples/seed/proxy.js']);
  const before = record(s, 'rp');
  const infra = before.infra!.process.pid;
  const netBefore = nsInode(infra, 'net');
  const ghostBefore = pidOf(s, 'rp', 'ghost');
  const nginxBefore = pidOf(s, 'rp', 'nginx');
  await waitFor('serving', () => fetchInPod(infra, 80).startsWith('200'));

  const r = await s.cli(['restart', 'rp', 'nginx', '--grace', '2']);
  t.equal(r.code, 0, r.stderr);
  const after = record(s, 'rp');
  t.not(pidOf(s, 'rp', 'nginx'), nginxBefore, 'a new container process');
  t.equal(after.infra!.process.pid, infra, 'the same infra process');
  t.equal(nsInode(infra, 'net'), netBefore, 'the same network namespace');
  t.equal(nsInode(pidOf(s, 'rp', 'nginx'), 'net'), netBefore, 'which the new process joined');
  t.equal(pidOf(s, 'rp', 'ghost'), ghostBefore, 'the other container untouched');
  t.equal(after.containers.find((c) => c.name === 'nginx')!.restartCount, 1);
  const proxied = await waitFor('serving again', () => {
    const page = fetchInPod(infra, 80);
    return page.startsWith('200') && page;
  });
  t.equal(proxied, '200 Ghost (tspod stand-in)');
});

t.test('run -d of a manifest; stop and rm', async (t) => {
  const s = testState(t);
  const r = await s.cli(['run', '-d', '-f', 'examples/seed/pod.yaml', '--name', 'blog']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'blog\n');
  const rec = record(s, 'blog');
  t.same(
    rec.containers.map((c) => c.state),
    ['running', 'running', 'running'],
    'every container was started before run -d returned',
  );
  const infra = rec.infra!.process;

  t.match((await s.cli(['rm', 'blog'])).stderr, /pod "blog" is running: stop it first, or use rm -f/);
  const stopped = await s.cli(['stop', 'blog', '--grace', '2']);
  t.equal(stopped.code, 0, stopped.stderr);
  const after = record(s, 'blog');
  t.equal(after.state, 'stopped');
  t.ok(after.containers.every((c) => c.state === 'exited'));
  t.throws(() => readFileSync(`/proc/${infra.pid}/stat`), 'the infra is gone');
  t.match((await s.cli(['ps'])).stdout.trim().split('\n'), [/^POD/], 'ps hides an ended pod');
  t.match((await s.cli(['ps', '-a'])).stdout, /blog +ghost +- +exited/);
  t.equal((await s.cli(['rm', 'blog'])).code, 0);
  t.equal(s.store.read('blog'), undefined, 'its state is gone');
});

t.test('run -d -f: as written in one request, or with the options applied', async (t) => {
  const s = testState(t);
  const dir = tempDir(t, 'manifest');
  const file = join(dir, 'pod.yaml');
  writeFileSync(
    file,
    'apiVersion: v1\nkind: Pod\nmetadata:\n  name: plain\nspec:\n  containers:\n    - name: c\n      command: [sleep, "1000"]\n',
  );
  const plain = await s.cli(['run', '-d', '-f', file]);
  t.equal(plain.code, 0, plain.stderr);
  t.equal(plain.stdout, 'plain\n');
  const pid = record(s, 'plain').containers[0].process!.pid;
  t.equal(readlinkSync(`/proc/${pid}/cwd`) + '/', repoRoot, "the container runs in tspod's directory");
  const named = await s.cli(['run', '-d', '-f', file, '--name', 'named', '-e', 'X=1']);
  t.equal(named.code, 0, named.stderr);
  t.equal(named.stdout, 'named\n');
  t.match(record(s, 'named').containers[0].spec.env, [{ name: 'X', value: '1' }]);
});

t.test('a foreground pod is listed, inspected and stopped like the others, and vanishes when it ends', async (t) => {
  const s = testState(t);
  const fg = s.start(['run', '--name', 'fg', '--', 'sleep', '1000']);
  const rec = await waitFor('the foreground pod in the state', () => {
    const r = s.store.read('fg');
    return r?.state === 'running' && r.containers[0]?.state === 'running' ? r : undefined;
  });
  t.equal(rec.supervisor.kind, 'foreground');
  t.equal(rec.supervisor.pid, fg.child.pid);
  t.match(JSON.parse((await s.cli(['ps', '--json'])).stdout), [
    { pod: 'fg', infra: true },
    { pod: 'fg', container: 'fg', state: 'running' },
  ]);
  t.match((await s.cli(['inspect', 'fg'])).stdout, /supervised by foreground pid/);
  const stop = await s.cli(['stop', 'fg']);
  t.equal(stop.code, 0, stop.stderr);
  t.equal(await fg.done, 143, 'its tspod ended as on SIGTERM');
  t.equal(s.store.read('fg'), undefined, 'and left nothing in the state');
  t.equal(s.monitorPid(), undefined, 'no monitor was needed');
});

t.test('with a monitor running, a foreground pod is still changed through its own tspod', async (t) => {
  const s = testState(t);
  const bg = await s.cli(['pod', 'create', 'bg']);
  t.equal(bg.code, 0, bg.stderr);
  const monitor = s.monitorPid();
  t.ok(monitor, 'a monitor runs');
  const fg = s.start(['run', '--name', 'fg', '--', 'sleep', '1000']);
  await waitFor('the foreground pod running', () => s.store.read('fg')?.containers[0]?.state === 'running');
  const restart = await s.cli(['restart', 'fg', 'fg']);
  t.equal(restart.code, 125);
  t.match(restart.stderr, /pod "fg" runs in the foreground of tspod pid \d+: restart it there/);
  const rm = await s.cli(['rm', 'fg']);
  t.match(rm.stderr, /runs in the foreground .*: stop it first, or use rm -f/);
  const missing = await s.cli(['rm', '-f', 'nosuch']);
  t.not(missing.code, 0);
  t.match(missing.stderr, /nosuch/, 'a pod that does not exist is named');
  const rmf = await s.cli(['rm', '-f', 'fg']);
  t.equal(rmf.code, 0, rmf.stderr);
  t.equal(await fg.done, 137, 'its tspod was killed (SIGKILL)');
  t.equal(s.store.read('fg'), undefined, 'its state is gone');
  t.equal(s.monitorPid(), monitor, 'the monitor is the same one');
  t.ok(s.store.read('bg'), "the monitor's pod stays");
});

t.test('stop and rm of one container, and a container replaced under the same name', async (t) => {
  const s = testState(t);
  await s.cli(['pod', 'create', 'rep']);
  await s.cli(['run', '-d', '--pod', 'rep', '--name', 'a', '--restart', 'Always', '--', 'sleep', '1000']);
  await s.cli(['run', '-d', '--pod', 'rep', '--name', 'b', '--', 'sleep', '1000']);
  const infra = s.store.read('rep')!.infra!.process;
  const net = nsInode(infra.pid, 'net');
  const a1 = s.store.read('rep')!.containers[0].process!;

  t.equal((await s.cli(['stop', 'rep', 'a', '--grace', '1'])).code, 0);
  t.notOk(alive(a1), 'a stopped');
  t.equal(s.store.read('rep')!.containers[0].state, 'exited', 'and not restarted by Always');
  t.match((await s.cli(['rm', 'rep', 'b'])).stderr, /container "b" of pod "rep" is running: stop it first, or use -f/);
  t.equal((await s.cli(['rm', 'rep', 'a'])).code, 0, 'a stopped container is removed');
  const r = await s.cli(['run', '-d', '--pod', 'rep', '--name', 'a', '--', 'sleep', '1000']);
  t.equal(r.code, 0, `a replaced: ${r.stderr}`);
  const rec = s.store.read('rep')!;
  t.same(
    rec.containers.map((c) => c.name),
    ['b', 'a'],
  );
  t.equal(rec.infra!.process.pid, infra.pid, 'the same infra');
  t.equal(nsInode(rec.containers[1].process!.pid, 'net'), net, 'in the same network');
  t.equal((await s.cli(['rm', '-f', 'rep', 'b'])).code, 0, 'rm -f of a running container');
  t.same(
    s.store.read('rep')!.containers.map((c) => c.name),
    ['a'],
  );
});

t.test("a foreground pod: logs reads its containers' output; stopping one container is refused and changes nothing", async (t) => {
  const s = testState(t);
  const fg = s.start(['run', '--name', 'fgl', '--', 'sh', '-c', 'echo hello-from-fg; exec sleep 1000']);
  await waitFor('its line in the log', async () => (await s.cli(['logs', 'fgl', 'fgl'])).stdout === 'hello-from-fg\n');
  const pid = pidOf(s, 'fgl', 'fgl');
  const stop = await s.cli(['stop', 'fgl', 'fgl']);
  t.equal(stop.code, 125);
  t.equal(stop.stderr, `tspod: pod "fgl" runs in the foreground of tspod pid ${fg.child.pid}: it stops as a whole\n`);
  t.equal(pidOf(s, 'fgl', 'fgl'), pid, 'the container still runs, the same process');
  t.equal(record(s, 'fgl').containers[0].state, 'running');
  fg.child.kill('SIGTERM');
  t.equal(await fg.done, 143);
});

t.test('tspod monitor in the foreground: it serves, says what happens on its stderr, and its pods outlive it', async (t) => {
  const s = testState(t);
  const monitor = s.start(['monitor']);
  await waitFor('it to take the state directory', () => s.monitorPid() === monitor.child.pid || undefined);
  const r = await s.cli(['run', '-d', '--name', 'served', '--', 'sleep', '1000']);
  t.equal(r.code, 0, r.stderr);
  const rec = record(s, 'served');
  t.equal(rec.supervisor.pid, monitor.child.pid, 'the pod is supervised by the foreground monitor');
  await waitFor('its report of the pod', () => monitor.stderr().includes(`pod served: created (infra pid ${rec.infra!.process.pid})`));
  monitor.child.kill('SIGTERM');
  t.equal(await monitor.done, 0, 'SIGTERM ends it with status 0');
  t.ok(alive(rec.infra!.process) && alive(rec.containers[0].process!), 'the infra and the container still run');
  const stop = await s.cli(['stop', 'served', '--grace', '1']);
  t.equal(stop.code, 0, stop.stderr);
  t.not(s.monitorPid(), monitor.child.pid, 'a new monitor took the pod over and stopped it');
  t.equal(record(s, 'served').state, 'stopped');
});

t.test('stop of a container under the monitor: SIGTERM first, SIGKILL once the grace period is over', async (t) => {
  const s = testState(t);
  t.equal((await s.cli(['pod', 'create', 'grace'])).code, 0);
  const script = 'trap "echo got-term" TERM; echo ready; while :; do sleep 0.05; done';
  const r = await s.cli(['run', '-d', '--pod', 'grace', '--name', 'c', '--', 'sh', '-c', script]);
  t.equal(r.code, 0, r.stderr);
  await waitFor('the container to be ready', async () => (await s.cli(['logs', 'grace', 'c'])).stdout === 'ready\n');
  const stop = await s.cli(['stop', 'grace', 'c', '--grace', '1']);
  t.equal(stop.code, 0, stop.stderr);
  t.equal((await s.cli(['logs', 'grace', 'c'])).stdout, 'ready\ngot-term\n', 'it got SIGTERM, and kept running');
  const c = record(s, 'grace').containers[0];
  t.equal(c.state, 'exited');
  t.equal(c.lastExit?.signal, 'SIGKILL', 'until SIGKILL ended it');
});

t.test("a manifest without restartPolicy gets Kubernetes' default, Always: a container that exits 0 is started again", async (t) => {
  const s = testState(t);
  const dir = tempDir(t, 'always');
  const file = join(dir, 'pod.yaml');
  writeFileSync(
    file,
    'apiVersion: v1\nkind: Pod\nmetadata:\n  name: again\nspec:\n  containers:\n' +
      `    - name: c\n      command: [sh, -c, 'echo ran >> ${dir}/runs']\n`,
  );
  const r = await s.cli(['run', '-d', '-f', file]);
  t.equal(r.code, 0, r.stderr);
  const c = await waitFor('a restart', () => {
    const ctr = record(s, 'again').containers[0];
    return ctr.restartCount >= 1 ? ctr : undefined;
  });
  t.equal(c.restartPolicy, 'Always');
  t.equal(c.lastExit?.code, 0, 'after exiting 0');
  t.ok(readFileSync(join(dir, 'runs'), 'utf8').split('\n').length > 2, 'it ran more than once');
});
