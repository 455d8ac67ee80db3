// The pod supervisor's logic, against a fake binding: order of starts, what each process is
// asked for, rollback on a failed start, and the stop sequence.
import t from 'tap';
import { constants as osConstants } from 'node:os';
import { FakeBinding } from '../helpers/fake-binding.js';
import { Pod, type PodIO } from '../../src/runtime/pod.js';
import type { PodSpec } from '../../src/pod/spec.js';
import { TspodError } from '../../src/errors.js';

const { SIGTERM, SIGKILL } = osConstants.signals;

function spec(over: Partial<PodSpec> = {}): PodSpec {
  return {
    name: 'p1',
    hostname: 'p1-host',
    share: ['net', 'ipc', 'uts', 'pid'],
    terminationGracePeriodSeconds: 0.05,
    labels: {},
    annotations: {},
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
    { fd: infra.pidfd, type: c.CLONE_NEWNET | c.CLONE_NEWIPC | c.CLONE_NEWUTS | c.CLONE_NEWPID, label: `infra pid ${infra.pid} (net+ipc+uts+pid)` },
  ]);
  t.equal(web.request.newNamespaces, c.CLONE_NEWNS, 'only a mount namespace of its own');
  t.equal(web.request.hostname, undefined, 'hostname comes with the shared UTS namespace');
  t.same(web.request.mounts?.map((m) => m.target), ['/', '/proc']);
  t.equal(web.request.mounts?.[0].flags, c.MS_REC | c.MS_SLAVE, 'no mount propagates to the host');
  t.same(side.request.env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=p1-host', 'HOME=/root', 'A=x']);
  t.same(pod.containers.map((x) => [x.name, x.pid, x.running]), [['web', web.pid, true], ['side', side.pid, true]]);
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
    code: 'ENOENT', errno: -2, syscall: 'execve', path: '/bin/sh',
  });
  b.failSpawn = { argv0: '/bin/sh', error: enoent };
  const err = await Pod.start(spec(), { binding: b, io, cwd: '/' }).catch((e) => e);
  t.type(err, TspodError);
  t.equal(err.message, "container side: ENOENT: no such file or directory, execve '/bin/sh'");
  t.match(err, { container: 'side', code: 'ENOENT', errno: -2, syscall: 'execve', path: '/bin/sh', exitCode: 127 });
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
  t.same(result.containers.map((c) => c.exit?.signal), [SIGKILL, SIGTERM]);
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
  t.same(result.containers.map((c) => c.exit?.code), [3, 0]);
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
