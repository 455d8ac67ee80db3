// The kubelet's container lifecycle on real processes, through the CLI and the monitor: init
// containers and sidecars, probes of each kind (exec in the container, httpGet, tcpSocket and
// grpc from inside the pod's network namespace, which has only lo), lifecycle hooks, events.
// Assertions are on restart counts, readiness and events, never on how long something took.
import t, { type Test } from 'tap';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join, resolve } from 'node:path';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { tempDir } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/proc.js';
import { testState, type TestState } from '../helpers/state.js';
import { NO_BUSYBOX, busyboxRoot, haveBusybox } from '../helpers/busybox.js';
import type { ContainerRecord, PodRecord } from '../../src/state/records.js';
import { readEvents, type PodEvent } from '../../src/state/events.js';

const skip = !isRoot ? NOT_ROOT : !haveBusybox ? NO_BUSYBOX : undefined;
if (skip) t.plan(0, skip);

const NODE = process.execPath;
const GRPC_SERVER = resolve(__dirname, '../helpers/grpc-health-server.js');

/**
 * An HTTP server on 127.0.0.1:PORT that answers 200, and stops answering (keeps running) once
 * FILE exists. It ends on SIGTERM: it is PID 1 of its own PID namespace, which ignores what it
 * does not handle.
 */
const hangingServer = (port: number, file: string) =>
  `process.on('SIGTERM', () => process.exit(0));` +
  `require('http').createServer((q, s) => { if (!require('fs').existsSync(${JSON.stringify(file)})) s.end('ok'); })` +
  `.listen(${port}, '127.0.0.1')`;

function manifest(dir: string, name: string, spec: unknown): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec }));
  return file;
}

async function runPod(t: Test, s: TestState, name: string, spec: unknown): Promise<void> {
  const r = await s.cli(['run', '-d', '-f', manifest(tempDir(t, 'm'), name, spec)]);
  t.equal(r.code, 0, `run: ${r.stderr}`);
}

const record = (s: TestState, pod: string): PodRecord => s.store.read(pod)!;
const container = (s: TestState, pod: string, name: string): ContainerRecord => record(s, pod).containers.find((c) => c.name === name)!;
const events = (s: TestState, pod: string) => readEvents(s.store.paths.eventsFile(pod));
/** How many times events matching `f` happened (repeats are kept as one, counted). */
const times = (s: TestState, pod: string, f: (e: PodEvent) => boolean) =>
  events(s, pod)
    .filter(f)
    .reduce((n, e) => n + (e.count ?? 1), 0);

/** A probe checked every second, failing after `failures` tries. */
const every1s = (handler: object, failures = 1) => ({ ...handler, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: failures });

t.test('an init container writes into an emptyDir what the app container reads at its start', async (t) => {
  const s = testState(t);
  const root = busyboxRoot(tempDir(t, 'rootfs'));
  const mount = [{ name: 'conf', mountPath: '/conf' }];
  await runPod(t, s, 'init', {
    volumes: [{ name: 'conf', emptyDir: {} }],
    initContainers: [{ name: 'setup', rootfs: root, command: ['/bin/sh', '-c', 'echo from-init > /conf/app.conf'], volumeMounts: mount }],
    containers: [{ name: 'app', rootfs: root, command: ['/bin/sh', '-c', 'cat /conf/app.conf; exec sleep 1000'], volumeMounts: mount }],
  });
  const log = await waitFor('the app output', async () => {
    const out = (await s.cli(['logs', 'init', 'app'])).stdout;
    return out.includes('from-init') && out;
  });
  t.match(log, /^from-init$/m);
  t.match(container(s, 'init', 'setup'), { kind: 'init', state: 'exited', lastExit: { code: 0 } });
  const ls = await s.cli(['pod', 'ls', '--json']);
  t.match(JSON.parse(ls.stdout), [{ name: 'init', status: 'Running', ready: '1/1' }], 'pod ls: Running, 1/1 ready');
  t.same(
    events(s, 'init')
      .filter((e) => e.reason === 'Started')
      .map((e) => e.container),
    ['setup', 'app'],
    'the events say which started, in order',
  );
});

t.test('a failing init container blocks the app and is retried with back-off', async (t) => {
  const s = testState(t, { TSPOD_BACKOFF_MS: '100' });
  await runPod(t, s, 'blocked', {
    initContainers: [{ name: 'wait-db', command: ['/bin/sh', '-c', 'exit 3'] }],
    containers: [{ name: 'app', command: ['sleep', '1000'] }],
  });
  await waitFor('two restarts', () => container(s, 'blocked', 'wait-db').restartCount >= 2);
  t.match(container(s, 'blocked', 'app'), { state: 'waiting', held: true }, 'the app has not started');
  t.notOk(container(s, 'blocked', 'app').startedAt, 'and never did');
  t.ok(
    events(s, 'blocked').some((e) => e.reason === 'BackOff' && e.container === 'wait-db'),
    'a BackOff event',
  );
  const ps = await s.cli(['ps', '--json']);
  t.match(
    JSON.parse(ps.stdout).find((r: { container: string }) => r.container === 'app'),
    { state: 'waiting', info: 'PodInitializing' },
  );
});

