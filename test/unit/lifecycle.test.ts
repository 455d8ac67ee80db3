// The kubelet's container lifecycle in the pod supervisor, against a fake binding and a fake
// clock: init containers in order, sidecars, probes and their thresholds, hooks. Handlers
// (probes, hooks) are faked too: what they answer is the test's to say; handler.ts and
// probe-net.ts are tested on real processes and sockets elsewhere.
import t from 'tap';
import { constants as osConstants } from 'node:os';
import { FakeBinding, FakeClock } from '../helpers/fake-binding.js';
import type { PodIO } from '../../src/runtime/io.js';
import { Pod, type PodEvent } from '../../src/runtime/pod.js';
import { newPodSpec, type ContainerSpec, type LifecycleHandler, type PodSpec, type Probe, type ProbeHandler } from '../../src/pod/spec.js';
import type { ProbeOutcome } from '../../src/runtime/probe.js';
import type { HandlerTarget } from '../../src/runtime/handler.js';
import { startTimeOf } from '../../src/native/identity.js';

const { SIGTERM } = osConstants.signals;
const BACKOFF = { initialMs: 10_000, maxMs: 40_000, resetMs: 600_000 };
const ok = { code: 0, signal: null, coreDumped: false };
const fail = { code: 1, signal: null, coreDumped: false };
const SUPERVISOR = { kind: 'monitor' as const, pid: 1, startTime: '1' };

/** Lets promise callbacks run (handlers answer on a later turn). */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

const io: PodIO = { open: () => ({ stdio: [0, 1, 2], release: () => {} }), close: async () => {} };

/** A container `sleep NAME`: its fake processes are found by their argv[1]. */
function ctr(name: string, extra: Partial<ContainerSpec> = {}): ContainerSpec {
  return { name, command: ['sleep'], args: [name], env: [], ...extra };
}

/** A probe with exec handler COMMAND[0], checked every second. */
function probe(command: string, extra: Partial<Probe> = {}): Probe {
  return {
    exec: { command: [command] },
    initialDelaySeconds: 0,
    periodSeconds: 1,
    timeoutSeconds: 1,
    successThreshold: 1,
    failureThreshold: 3,
    ...extra,
  };
}

/**
 * Handlers answered by name (an exec handler's program): `answers.get(name)` is the next
 * outcome (default ok). Every call is recorded, with its container and time limit.
 */
function fakeHandlers() {
  const answers = new Map<string, boolean>();
  const calls: { container: string; what: string; timeoutMs: number }[] = [];
  const pending = new Map<string, () => void>();
  const run = async (target: HandlerTarget, h: ProbeHandler | LifecycleHandler, timeoutMs: number): Promise<ProbeOutcome> => {
    const what = h.exec?.command[0] ?? 'sleep';
    calls.push({ container: target.container, what, timeoutMs });
    if (what.startsWith('hang')) await new Promise<void>((r) => pending.set(what, r));
    const answer = answers.get(what) ?? true;
    return { ok: answer, message: answer ? '' : `${what} said no` };
  };
  return { answers, calls, run, release: (what: string) => pending.get(what)?.() };
}

async function start(s: Partial<PodSpec>, policy: PodSpec['restartPolicy'] = 'Always', answers: Record<string, boolean> = {}) {
  const b = new FakeBinding();
  const clock = new FakeClock();
  const h = fakeHandlers();
  for (const [k, v] of Object.entries(answers)) h.answers.set(k, v);
  const spec: PodSpec = { ...newPodSpec('p'), terminationGracePeriodSeconds: 5, restartPolicy: policy, ...s } as PodSpec;
  const pod = await Pod.start(spec, { binding: b, io, cwd: '/', backoff: BACKOFF, clock, runHandler: h.run });
  const events: PodEvent[] = [];
  pod.on('event', (e) => events.push(e));
  const all = (name: string) => b.spawned.filter((p) => p.request.argv[1] === name);
  const live = (name: string) => all(name).filter((p) => !p.exited);
  return { b, clock, h, pod, events, all, live };
}

