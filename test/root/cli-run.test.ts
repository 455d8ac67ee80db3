// tspod run end to end: output, exit statuses, and that a stopped or killed tspod leaves no
// process of its pod behind.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { tempDir } from '../helpers/cleanup.js';
import { alive, childrenOf, waitFor, type ProcInfo } from '../helpers/proc.js';
import { cliPath, type CliRun } from '../helpers/cli.js';
import { testState } from '../helpers/state.js';

if (!isRoot) t.plan(0, NOT_ROOT);

/** GET http://127.0.0.1:PORT/ from the host: "STATUS BODY", or the error code. */
function hostGet(port: number): Promise<string> {
  return new Promise((resolve) => {
    get({ host: '127.0.0.1', port, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    }).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

/** Waits until tspod has its infra and `containers` container processes, and returns them. */
async function podProcesses(run: CliRun, containers: number): Promise<ProcInfo[]> {
  return waitFor('the pod to start', () => {
    const kids = childrenOf(run.child.pid!);
    return kids.length === containers + 1 && kids.every((k) => k.comm !== 'node' || containers === 0) ? kids : undefined;
  });
}

async function noneAlive(t: Test, procs: ProcInfo[], what: string) {
  const left = await waitFor(what, () => (procs.some(alive) ? undefined : []), 5000).catch(() => procs.filter(alive));
  t.same(left, [], what);
}

t.test("a command: output prefixed with its name, its exit status is tspod's", async (t) => {
  const r = await testState(t).cli(['run', '--name', 'out1', '--', 'sh', '-c', 'echo hi; echo oops >&2; printf partial; exit 3']);
  t.equal(r.code, 3);
  t.equal(r.stdout, 'out1  | hi\nout1  | partial\n');
  t.match(r.stderr, 'out1  | oops\n');
  t.match(r.stderr, 'tspod: container out1 exited with status 3');
  const killed = await testState(t).cli(['run', '--', 'sh', '-c', 'kill -KILL $$']);
  t.equal(killed.code, 137, 'a container killed by SIGKILL: 128+9');
});

t.test('the environment is clean, and -e and --hostname apply', async (t) => {
  const s = testState(t, { SECRET_OF_TSPOD: 'leak' });
  const r = await s.cli(['run', '--name', 'envpod', '--hostname', 'h-x', '-e', 'GREETING=hi $(HOME)', '--', 'env']);
  t.equal(r.code, 0);
  const env = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^envpod +\| /, ''))
    .sort();
  t.same(env, ['GREETING=hi $(HOME)', 'HOME=/root', 'HOSTNAME=h-x', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
});

for (const [signal, code] of [
  ['SIGTERM', 143],
  ['SIGINT', 130],
] as const) {
  t.test(`${signal} stops the pod: containers, then the infra; tspod exits ${code}`, async (t) => {
    // The container sees its pod's PID 1 (pause) when its SIGTERM comes: whether it is still
    // there then says which was stopped first.
    const seen = join(tempDir(t, 'order'), 'seen');
    const script =
      `trap 'if kill -0 1 2>/dev/null; then echo infra-alive > ${seen}; else echo infra-gone > ${seen}; fi; exit 0' TERM; ` +
      'echo ready; while :; do sleep 0.05; done';
    const run = testState(t).start(['run', '--name', `stop-${code}`, '--', 'sh', '-c', script]);
    const procs = await podProcesses(run, 1);
    t.same(procs.map((p) => p.comm).sort(), ['pause', 'sh']);
    await waitFor('the container to be ready', () => run.stdout().includes('ready'));
    run.child.kill(signal);
    t.equal(await run.done, code);
    t.equal(readFileSync(seen, 'utf8'), 'infra-alive\n', 'the container was stopped while the infra still ran');
    await noneAlive(t, procs, 'and then the infra: no process of the pod is left');
    t.match(run.stderr(), `tspod: ${signal}: stopping pod stop-${code}`);
  });
}

t.test('a container that ignores SIGTERM is killed after the grace period', async (t) => {
  const run = testState(t).start([
    'run',
    '--name',
    'stubborn',
    '--grace',
    '1',
    '--',
    'sh',
    '-c',
    'trap "" TERM; while :; do sleep 0.1; done',
  ]);
  const procs = await podProcesses(run, 1);
  run.child.kill('SIGTERM');
  t.equal(await run.done, 143);
  t.match(run.stderr(), 'container stubborn killed by SIGKILL');
  await noneAlive(t, procs, 'nothing is left');
});

t.test('a second Ctrl-C kills at once: SIGKILL to the container inside its grace period', async (t) => {
  // The grace period (10 minutes) outlasts the test's timeout: only the second Ctrl-C can end
  // this run in time.
  const run = testState(t).start([
    'run',
    '--name',
    'twice',
    '--grace',
    '600',
    '--',
    'sh',
    '-c',
    'trap "echo got-term" TERM; echo ready; while :; do sleep 0.05; done',
  ]);
  const procs = await podProcesses(run, 1);
  await waitFor('the container to be ready', () => run.stdout().includes('ready'));
  run.child.kill('SIGINT');
  await waitFor('the first Ctrl-C to reach the container as SIGTERM', () => run.stdout().includes('got-term'));
  run.child.kill('SIGINT');
  t.equal(await run.done, 130, 'tspod exits 130, as for Ctrl-C');
  t.match(run.stderr(), 'container twice killed by SIGKILL', 'the container was killed, not stopped');
  await noneAlive(t, procs, 'nothing is left');
});

for (const share of ['net,ipc,uts,pid', 'net,ipc,uts']) {
  t.test(`SIGKILL of tspod itself leaves no process of the pod (--share ${share})`, async (t) => {
    const s = testState(t);
    const name = `killed-${share.length}`;
    const run = s.start(['run', '--name', name, '--share', share, '--', 'sh', '-c', 'trap "" TERM; sleep 1000 & wait']);
    const procs = await podProcesses(run, 1);
    run.child.kill('SIGKILL');
    t.equal(await run.done, 137);
    await noneAlive(t, procs, 'the infra and the container died with tspod');
    t.equal(s.store.read(name)?.supervisor.pid, run.child.pid, 'its record stays behind, stale');
    const again = await s.cli(['run', '--name', name, '--', 'true']);
    t.equal(again.code, 0, `the name is free again: ${again.stderr}`);
    t.equal(s.store.read(name), undefined);
  });
}

t.test('SIGKILL of tspod also ends a container that runs as another user', async (t) => {
  // Without a shared PID namespace nothing but its own parent-death signal ends the container,
  // and the kernel clears that signal when the uid changes: it must be set after.
  const run = testState(t).start(['run', '--name', 'asuser', '--share', 'net,ipc,uts', '--user', '65534', '--', 'sleep', '1000']);
  const procs = await podProcesses(run, 1);
  run.child.kill('SIGKILL');
  t.equal(await run.done, 137);
  await noneAlive(t, procs, 'the container died with tspod');
});

t.test("the seed pod: the proxy reaches the blog over the pod's 127.0.0.1", async (t) => {
  const run = testState(t).start(['run', '-f', 'examples/seed/pod.yaml', '--name', 'seed-test']);
  await waitFor('the visitor', () => /visitor \| visitor: /.test(run.stdout()), 15000);
  t.match(run.stdout(), 'visitor | visitor: http://127.0.0.1:80/ -> 200 Ghost (tspod stand-in)');
  t.match(run.stdout(), /nginx {3}\| \S+ "GET \/" 200/);
  await waitFor('the visitor to exit', () => run.stderr().includes('tspod: container visitor exited with status 0'));
  t.match(
    await hostGet(8880),
    /^200 .*<title>Ghost \(tspod stand-in\)<\/title>/s,
    "the seed's demo: http://localhost:8880/ on the host is the blog's page",
  );
  run.child.kill('SIGTERM');
  t.equal(await run.done, 143);
});

const nginx = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
t.test(
  "the seed pod with the real nginx and the seed's nginx.conf",
  { skip: nginx ? false : 'nginx is not installed (apt-get install nginx-light)' },
  async (t) => {
    const run = testState(t).start(['run', '-f', 'examples/seed/pod-nginx.yaml']);
    await waitFor('the visitor', () => /visitor \| visitor: /.test(run.stdout()), 15000);
    t.match(run.stdout(), 'visitor | visitor: http://127.0.0.1:80/ -> 200 Ghost (tspod stand-in)');
    t.match(run.stdout(), /nginx {3}\| 127\.0\.0\.1 - - \[.*\] "GET \/ HTTP\/1\.1" 200/, 'nginx logged the request to its stdout');
    t.match(await hostGet(8880), /^200 .*<title>Ghost \(tspod stand-in\)<\/title>/s, 'through the real nginx from the host');
    run.child.kill('SIGTERM');
    t.equal(await run.done, 143);
    t.match(run.stderr(), 'tspod: container nginx exited with status 0');
  },
);

t.test('exit status of a pod of several containers: the first that failed', async (t) => {
  const dir = tempDir(t, 'multi');
  writeFileSync(
    join(dir, 'pod.json'),
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'multi' },
      spec: {
        restartPolicy: 'Never',
        containers: [
          { name: 'ok', command: ['true'] },
          { name: 'bad', command: ['sh', '-c', 'sleep 0.2; exit 4'] },
          { name: 'worse', command: ['sh', '-c', 'exit 5'] },
        ],
      },
    }),
  );
  const r = await testState(t).cli(['run', '-f', join(dir, 'pod.json')]);
  t.equal(r.code, 4, 'bad comes before worse in the manifest');
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