t.test('with restartPolicy Never a failing init container fails the pod, naming it', async (t) => {
  const s = testState(t);
  await runPod(t, s, 'never', {
    restartPolicy: 'Never',
    initContainers: [{ name: 'migrate', command: ['/bin/sh', '-c', 'exit 7'] }],
    containers: [{ name: 'app', command: ['sleep', '1000'] }],
  });
  await waitFor('the pod to fail', () => record(s, 'never').state === 'failed');
  t.equal(record(s, 'never').reason, 'init container migrate exited with status 7');
  t.notOk(container(s, 'never', 'app').startedAt, 'the app never started');
  const ls = await s.cli(['pod', 'ls', '--json']);
  t.match(JSON.parse(ls.stdout), [{ name: 'never', status: 'Init:Error' }]);
});

t.test('a sidecar starts before the app, is restarted when it crashes, and does not keep a finished job', async (t) => {
  const s = testState(t, { TSPOD_BACKOFF_MS: '100' });
  const root = busyboxRoot(tempDir(t, 'rootfs'));
  const mount = [{ name: 'shared', mountPath: '/shared' }];
  await runPod(t, s, 'job', {
    restartPolicy: 'Never',
    volumes: [{ name: 'shared', emptyDir: {} }],
    initContainers: [
      // Each run leaves a line; the first crashes, the second stays.
      {
        name: 'proxy',
        rootfs: root,
        restartPolicy: 'Always',
        volumeMounts: mount,
        command: ['/bin/sh', '-c', 'echo run >> /shared/proxy; [ $(wc -l < /shared/proxy) -ge 2 ] && exec sleep 1000; exit 1'],
      },
    ],
    containers: [
      {
        name: 'job',
        rootfs: root,
        volumeMounts: mount,
        // It sees the sidecar already there, then waits for its second run, and finishes.
        command: [
          '/bin/sh',
          '-c',
          'cat /shared/proxy > /shared/seen-at-start; until [ $(wc -l < /shared/proxy) -ge 2 ]; do sleep 0.05; done',
        ],
      },
    ],
  });
  await waitFor('the pod to complete', () => record(s, 'job').state === 'completed', 20_000);
  t.equal(container(s, 'job', 'proxy').restartCount, 1, 'the sidecar was restarted once');
  t.match(container(s, 'job', 'job'), { state: 'exited', lastExit: { code: 0 } });
  t.match(container(s, 'job', 'proxy'), { kind: 'sidecar', state: 'exited' }, 'the sidecar was stopped at the end');
  const order = events(s, 'job')
    .filter((e) => e.reason === 'Started')
    .map((e) => e.container);
  t.equal(order[0], 'proxy', 'the sidecar started first');
  t.ok(order.includes('job'));
});

t.test('a server that stops answering is restarted by its liveness probe', async (t) => {
  const s = testState(t, { TSPOD_BACKOFF_MS: '100' });
  const hang = join(tempDir(t, 'flag'), 'hang');
  await runPod(t, s, 'live', {
    terminationGracePeriodSeconds: 2,
    containers: [
      {
        name: 'web',
        command: [NODE, '-e', hangingServer(8080, hang)],
        ports: [{ name: 'http', containerPort: 8080 }],
        livenessProbe: { httpGet: { port: 'http', path: '/healthz' }, ...every1s({}, 2), initialDelaySeconds: 1 },
      },
    ],
  });
  await waitFor('the server to run', () => container(s, 'live', 'web').state === 'running');
  writeFileSync(hang, '');
  await waitFor('a restart', () => container(s, 'live', 'web').restartCount >= 1, 20_000);
  const ev = events(s, 'live');
  t.ok(
    ev.some((e) => e.reason === 'Unhealthy' && /^Liveness probe failed/.test(e.message)),
    'Unhealthy events',
  );
  t.ok(
    ev.some((e) => e.reason === 'Killing' && /failed liveness probe, will be restarted/.test(e.message)),
    'a Killing event',
  );
  rmSync(hang);
});