t.test('init containers run in order, each to success, before the containers start', async (t) => {
  const { b, pod, live } = await start({ initContainers: [ctr('one'), ctr('two')], containers: [ctr('app')] });
  t.same(
    b.spawned.map((p) => p.request.argv.at(-1)),
    ['3', 'one'],
    'only the first init container runs (after the infra, pause -r 3)',
  );
  b.exit(live('one')[0].pid, ok);
  await settle();
  t.same(
    b.spawned.slice(1).map((p) => p.request.argv[1]),
    ['one', 'two'],
    'the second starts once the first succeeded',
  );
  t.equal(pod.containers.find((c) => c.name === 'app')?.state, 'waiting', 'the app waits');
  t.match(
    pod.toRecord(SUPERVISOR).containers.find((c) => c.name === 'app'),
    { held: true },
    'held: it waits for the init containers',
  );
  b.exit(live('two')[0].pid, ok);
  await settle();
  t.equal(live('app').length, 1, 'the app starts after the last init container');
  t.same(
    pod.toRecord(SUPERVISOR).containers.map((c) => [c.name, c.kind ?? 'app', c.state]),
    [
      ['one', 'init', 'exited'],
      ['two', 'init', 'exited'],
      ['app', 'app', 'running'],
    ],
  );
  await pod.kill();
});

t.test('a failing init container is restarted with the back-off, and the app waits', async (t) => {
  const { b, clock, pod, live, all, events } = await start({ initContainers: [ctr('migrate')], containers: [ctr('app')] }, 'Always');
  b.exit(live('migrate')[0].pid, fail);
  await settle();
  t.equal(pod.containers[0].state, 'waiting', 'waiting for its restart');
  t.equal(clock.delays.at(-1), 10_000, 'after the first back-off delay');
  t.ok(
    events.some((e) => e.reason === 'BackOff' && e.container === 'migrate'),
    'a BackOff event names it',
  );
  clock.advance(10_000);
  t.equal(all('migrate').length, 2, 'started again');
  t.equal(all('app').length, 0, 'the app has not started');
  b.exit(live('migrate')[0].pid, ok);
  await settle();
  t.equal(live('app').length, 1, 'the app starts once it succeeded');
  t.equal(pod.containers[0].restartCount, 1);
  b.exit(live('app')[0].pid, ok);
  await settle();
  t.equal(pod.containers[0].state, 'exited', 'a succeeded init container is not run again when the app restarts');
  await pod.kill();
});

t.test('restartPolicy Never: a failing init container fails the pod, which names it', async (t) => {
  const { b, pod, live, all } = await start({ initContainers: [ctr('migrate')], containers: [ctr('app')] }, 'Never');
  b.exit(live('migrate')[0].pid, { code: 4, signal: null, coreDumped: false });
  const result = await pod.ended;
  const record = pod.toRecord(SUPERVISOR);
  t.equal(record.state, 'failed');
  t.equal(record.reason, 'init container migrate exited with status 4');
  t.same(result.failedInit, { name: 'migrate', exit: { code: 4, signal: null, coreDumped: false } });
  t.equal(all('app').length, 0, 'the app never ran');
});

t.test('a sidecar starts before the app, is restarted when it crashes, and does not keep a finished pod', async (t) => {
  const { b, clock, pod, live, all } = await start(
    { initContainers: [ctr('proxy', { restartPolicy: 'Always' })], containers: [ctr('job')] },
    'Never',
  );
  t.same(
    b.spawned.slice(1).map((p) => p.request.argv[1]),
    ['proxy', 'job'],
    'the app starts once the sidecar has started (no startup probe: at once)',
  );
  b.exit(live('proxy')[0].pid, fail);
  await settle();
  clock.advance(10_000);
  t.equal(all('proxy').length, 2, 'restarted under the pod policy Never: a sidecar is Always');
  const sidecar = live('proxy')[0];
  b.exit(live('job')[0].pid, ok);
  const result = await pod.ended;
  t.equal(result.reason, 'completed', 'the job finished: the pod completes');
  t.equal(pod.toRecord(SUPERVISOR).state, 'completed', 'and has not failed (the sidecar was stopped, not failed)');
  t.same(sidecar.signals, [SIGTERM], 'the sidecar was stopped at the end');
  t.same(
    result.containers.map((c) => c.name),
    ['job'],
    "the result is the app's",
  );
});

