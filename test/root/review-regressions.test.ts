// Regressions found in review: names that could reach another route, a pipe closed under a
// foreground run, usage errors, the permissions of a state directory tspod creates, and the
// container-level commands through the CLI and the monitor.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { alive, nsInode, waitFor } from '../helpers/proc.js';
import { cliPath } from '../helpers/cli.js';
import { tearDownState, testState } from '../helpers/state.js';

if (!isRoot) t.plan(0, NOT_ROOT);

t.test("a container name cannot reach another pod through the API's paths", async (t) => {
  const s = testState(t);
  await s.cli(['pod', 'create', 'q']);
  await s.cli(['pod', 'create', 'a']);
  const infraQ = s.store.read('q')!.infra!.process;
  for (const bad of ['../../q', 'c?force=true', 'x/../../q']) {
    const r = await s.cli(['rm', '-f', 'a', bad]);
    t.equal(r.code, 125, `rm a ${bad}: refused`);
    t.match(r.stderr, /^tspod: container: ".*" is not a DNS-1123 label/);
  }
  t.equal(s.store.read('q')?.state, 'running', 'pod q is untouched');
  t.ok(alive(infraQ), 'and so is its infra');
});

t.test('tspod run | head: the pod ends when tspod is told, and tspod does not crash', async (t) => {
  const s = testState(t);
  const r = spawnSync(
    '/bin/bash',
    [
      '-c',
      `env -u NODE_OPTIONS ${process.execPath} ${cliPath} run --name piped -- ` +
        `sh -c 'for i in $(seq 1000); do echo line $i; done' | head -1; ` +
        'echo "status=${PIPESTATUS[0]}" >&2',
    ],
    {
      env: s.env,
      encoding: 'utf8',
    },
  );
  t.equal(r.stdout, 'piped | line 1\n');
  t.notMatch(r.stderr, /Error|at /, 'no stack trace');
  t.match(r.stderr, /status=0/, "the container's status");
  t.equal(s.store.read('piped'), undefined, 'and nothing left in the state');
});

t.test('usage errors are one line with status 125', async (t) => {
  const s = testState(t);
  for (const args of [['--bogus'], ['nosuch'], ['run', '--nope'], ['logs', 'only-one']]) {
    const r = await s.cli(args);
    t.equal(r.code, 125, `${args.join(' ')}: 125`);
    t.match(r.stderr, /^tspod: [^\n]+\(tspod --help for usage\)\n$/, `${args.join(' ')}: one line`);
  }
});

t.test('a state directory tspod creates is root-only, whatever the umask', async (t) => {
  const s = testState(t);
  const root = `${s.root}/fresh`;
  const r = spawnSync('/bin/sh', ['-c', `umask 000; exec env -u NODE_OPTIONS ${process.execPath} ${cliPath} pod create um`], {
    env: { ...s.env, TSPOD_ROOT: root },
    encoding: 'utf8',
  });
  t.equal(r.status, 0, r.stderr);
  for (const path of [root, `${root}/pods`, `${root}/pods/um`]) t.equal(statSync(path).mode & 0o777, 0o700, `${path} is 0700`);
  for (const path of [`${root}/monitor.sock`, `${root}/pods/um/pod.json`, `${root}/monitor.log`])
    t.equal(statSync(path).mode & 0o777, 0o600, `${path} is 0600`);
  // Its monitor is in that root: tear it down too.
  await tearDownState(root);
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

t.test('exec into a pod made by run -d and into a live foreground run', async (t) => {
  const s = testState(t);
  await s.cli(['run', '-d', '--name', 'det', '--', 'sleep', '1000']);
  const e1 = await s.cli(['exec', 'det', 'det', '--', 'cat', '/proc/1/comm']);
  t.equal(e1.stdout, 'pause\n', 'PID 1 seen from an exec is pause');
  const fg = s.start(['run', '--name', 'fgx', '--', 'sleep', '1000']);
  await waitFor('the foreground pod', () => s.store.read('fgx')?.containers[0]?.state === 'running');
  const e2 = await s.cli(['exec', 'fgx', 'fgx', '--', 'sh', '-c', 'hostname; exit 3']);
  t.equal(e2.stdout, 'fgx\n');
  t.equal(e2.code, 3, "its status is tspod's");
  fg.child.kill('SIGTERM');
  await fg.done;
});

t.test('rm -f racing a monitor that starts: consistent either way', async (t) => {
  const s = testState(t);
  await s.cli(['pod', 'create', 'race']);
  await s.cli(['run', '-d', '--pod', 'race', '--name', 'c', '--', 'sleep', '1000']);
  const rec = s.store.read('race')!;
  const procs = [rec.infra!.process, rec.containers[0].process!];
  await s.killMonitor();
  const [ps, rm] = await Promise.all([s.cli(['ps']), s.cli(['rm', '-f', 'race'])]);
  t.equal(ps.code, 0);
  t.equal(rm.code, 0, rm.stderr);
  await waitFor('the pod to be gone', () => procs.every((p) => !alive(p)) || undefined, 10000);
  t.equal(s.store.read('race'), undefined, 'its state is gone');
});