t.test('a startup probe that has not succeeded keeps the liveness probe from firing', async (t) => {
  const s = testState(t, { TSPOD_BACKOFF_MS: '100' });
  const dir = tempDir(t, 'flag');
  const booted = join(dir, 'booted');
  await runPod(t, s, 'slow', {
    terminationGracePeriodSeconds: 2,
    containers: [
      {
        name: 'app',
        command: ['sleep', '1000'],
        startupProbe: every1s({ exec: { command: ['test', '-e', booted] } }, 60),
        // Always fails: it may fire only once the startup probe succeeded.
        livenessProbe: every1s({ exec: { command: ['false'] } }, 1),
      },
    ],
  });
  await waitFor('three startup probe failures', () => times(s, 'slow', (e) => /^Startup probe failed/.test(e.message)) >= 3);
  t.notOk(
    events(s, 'slow').some((e) => /^Liveness/.test(e.message)),
    'no liveness probe ran',
  );
  t.equal(container(s, 'slow', 'app').restartCount, 0);
  t.equal(container(s, 'slow', 'app').ready, false, 'not ready before it started');
  writeFileSync(booted, '');
  await waitFor('the liveness restart', () => container(s, 'slow', 'app').restartCount >= 1, 20_000);
  t.ok(events(s, 'slow').some((e) => /^Liveness probe failed/.test(e.message)));
});

t.test('readiness flips ready both ways, in the record, ps and pod ls', async (t) => {
  const s = testState(t);
  const flag = join(tempDir(t, 'flag'), 'ready');
  await runPod(t, s, 'ready', {
    containers: [
      { name: 'app', command: ['sleep', '1000'], readinessProbe: every1s({ exec: { command: ['test', '-e', flag] } }) },
      { name: 'other', command: ['sleep', '1000'] },
    ],
  });
  await waitFor('other to be ready', () => container(s, 'ready', 'other').ready);
  t.equal(container(s, 'ready', 'app').ready, false);
  let ls = JSON.parse((await s.cli(['pod', 'ls', '--json'])).stdout);
  t.equal(ls[0].ready, '1/2');
  writeFileSync(flag, '');
  await waitFor('app to be ready', () => container(s, 'ready', 'app').ready);
  ls = JSON.parse((await s.cli(['pod', 'ls', '--json'])).stdout);
  t.equal(ls[0].ready, '2/2');
  const ps = JSON.parse((await s.cli(['ps', '--json'])).stdout);
  t.match(ps, [
    { container: '(infra)', ready: '2/2' },
    { container: 'app', ready: true },
    { container: 'other', ready: true },
  ]);
  rmSync(flag);
  await waitFor('app to be unready', () => container(s, 'ready', 'app').ready === false);
  t.equal(container(s, 'ready', 'app').restartCount, 0, 'readiness never restarts');
});

t.test('tcpSocket (IPv4 and IPv6) and grpc probes connect inside the pod, which has only lo', async (t) => {
  const s = testState(t);
  const status = join(tempDir(t, 'grpc'), 'status');
  writeFileSync(status, 'NOT_SERVING\n');
  await runPod(t, s, 'net', {
    containers: [
      {
        name: 'tcp',
        command: [NODE, '-e', "require('net').createServer(c => c.end()).listen(7000, '127.0.0.1')"],
        readinessProbe: every1s({ tcpSocket: { port: 7000 } }),
      },
      { name: 'grpc', command: [NODE, GRPC_SERVER, '9000', status], readinessProbe: every1s({ grpc: { port: 9000 } }) },
      { name: 'closed', command: ['sleep', '1000'], readinessProbe: every1s({ tcpSocket: { port: 7001 } }) },
      {
        name: 'ipv6',
        command: [NODE, '-e', "require('net').createServer(c => c.end()).listen(7002, '::1')"],
        readinessProbe: every1s({ tcpSocket: { host: '::1', port: 7002 } }),
      },
    ],
  });
  await waitFor('tcp to be ready', () => container(s, 'net', 'tcp').ready);
  await waitFor('ipv6 to be ready', () => container(s, 'net', 'ipv6').ready);
  await waitFor('a NOT_SERVING answer', () =>
    events(s, 'net').some((e) => e.container === 'grpc' && /^Readiness probe failed/.test(e.message) && /NOT_SERVING/.test(e.message)),
  );
  t.equal(container(s, 'net', 'grpc').ready, false, 'NOT_SERVING: not ready');
  writeFileSync(status, 'SERVING\n');
  await waitFor('grpc to be ready', () => container(s, 'net', 'grpc').ready);
  t.equal(container(s, 'net', 'closed').ready, false, 'nothing listens on 7001: not ready');
  t.ok(
    events(s, 'net').some((e) => e.container === 'closed' && /ECONNREFUSED|refused/.test(e.message)),
    'the refusal is the event',
  );
});