t.test('at a stop, the app containers end first, then the sidecars in reverse order', async (t) => {
  const { b, pod, live } = await start({
    initContainers: [ctr('first', { restartPolicy: 'Always' }), ctr('second', { restartPolicy: 'Always' })],
    containers: [ctr('app')],
  });
  const order: string[] = [];
  for (const name of ['first', 'second', 'app']) {
    const p = live(name)[0];
    const signals = p.signals;
    p.signals = new Proxy(signals, {
      get(target, key) {
        if (key === 'push') return (s: number) => (order.push(name), target.push(s));
        return Reflect.get(target, key);
      },
    });
  }
  await pod.stop();
  t.same(order, ['app', 'second', 'first']);
  t.equal(b.spawned[0].signals[0], SIGTERM, 'then the infra');
});

t.test('a liveness probe that fails failureThreshold times in a row restarts the container', async (t) => {
  const { clock, h, pod, live, all, events } = await start({ containers: [ctr('web', { livenessProbe: probe('alive') })] });
  clock.advance(0);
  await settle();
  t.equal(h.calls.length, 1, 'probed at once (no initial delay)');
  h.answers.set('alive', false);
  for (let i = 0; i < 2; i++) {
    clock.advance(1000);
    await settle();
  }
  t.same(live('web')[0].signals, [], 'two failures: not yet');
  clock.advance(1000);
  await settle();
  t.same(all('web')[0].signals, [SIGTERM], 'the third failure stops it');
  t.equal(events.filter((e) => e.reason === 'Unhealthy').length, 3, 'each failure is an Unhealthy event');
  t.match(
    events.find((e) => e.reason === 'Killing'),
    { container: 'web', message: /failed liveness probe, will be restarted/ },
  );
  await settle();
  clock.advance(10_000);
  t.equal(all('web').length, 2, 'restarted by its policy');
  t.equal(pod.containers[0].restartCount, 1);
  await pod.kill();
});

t.test('a startup probe that has not succeeded keeps the liveness probe from running', async (t) => {
  const { clock, h, pod } = await start({
    containers: [ctr('slow', { startupProbe: probe('booted', { failureThreshold: 30 }), livenessProbe: probe('alive') })],
  });
  h.answers.set('booted', false);
  for (let i = 0; i < 5; i++) {
    clock.advance(1000);
    await settle();
  }
  t.notOk(
    h.calls.some((c) => c.what === 'alive'),
    'no liveness probe before the startup probe succeeded',
  );
  t.equal(pod.containers[0].ready, false, 'not ready before it started');
  h.answers.set('booted', true);
  clock.advance(1000);
  await settle();
  clock.advance(0);
  await settle();
  t.ok(
    h.calls.some((c) => c.what === 'alive'),
    'liveness runs once it has started',
  );
  t.equal(pod.containers[0].ready, true, 'ready: it has started and has no readiness probe');
  await pod.kill();
});

t.test('readiness flips ready both ways, by its thresholds', async (t) => {
  const { clock, h, pod } = await start({
    containers: [ctr('web', { readinessProbe: probe('ready', { successThreshold: 2, failureThreshold: 2 }) })],
  });
  const ready = () => pod.toRecord(SUPERVISOR).containers[0].ready;
  t.equal(ready(), false, 'not ready before its probe succeeded');
  clock.advance(0);
  await settle();
  t.equal(ready(), false, 'one success of two');
  clock.advance(1000);
  await settle();
  t.equal(ready(), true, 'two successes: ready');
  h.answers.set('ready', false);
  clock.advance(1000);
  await settle();
  t.equal(ready(), true, 'one failure of two: still ready');
  clock.advance(1000);
  await settle();
  t.equal(ready(), false, 'two failures: not ready');
  await pod.kill();
});

