// The pod supervisor's logic, against a fake binding: order of starts, what each process is
// asked for, rollback on a failed start, and the stop sequence.
import t from 'tap';
import { constants as osConstants } from 'node:os';
import { FakeBinding } from '../helpers/fake-binding.js';
import type { PodIO } from '../../src/runtime/io.js';
import { Pod } from '../../src/runtime/pod.js';
import { newPodSpec, type PodSpec } from '../../src/pod/spec.js';
import { TspodError } from '../../src/errors.js';
import { startTimeOf } from '../../src/native/identity.js';
import { hostOptionsFromEnv } from '../../src/cli/options.js';

const { SIGTERM, SIGKILL } = osConstants.signals;

function spec(over: Partial<PodSpec> = {}): PodSpec {
  return {
    ...newPodSpec('p1'),
    hostname: 'p1-host',
    terminationGracePeriodSeconds: 0.05,
    containers: [
      { name: 'web', command: ['sleep'], args: ['100'], env: [] },
      { name: 'side', command: ['/bin/sh'], args: ['-c', 'true'], env: [{ name: 'A', value: 'x' }] },
    ],
    ...over,
  };
}

function fakeIO() {
  const opened: (string | null)[] = [];
  let closed = 0;
  const io: PodIO = {
    open: (who) => {
      opened.push(who);
      return { stdio: [0, 1, 2], release: () => {} };
    },
    close: async () => {
      closed++;
    },
  };
  return { io, opened, closed: () => closed };
}