t.test('preStop runs before SIGTERM; one longer than the grace period is cut at it', async (t) => {
  const s = testState(t);
  const dir = tempDir(t, 'order');
  const order = join(dir, 'order');
  const trap = `trap 'echo TERM >> ${order}; exit 0' TERM; while :; do sleep 0.1; done`;
  await runPod(t, s, 'hooks', {
    terminationGracePeriodSeconds: 2,
    containers: [
      {
        name: 'drain',
        command: ['/bin/sh', '-c', trap],
        lifecycle: { preStop: { exec: { command: ['/bin/sh', '-c', `echo PRESTOP >> ${order}`] } } },
      },
      { name: 'slow', command: ['sleep', '1000'], lifecycle: { preStop: { exec: { command: ['sleep', '30'] } } } },
    ],
  });
  await waitFor('both to run', () => record(s, 'hooks').containers.every((c) => c.state === 'running'));
  t.equal((await s.cli(['stop', 'hooks', 'drain'])).code, 0);
  t.equal(readFileSync(order, 'utf8'), 'PRESTOP\nTERM\n', 'the hook ran, then SIGTERM came (written by the container)');
  t.equal((await s.cli(['stop', 'hooks', 'slow'])).code, 0);
  t.ok(
    events(s, 'hooks').some((e) => e.reason === 'FailedPreStopHook' && e.container === 'slow' && /timed out after 2 s/.test(e.message)),
    'the hook was cut at the grace period',
  );
  t.match(container(s, 'hooks', 'slow'), { state: 'exited' }, 'and the container stopped');
});

t.test('in the foreground: init containers run first, and one that fails under Never is the exit status', async (t) => {
  const s = testState(t);
  const dir = tempDir(t, 'm');
  const ok = await s.cli([
    'run',
    '-f',
    manifest(dir, 'fg-ok', {
      restartPolicy: 'Never',
      initContainers: [{ name: 'first', command: ['echo', 'init ran'] }],
      containers: [{ name: 'main', command: ['echo', 'main ran'] }],
    }),
  ]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /first \| init ran\n[^]*main +\| main ran/, 'the init container first, its output prefixed');
  const failed = await s.cli([
    'run',
    '-f',
    manifest(dir, 'fg-fail', {
      restartPolicy: 'Never',
      initContainers: [{ name: 'check', command: ['/bin/sh', '-c', 'exit 5'] }],
      containers: [{ name: 'main', command: ['echo', 'main ran'] }],
    }),
  ]);
  t.equal(failed.code, 5, "the init container's status");
  t.match(failed.stderr, 'tspod: pod fg-fail failed: init container check exited with status 5');
  t.notMatch(failed.stdout, /main ran/, 'the container never ran');
});

t.test('a bad probe or hook is one line naming the field, and nothing is created', async (t) => {
  const s = testState(t);
  const dir = tempDir(t, 'm');
  const cases: [object, string][] = [
    [{ livenessProbe: { periodSeconds: 5 } }, 'spec.containers[0].livenessProbe: needs a handler: one of exec, httpGet, tcpSocket, grpc'],
    [{ readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 0 } }, 'spec.containers[0].readinessProbe.periodSeconds:'],
    [
      { livenessProbe: { httpGet: { port: 'web' } } },
      'spec.containers[0].livenessProbe.httpGet.port: no port of the container is named "web"',
    ],
    [{ lifecycle: { preStop: {} } }, 'spec.containers[0].lifecycle.preStop: needs a handler'],
  ];
  for (const [extra, error] of cases) {
    const file = manifest(dir, 'bad', { containers: [{ name: 'app', command: ['sleep', '1'], ...extra }] });
    for (const args of [
      ['run', '-f', file],
      ['run', '-d', '-f', file],
    ]) {
      const r = await s.cli(args);
      t.equal(r.code, 125, `${args.join(' ')}: ${error}`);
      t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
      t.match(r.stderr, error);
      t.same(s.store.names(), [], 'no pod was made');
    }
  }
});

t.test('examples/lifecycle/pod.yaml: Init, then Running with 2/2 ready, served through its sidecar', async (t) => {
  const s = testState(t);
  const r = await s.cli(['run', '-d', '-f', 'examples/lifecycle/pod.yaml']);
  t.equal(r.code, 0, r.stderr);
  const pod = 'blog-lifecycle';
  await waitFor('2/2 ready', async () => JSON.parse((await s.cli(['pod', 'ls', '--json'])).stdout)[0]?.ready === '2/2', 20_000);
  t.match(JSON.parse((await s.cli(['pod', 'ls', '--json'])).stdout), [{ name: pod, status: 'Running' }]);
  t.same(
    events(s, pod)
      .filter((e) => e.reason === 'Started')
      .map((e) => e.container),
    ['check', 'nginx', 'ghost'],
    'the init container, the sidecar, then the blog',
  );
  const page = await new Promise<string>((resolve) => {
    get({ host: '127.0.0.1', port: 8881, path: '/' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    }).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
  t.match(page, /^200 .*Ghost \(tspod stand-in\)/s, "the blog's page, through the sidecar proxy on the published port");
});