t.test('preStop runs before SIGTERM, within the grace period', async (t) => {
  const { h, pod, live, all } = await start({
    terminationGracePeriodSeconds: 7,
    containers: [ctr('web', { lifecycle: { preStop: { exec: { command: ['hang-drain'] } } } })],
  });
  const web = live('web')[0];
  const stopping = pod.stopContainer('web');
  await settle();
  t.same(web.signals, [], 'no signal while the hook runs');
  h.release('hang-drain');
  await stopping;
  t.same(web.signals, [SIGTERM], 'SIGTERM once it returned');
  t.same(
    h.calls.map((c) => [c.container, c.what, c.timeoutMs]),
    [['web', 'hang-drain', 7000]],
    'the hook is given the grace period as its time limit',
  );
  t.equal(all('web').length, 1, 'a stop on request is not restarted');
  await pod.kill();
});

t.test('a postStart hook that succeeds lets the probes run; one that fails stops the container', async (t) => {
  const good = await start({
    containers: [ctr('web', { lifecycle: { postStart: { exec: { command: ['setup'] } } }, readinessProbe: probe('ready') })],
  });
  await settle();
  good.clock.advance(0);
  await settle();
  t.same(
    good.h.calls.map((c) => c.what),
    ['setup', 'ready'],
    'postStart first, then the readiness probe',
  );
  await good.pod.kill();

  const bad = await start({ containers: [ctr('web', { lifecycle: { postStart: { exec: { command: ['setup'] } } } })] }, 'Never', {
    setup: false,
  });
  await settle();
  const result = await bad.pod.ended;
  t.same(bad.all('web')[0].signals, [SIGTERM], 'the container was stopped');
  t.equal(result.reason, 'completed', 'under Never it is not restarted, and the pod ends');
  t.equal(bad.pod.toRecord(SUPERVISOR).state, 'failed');
});

t.test('adoption in the middle of the init containers: what was held starts once those before it are done', async (t) => {
  const first = await start({
    initContainers: [ctr('one'), ctr('proxy', { restartPolicy: 'Always' })],
    containers: [ctr('app')],
  });
  first.b.exit(first.live('one')[0].pid, ok);
  await settle();
  const record = first.pod.toRecord(SUPERVISOR);
  await first.pod.kill();
  // As if the supervisor died after the sidecar started, before the app did: the sidecar runs
  // on (this test's own process stands for it), the app is still held.
  const self = { pid: process.pid, startTime: startTimeOf(process.pid)! };
  record.state = 'running';
  record.infra = { process: self };
  record.containers = record.containers.map((c) =>
    c.name === 'proxy'
      ? { ...c, state: 'running', process: self, started: true, ready: true }
      : c.name === 'app'
        ? { name: 'app', spec: c.spec, restartPolicy: c.restartPolicy, state: 'waiting', held: true, restartCount: 0 }
        : c,
  );
  const b = new FakeBinding();
  const pod = await Pod.adopt(record, {
    binding: b,
    io,
    cwd: '/',
    backoff: BACKOFF,
    clock: new FakeClock(),
    runHandler: fakeHandlers().run,
  });
  t.same(
    b.spawned.filter((p) => p.request.argv[0] === 'sleep').map((p) => p.request.argv[1]),
    ['app'],
    'the app starts, once; the init container that succeeded is not run again',
  );
  t.same(
    pod.toRecord(SUPERVISOR).containers.map((c) => [c.name, c.state]),
    [
      ['one', 'exited'],
      ['proxy', 'running'],
      ['app', 'running'],
    ],
  );
  await pod.kill();
});