t.test('the infra starts first with new namespaces, then each container joins it', async (t) => {
  const b = new FakeBinding();
  const { io, opened } = fakeIO();
  const pod = await Pod.start(spec(), { binding: b, io, cwd: '/tmp', parentDeathSignal: SIGKILL });
  t.same(opened, [null, 'web', 'side'], 'stdio opened for infra, then containers in order');
  const [infra, web, side] = b.spawned;
  const c = b.constants;
  t.same(infra.request.argv, ['pause', '-r', '3'], 'tspod pause with the readiness fd');
  t.equal(infra.request.stdio.length, 4, 'the readiness pipe is fd 3');
  t.equal(infra.request.newNamespaces, c.CLONE_NEWNET | c.CLONE_NEWIPC | c.CLONE_NEWUTS | c.CLONE_NEWPID);
  t.equal(infra.request.hostname, 'p1-host');
  t.equal(infra.request.loopbackUp, true);
  t.equal(infra.request.parentDeathSignal, SIGKILL);
  t.same(infra.request.env, [], 'pause gets an empty environment');

  t.match(web.request.path, /\/sleep$/, 'bare command resolved through PATH');
  t.same(web.request.argv, ['sleep', '100']);
  t.equal(web.request.cwd, '/tmp', 'default working directory');
  t.same(web.request.joinNamespaces, [
    {
      fd: infra.pidfd,
      type: c.CLONE_NEWNET | c.CLONE_NEWIPC | c.CLONE_NEWUTS | c.CLONE_NEWPID,
      label: `infra pid ${infra.pid} (net+ipc+uts+pid)`,
    },
  ]);
  t.equal(web.request.newNamespaces, c.CLONE_NEWNS, 'only a mount namespace of its own');
  t.equal(web.request.hostname, undefined, 'hostname comes with the shared UTS namespace');
  t.same(
    web.request.fs?.map((m) => m.target),
    ['/', '/proc'],
  );
  t.match(web.request.fs?.[0], { op: 'mount', flags: c.MS_REC | c.MS_PRIVATE }, 'no mount propagates to the host');
  t.same(side.request.env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=p1-host', 'HOME=/root', 'A=x']);
  t.same(
    pod.containers.map((x) => [x.name, x.pid, x.running]),
    [
      ['web', web.pid, true],
      ['side', side.pid, true],
    ],
  );
  await pod.kill();
});

t.test('namespaces that are not shared are new per container', async (t) => {
  const b = new FakeBinding();
  const pod = await Pod.start(spec({ share: ['net'] }), { binding: b, io: fakeIO().io, cwd: '/' });
  const c = b.constants;
  const web = b.spawned[1];
  t.equal(web.request.joinNamespaces?.[0].type, c.CLONE_NEWNET);
  t.equal(web.request.newNamespaces, c.CLONE_NEWNS | c.CLONE_NEWIPC | c.CLONE_NEWUTS | c.CLONE_NEWPID);
  t.equal(web.request.hostname, 'p1-host', 'its own UTS namespace still gets the pod hostname');
  t.equal(web.request.loopbackUp, false, 'the shared network already has lo up');
  await pod.kill();

  const b2 = new FakeBinding();
  const pod2 = await Pod.start(spec({ share: [] }), { binding: b2, io: fakeIO().io, cwd: '/' });
  t.same(b2.spawned[1].request.joinNamespaces, [], 'nothing to join');
  t.equal(b2.spawned[1].request.loopbackUp, true, 'a network namespace of its own gets lo up');
  await pod2.kill();
});

t.test('a custom infra program runs without arguments or handshake', async (t) => {
  const b = new FakeBinding();
  const pod = await Pod.start(spec({ pause: '/bin/true' }), { binding: b, io: fakeIO().io, cwd: '/' });
  t.same(b.spawned[0].request.argv, ['/bin/true']);
  t.equal(b.spawned[0].request.stdio.length, 3);
  await pod.kill();
});

t.test('a container that fails to start: everything started is killed, the error names it', async (t) => {
  const b = new FakeBinding();
  const { io, closed } = fakeIO();
  const enoent = Object.assign(new Error("ENOENT: no such file or directory, execve '/bin/sh'"), {
    code: 'ENOENT',
    errno: -2,
    syscall: 'execve',
    path: '/bin/sh',
  });
  b.failSpawn = { argv0: '/bin/sh', error: enoent };
  const err = await Pod.start(spec(), { binding: b, io, cwd: '/' }).catch((e) => e);
  t.type(err, TspodError);
  t.equal(err.message, "container side: ENOENT: no such file or directory, execve '/bin/sh'");
  t.match(err, { name: 'StartFailed', code: 'ENOENT', errno: -2, syscall: 'execve', path: '/bin/sh', exitCode: 127 });
  const [infra, web] = b.spawned;
  t.ok(web.signals.includes(SIGKILL) && infra.signals.includes(SIGKILL), 'infra and the first container killed');
  t.ok(infra.exited && web.exited, 'and reaped before the error is thrown');
  t.equal(closed(), 1, 'the IO is closed');
});

t.test('a missing program is found before anything starts', async (t) => {
  const b = new FakeBinding();
  const { io, closed } = fakeIO();
  const s = spec();
  s.containers[1].command = ['no-such-program-xyz'];
  const err = await Pod.start(s, { binding: b, io, cwd: '/' }).catch((e) => e);
  t.match(err.message, /^container side: command not found: "no-such-program-xyz" is not in PATH=/);
  t.equal(err.exitCode, 127);
  t.equal(b.spawned.length, 0, 'no process was created');
  t.equal(closed(), 1);
});

t.test('stop: SIGTERM to containers, SIGKILL after the grace period, then the infra', async (t) => {
  const b = new FakeBinding();
  b.ignoresTerm.add('sleep');
  const pod = await Pod.start(spec(), { binding: b, io: fakeIO().io, cwd: '/' });
  const result = await pod.stop();
  const [infra, web, side] = b.spawned;
  t.same(web.signals, [SIGTERM, SIGKILL], 'the one ignoring SIGTERM is killed after the grace period');
  t.same(side.signals, [SIGTERM]);
  t.same(infra.signals, [SIGTERM], 'the infra is stopped last');
  t.equal(result.reason, 'stopped');
  t.same(
    result.containers.map((c) => c.exit?.signal),
    [SIGKILL, SIGTERM],
  );
  t.equal(pod.stop(), pod.stop(), 'stopping again returns the same promise');
});

t.test('the pod completes when every container has exited', async (t) => {
  const b = new FakeBinding();
  const pod = await Pod.start(spec(), { binding: b, io: fakeIO().io, cwd: '/' });
  const exits: string[] = [];
  pod.on('container-exit', (name) => exits.push(name));
  const [infra, web, side] = b.spawned;
  b.exit(side.pid, { code: 0, signal: null, coreDumped: false });
  await new Promise((r) => setImmediate(r));
  t.notOk(infra.signals.length, 'one container left: the pod goes on');
  b.exit(web.pid, { code: 3, signal: null, coreDumped: false });
  const result = await pod.ended;
  t.same(exits, ['side', 'web']);
  t.equal(result.reason, 'completed');
  t.same(infra.signals, [SIGTERM]);
  t.same(
    result.containers.map((c) => c.exit?.code),
    [3, 0],
  );
});

t.test('the pod fails when its infra dies, and its containers are stopped', async (t) => {
  const b = new FakeBinding();
  const pod = await Pod.start(spec(), { binding: b, io: fakeIO().io, cwd: '/' });
  const [infra, web, side] = b.spawned;
  b.exit(infra.pid, { code: null, signal: SIGKILL, coreDumped: false });
  const result = await pod.ended;
  t.equal(result.reason, 'infra-exited');
  t.same(result.infraExit, { code: null, signal: SIGKILL, coreDumped: false });
  t.same(web.signals, [SIGTERM]);
  t.same(side.signals, [SIGTERM]);
});

// Restart policies and the crash back-off, on a fake clock.
import { FakeClock } from '../helpers/fake-binding.js';
import type { PodRecord } from '../../src/state/records.js';

const BACKOFF = { initialMs: 10_000, maxMs: 40_000, resetMs: 600_000 };
const tick = () => new Promise((r) => setImmediate(r));
const ok = { code: 0, signal: null, coreDumped: false };
const fail = { code: 1, signal: null, coreDumped: false };

async function policyPod(policy: PodSpec['restartPolicy'], extra: Partial<Parameters<typeof Pod.start>[1]> = {}) {
  const b = new FakeBinding();
  const clock = new FakeClock();
  const s = spec({ restartPolicy: policy });
  s.containers = [s.containers[0]];
  const pod = await Pod.start(s, { binding: b, io: fakeIO().io, cwd: '/', backoff: BACKOFF, clock, ...extra });
  return { b, clock, pod };
}

t.test('Always: restarted after 10 s, doubling, capped; reset after a long run', async (t) => {
  const { b, clock, pod } = await policyPod('Always');
  for (let i = 0; i < 5; i++) {
    const procs = b.allByArgv0('sleep');
    b.exit(procs[procs.length - 1].pid, i % 2 ? ok : fail);
    await tick();
    t.equal(pod.containers[0].state, 'waiting', `exit ${i + 1}: waiting for its restart`);
    clock.advance(clock.delays[clock.delays.length - 1]);
    t.equal(b.allByArgv0('sleep').length, i + 2, `restarted (${i + 1})`);
  }
  t.same(clock.delays, [10_000, 20_000, 40_000, 40_000, 40_000], 'the back-off doubles up to its cap');
  clock.advance(600_000);
  b.exit(b.allByArgv0('sleep').at(-1)!.pid, fail);
  await tick();
  t.equal(clock.delays.at(-1), 10_000, 'after running for resetMs the back-off starts over');
  t.equal(pod.containers[0].restartCount, 5);
  t.equal(b.spawned[0].signals.length, 0, 'the infra was never touched');
  await pod.kill();
});

t.test('OnFailure restarts only a failure; Never restarts nothing', async (t) => {
  const onFailure = await policyPod('OnFailure');
  onFailure.b.exit(onFailure.b.byArgv0('sleep').pid, fail);
  await tick();
  t.equal(onFailure.pod.containers[0].state, 'waiting');
  onFailure.clock.advance(10_000);
  onFailure.b.exit(onFailure.b.allByArgv0('sleep')[1].pid, ok);
  const result = await onFailure.pod.ended;
  t.equal(result.reason, 'completed', 'success ends it, and the pod completes');
  t.equal(onFailure.pod.containers[0].restartCount, 1);

  const never = await policyPod('Never');
  never.b.exit(never.b.byArgv0('sleep').pid, fail);
  await never.pod.ended;
  t.same(never.clock.delays, [], 'no restart was scheduled');
  t.equal(never.pod.toRecord({ kind: 'monitor', pid: 1, startTime: '1' }).state, 'failed', 'a pod whose container failed');
});

t.test('a restart that cannot start is a failure: recorded, and backed off', async (t) => {
  const { b, clock, pod } = await policyPod('Always');
  b.failSpawn = {
    argv0: 'sleep',
    error: Object.assign(new Error("ENOENT: no such file or directory, execve '/bin/sleep'"), {
      code: 'ENOENT',
      errno: -2,
      syscall: 'execve',
      path: '/bin/sleep',
    }),
  };
  b.exit(b.byArgv0('sleep').pid, fail);
  await tick();
  clock.advance(10_000);
  const rec = pod.toRecord({ kind: 'monitor', pid: 1, startTime: '1' }).containers[0];
  t.match(rec.lastError, { code: 'ENOENT', errno: -2, syscall: 'execve', path: '/bin/sleep' });
  t.equal(rec.state, 'waiting', 'waiting again');
  t.same(clock.delays, [10_000, 20_000]);
  b.failSpawn = undefined;
  clock.advance(20_000);
  t.equal(pod.containers[0].state, 'running');
  t.notOk(pod.toRecord({ kind: 'monitor', pid: 1, startTime: '1' }).containers[0].lastError, 'cleared by a good start');
  await pod.kill();
});

t.test('restart, stop, add and remove one container; the infra and the others stay', async (t) => {
  const b = new FakeBinding();
  const pod = await Pod.start(spec({ restartPolicy: 'Always' }), {
    binding: b,
    io: fakeIO().io,
    cwd: '/',
    backoff: BACKOFF,
    clock: new FakeClock(),
  });
  const [infra, web, side] = b.spawned;
  await pod.restartContainer('web');
  t.same(web.signals, [SIGTERM]);
  const web2 = b.allByArgv0('sleep')[1];
  t.ok(web2 && !web2.exited, 'a new process');
  t.equal(pod.containers[0].pid, web2.pid);
  t.same(infra.signals, [], 'infra untouched');
  t.same(side.signals, [], 'the other container untouched');

  await pod.stopContainer('side');
  await tick();
  t.equal(pod.containers[1].state, 'exited', 'stopped on request: Always does not restart it');
  await t.rejects(pod.removeContainer('web'), { message: /is running: stop it first/ });
  await pod.removeContainer('side');
  t.same(
    pod.containers.map((c) => c.name),
    ['web'],
  );
  await pod.addContainer({ name: 'extra', command: ['true'], args: [], env: [] }, 'Never');
  t.same(
    pod.containers.map((c) => c.name),
    ['web', 'extra'],
  );
  await t.rejects(pod.addContainer({ name: 'web', command: ['true'], args: [], env: [] }), { message: /already has a container "web"/ });
  await pod.kill();
});

t.test('a persistent pod outlives its containers', async (t) => {
  const b = new FakeBinding();
  const pod = await Pod.start(spec({ containers: [] }), { binding: b, io: fakeIO().io, cwd: '/', persistent: true });
  await pod.addContainer({ name: 'once', command: ['true'], args: [], env: [] }, 'Never');
  b.exit(b.byArgv0('true').pid, ok);
  await tick();
  t.equal(pod.state, 'running', 'the pod stays');
  t.equal(pod.containers[0].state, 'exited');
  await pod.stop();
  t.equal(pod.state, 'stopped');
});

t.test('adoption: running processes found again, an unobserved exit goes through the policy', async (t) => {
  const b = new FakeBinding();
  const clock = new FakeClock();
  const self = { pid: process.pid, startTime: startTimeOf(process.pid)! };
  const record: PodRecord = {
    version: 1,
    name: 'p1',
    createdAt: new Date().toISOString(),
    persistent: false,
    state: 'running',
    supervisor: { kind: 'monitor', pid: 1, startTime: '1' },
    spec: {
      name: 'p1',
      hostname: 'p1',
      share: ['net', 'ipc', 'uts', 'pid'],
      terminationGracePeriodSeconds: 0,
      restartPolicy: 'Always',
      network: { mode: 'pod' },
      ports: [],
      volumes: [],
      labels: {},
      annotations: {},
    },
    infra: { process: self },
    containers: [
      {
        name: 'alive',
        spec: { name: 'alive', command: ['sleep'], args: ['1'], env: [] },
        restartPolicy: 'Always',
        state: 'running',
        process: self,
        restartCount: 2,
      },
      {
        name: 'gone',
        spec: { name: 'gone', command: ['sleep'], args: ['1'], env: [] },
        restartPolicy: 'OnFailure',
        state: 'running',
        process: { pid: process.pid, startTime: '1' },
        restartCount: 0,
      },
      {
        name: 'reused',
        spec: { name: 'reused', command: ['true'], args: [], env: [] },
        restartPolicy: 'Never',
        state: 'running',
        process: { pid: process.pid, startTime: '999999999' },
        restartCount: 0,
      },
    ],
  };
  const pod = await Pod.adopt(record, { binding: b, io: fakeIO().io, cwd: '/', backoff: BACKOFF, clock });
  const rec = pod.toRecord(record.supervisor);
  t.equal(rec.containers[0].state, 'running', 'found by pid and start time');
  t.equal(rec.containers[0].restartCount, 2);
  t.equal(rec.containers[1].state, 'waiting', 'a pid whose start time differs is not it: an unknown exit, a failure for OnFailure');
  t.same(rec.containers[1].lastExit && { code: rec.containers[1].lastExit.code, unknown: rec.containers[1].lastExit.unknown }, {
    code: null,
    unknown: true,
  });
  t.equal(rec.containers[2].state, 'exited', 'Never: not restarted');
  await pod.kill();
});

t.test('an adoption that fails half-way (EMFILE) lets go of what it took, and takes no running process for ended', async (t) => {
  const b = new FakeBinding();
  const clock = new FakeClock();
  const self = { pid: process.pid, startTime: startTimeOf(process.pid)! };
  // The infra and the first container are opened; the second container's pidfd_open fails.
  let opened = 0;
  const pidfdOpen = b.pidfdOpen;
  b.pidfdOpen = (pid: number) => {
    if (++opened === 3)
      throw Object.assign(new Error('EMFILE: too many open files, pidfd_open'), { code: 'EMFILE', syscall: 'pidfd_open' });
    return pidfdOpen(pid);
  };
  const running = (name: string) => ({
    name,
    spec: { name, command: ['sleep'], args: ['1'], env: [] },
    restartPolicy: 'Always' as const,
    state: 'running' as const,
    process: self,
    restartCount: 0,
  });
  const record: PodRecord = {
    version: 1,
    name: 'p1',
    createdAt: new Date().toISOString(),
    persistent: false,
    state: 'running',
    supervisor: { kind: 'monitor', pid: 1, startTime: '1' },
    spec: {
      name: 'p1',
      hostname: 'p1',
      share: ['net', 'ipc', 'uts', 'pid'],
      terminationGracePeriodSeconds: 0,
      restartPolicy: 'Always',
      network: { mode: 'pod' },
      ports: [],
      volumes: [],
      labels: {},
      annotations: {},
    },
    infra: { process: self },
    containers: [
      running('a'),
      running('b'),
      { ...running('w'), state: 'waiting', process: undefined, nextStartAt: new Date(Date.now() + 5000).toISOString() },
    ],
  };
  const { io, closed } = fakeIO();
  await t.rejects(Pod.adopt(record, { binding: b, io, cwd: '/', backoff: BACKOFF, clock }), { code: 'EMFILE' });
  t.same(
    b.spawned.map((p) => p.request.argv[0]),
    ['(adopted)', '(adopted)'],
    'nothing started: b, still running, was not taken for a container that ended',
  );
  t.notOk(
    b.spawned.some((p) => b.watching(p.pidfd)),
    'no process is watched any more',
  );
  t.equal(closed(), 1, 'its IO is closed');
  clock.advance(60_000);
  t.equal(b.spawned.length, 2, 'and no timer starts anything later');
});

t.test('a restart on request of the only container of a pod that is not persistent does not end the pod', async (t) => {
  const b = new FakeBinding();
  const s = spec({ restartPolicy: 'Never' });
  s.containers = [s.containers[0]];
  const pod = await Pod.start(s, { binding: b, io: fakeIO().io, cwd: '/', backoff: BACKOFF, clock: new FakeClock() });
  await pod.restartContainer('web');
  const webs = b.allByArgv0('sleep');
  t.same(
    webs.map((w) => w.exited),
    [true, false],
    'the first process ended, a second one runs',
  );
  t.equal(pod.state, 'running', 'the pod did not complete');
  t.match(pod.containers[0], { state: 'running', pid: webs[1].pid, restartCount: 1 });
  b.exit(webs[1].pid);
  await pod.ended;
  t.equal(pod.state, 'completed', 'it completes when the restarted container ends');
});

t.test('two restarts at once, and a restart with a remove, leave no process untracked', async (t) => {
  const b = new FakeBinding();
  const pod = await Pod.start(spec({ restartPolicy: 'Always' }), {
    binding: b,
    io: fakeIO().io,
    cwd: '/',
    backoff: BACKOFF,
    clock: new FakeClock(),
  });
  await Promise.all([pod.restartContainer('web'), pod.restartContainer('web')]);
  const webs = b.allByArgv0('sleep');
  t.equal(webs.length, 3, 'started three times, one after the other');
  t.same(
    webs.map((w) => w.exited),
    [true, true, false],
    'only the last one runs',
  );
  t.equal(pod.containers[0].pid, webs[2].pid, 'and it is the one the pod knows');

  const restart = pod.restartContainer('side');
  const remove = pod.removeContainer('side', true);
  await Promise.allSettled([restart, remove]);
  t.same(
    pod.containers.map((c) => c.name),
    ['web'],
    'the container is gone',
  );
  t.ok(
    b.allByArgv0('/bin/sh').every((p) => p.exited),
    'and none of its processes runs',
  );
  await pod.kill();
});

t.test("without a backoff option, the kubelet's: 10 s, doubling to 5 minutes", async (t) => {
  const b = new FakeBinding();
  const clock = new FakeClock();
  const s = spec({ restartPolicy: 'Always' });
  s.containers = [s.containers[0]];
  const pod = await Pod.start(s, { binding: b, io: fakeIO().io, cwd: '/', clock });
  for (let i = 0; i < 7; i++) {
    b.exit(b.allByArgv0('sleep').at(-1)!.pid, fail);
    await tick();
    clock.advance(clock.delays.at(-1)!);
  }
  t.same(clock.delays, [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
  await pod.kill();
});

t.test('adoption: statuses and the back-off come from the record', async (t) => {
  const b = new FakeBinding();
  const clock = new FakeClock();
  const self = { pid: process.pid, startTime: startTimeOf(process.pid)! };
  const at = new Date().toISOString();
  const base: PodRecord = {
    version: 1,
    name: 'p1',
    createdAt: at,
    persistent: false,
    state: 'running',
    supervisor: { kind: 'monitor', pid: 1, startTime: '1' },
    spec: {
      name: 'p1',
      hostname: 'p1',
      share: ['net', 'ipc', 'uts', 'pid'],
      terminationGracePeriodSeconds: 0,
      restartPolicy: 'Always',
      network: { mode: 'pod' },
      ports: [],
      volumes: [],
      labels: {},
      annotations: {},
    },
    infra: { process: self },
    containers: [],
  };
  const done = await Pod.adopt(
    {
      ...base,
      containers: [
        {
          name: 'a',
          spec: { name: 'a', command: ['true'], args: [], env: [] },
          restartPolicy: 'Never',
          state: 'exited',
          restartCount: 0,
          lastExit: { code: 0, signal: null, at },
        },
      ],
    },
    { binding: b, io: fakeIO().io, cwd: '/', clock },
  );
  t.equal((await done.ended).reason, 'completed');
  t.equal(done.state, 'completed', 'all its containers had succeeded: completed, not failed');

  const crashing = await Pod.adopt(
    {
      ...base,
      containers: [
        {
          name: 'c',
          spec: { name: 'c', command: ['sleep'], args: ['1'], env: [] },
          restartPolicy: 'Always',
          state: 'running',
          process: { pid: process.pid, startTime: '1' },
          restartCount: 3,
          startedAt: at,
          backoffMs: 20_000,
        },
      ],
    },
    { binding: b, io: fakeIO().io, cwd: '/', backoff: BACKOFF, clock },
  );
  t.same(clock.delays, [40_000], 'the recorded 20 s back-off goes on doubling');
  await crashing.kill();
});

t.test('the TSPOD_* knobs: bounded, and the back-off scales from one number', async (t) => {
  t.same(hostOptionsFromEnv({ TSPOD_BACKOFF_MS: '200' }).backoff, { initialMs: 200, maxMs: 6000, resetMs: 12000 });
  t.equal(hostOptionsFromEnv({}).backoff, undefined, "unset: the kubelet's");
  t.throws(() => hostOptionsFromEnv({ TSPOD_BACKOFF_MS: '0' }), { name: 'InputError', field: 'TSPOD_BACKOFF_MS' });
  t.throws(() => hostOptionsFromEnv({ TSPOD_LOG_MAX_BYTES: '10' }), { name: 'InputError', field: 'TSPOD_LOG_MAX_BYTES' });
});
