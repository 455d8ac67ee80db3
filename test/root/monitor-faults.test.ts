// Faults: the monitor killed with SIGKILL, an infra killed, rm -f without a monitor, a
// container whose program disappears, and restart policies run by the real monitor.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { copyFileSync, chmodSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fetchInPod, freeHostPort } from '../helpers/net.js';
import { NO_BUSYBOX, busyboxRoot, haveBusybox } from '../helpers/busybox.js';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { tempDir } from '../helpers/cleanup.js';
import { alive, procInfo, waitFor } from '../helpers/proc.js';
import { testState, type TestState } from '../helpers/state.js';
import type { PodRecord } from '../../src/state/records.js';

if (!isRoot) t.plan(0, NOT_ROOT);

const record = (s: TestState, pod: string) => s.store.read(pod) as PodRecord;
const ctr = (s: TestState, pod: string, name: string) => record(s, pod).containers.find((c) => c.name === name)!;
const idOf = (pid: number) => ({ pid, startTime: procInfo(pid)!.startTime });

/** The pids a process holds pidfds of (fdinfo's Pid: line). */
function pidfdsOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:[pidfd]') return [];
      return [Number(/^Pid:\s+(-?\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))![1])];
    } catch {
      return []; // closed meanwhile
    }
  });
}

/** Whether something listens on the host port (a listen of our own fails). */
const portHeld = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(true));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(false)));
  });

t.test('kill -9 of the monitor: pods keep serving; the next command re-adopts them', async (t) => {
  const s = testState(t);
  await s.cli(['pod', 'create', 'web']);
  await s.cli(['run', '-d', '--pod', 'web', '--name', 'ghost', '--restart', 'Always', '--', 'node', 'examples/seed/ghost.js']);
  await s.cli([
    'run',
    '-d',
    '--pod',
    'web',
    '--name',
    'echo',
    '--restart',
    'Always',
    '--',
    'sh',
    '-c',
    'while :; do echo tick; sleep 0.1; done',
  ]);
  const before = record(s, 'web');
  const infra = before.infra!.process.pid;
  const ghost = ctr(s, 'web', 'ghost').process!.pid;
  await waitFor('ghost serving', () => fetchInPod(infra, 2368) === '200 Ghost (tspod stand-in)');

  const monitor = await s.killMonitor();
  t.equal(fetchInPod(infra, 2368), '200 Ghost (tspod stand-in)', 'the pod keeps serving without a monitor');
  t.ok(alive(idOf(ghost)), 'its containers keep running');

  const ps = await s.cli(['ps', '--json']);
  t.same(
    JSON.parse(ps.stdout).map((r: { container: string; pid: number }) => [r.container, r.pid]),
    [
      ['(infra)', infra],
      ['ghost', ghost],
      ['echo', ctr(s, 'web', 'echo').process!.pid],
    ],
    'ps is right from the state alone',
  );
  const newMonitor = await waitFor('a new monitor', () => {
    const pid = s.monitorPid();
    return pid && pid !== monitor ? pid : undefined;
  });
  t.not(newMonitor, monitor);
  await waitFor('the pod re-adopted', () => record(s, 'web').supervisor.pid === newMonitor);
  t.equal(record(s, 'web').infra!.process.pid, infra, 'the same infra');

  // The new monitor runs the restart policy: a killed container comes back.
  const echoPid = ctr(s, 'web', 'echo').process!.pid;
  process.kill(echoPid, 'SIGKILL');
  const restarted = await waitFor('echo restarted by the new monitor', () => {
    const c = ctr(s, 'web', 'echo');
    return c.state === 'running' && c.process!.pid !== echoPid ? c : undefined;
  });
  t.equal(restarted.restartCount, 1);
  t.equal(restarted.lastExit?.unknown, true, 'its status, seen by nobody, is unknown: not invented');
  const logs = await s.cli(['logs', 'web', 'echo']);
  t.match(logs.stdout, /^(tick\n)+$/, 'its output kept reaching the log');
});

t.test(
  'containers that exit while no monitor runs: the next one records them exited, status unknown, and restarts by policy',
  async (t) => {
    const s = testState(t);
    const dir = tempDir(t, 'no-monitor');
    // Each waits for the go file, then exits 3; run again (by a restart), `again` just sleeps.
    const script = (name: string) =>
      `[ -e ${dir}/${name}-ran ] && exec sleep 1000; touch ${dir}/${name}-ran; until [ -e ${dir}/go ]; do sleep 0.05; done; exit 3`;
    t.equal((await s.cli(['pod', 'create', 'web'])).code, 0);
    for (const [name, policy] of [
      ['once', 'Never'],
      ['again', 'Always'],
    ]) {
      const r = await s.cli(['run', '-d', '--pod', 'web', '--name', name, '--restart', policy, '--', 'sh', '-c', script(name)]);
      t.equal(r.code, 0, r.stderr);
    }
    const ids = { once: ctr(s, 'web', 'once').process!, again: ctr(s, 'web', 'again').process! };
    const killed = await s.killMonitor();
    writeFileSync(join(dir, 'go'), '');
    await waitFor('both to exit', () => (!alive(ids.once) && !alive(ids.again)) || undefined);
    t.equal(ctr(s, 'web', 'once').state, 'running', 'with no monitor, nobody has recorded it yet');

    // ps sees a monitor's pod with its monitor gone: a new monitor starts and adopts the pod.
    t.equal((await s.cli(['ps'])).code, 0);
    const monitor = await waitFor('a new monitor', () => {
      const pid = s.monitorPid();
      return pid && pid !== killed ? pid : undefined;
    });
    await waitFor('the pod adopted', () => record(s, 'web').supervisor.pid === monitor);
    const once = await waitFor('once recorded as exited', () =>
      ctr(s, 'web', 'once').state === 'exited' ? ctr(s, 'web', 'once') : undefined,
    );
    t.equal(once.lastExit?.unknown, true, 'Never: exited, its status (reaped by init) unknown, not invented');
    t.equal(once.restartCount, 0, 'and not restarted');
    const again = await waitFor('again restarted', () => {
      const c = ctr(s, 'web', 'again');
      return c.state === 'running' && c.process!.pid !== ids.again.pid ? c : undefined;
    });
    t.equal(again.restartCount, 1, 'Always: restarted once by the new monitor');
    t.equal(again.lastExit?.unknown, true, 'its last exit, unknown too');
    t.equal(record(s, 'web').state, 'running', 'the pod runs on');
  },
);

t.test('kill -9 of the infra: the containers are stopped and the pod is marked failed', async (t) => {
  const s = testState(t);
  await s.cli(['pod', 'create', 'fragile', '--share', 'net,ipc,uts', '--grace', '1']);
  await s.cli(['run', '-d', '--pod', 'fragile', '--name', 'a', '--restart', 'Always', '--', 'sleep', '1000']);
  const rec = record(s, 'fragile');
  const a = idOf(ctr(s, 'fragile', 'a').process!.pid);
  process.kill(rec.infra!.process.pid, 'SIGKILL');
  const failed = await waitFor('the pod to fail', () => {
    const r = record(s, 'fragile');
    return r.state === 'failed' ? r : undefined;
  });
  t.match(failed.reason, /^infra process \(pid \d+\) killed by SIGKILL$/);
  t.notOk(alive(a), 'its container (in a PID namespace of its own) was stopped too');
  t.equal(failed.containers[0].state, 'exited', 'and is not restarted');
  t.match((await s.cli(['pod', 'ls'])).stdout, /fragile +failed +Error +0\/1 +- +0\/1 .*infra process/);
});

t.test('rm -f works when the monitor is gone, and does not need one', async (t) => {
  const s = testState(t);
  await s.cli(['pod', 'create', 'orphaned']);
  await s.cli(['run', '-d', '--pod', 'orphaned', '--name', 'a', '--', 'sleep', '1000']);
  const rec = record(s, 'orphaned');
  const procs = [idOf(rec.infra!.process.pid), idOf(rec.containers[0].process!.pid)];
  await s.killMonitor();
  rmSync(s.store.paths.monitorFile);
  const r = await s.cli(['rm', '-f', 'orphaned']);
  t.equal(r.code, 0, r.stderr);
  t.ok(
    procs.every((p) => !alive(p)),
    'infra and container are gone',
  );
  t.equal(s.store.read('orphaned'), undefined, 'and so is its state');
  t.equal(s.monitorPid(), undefined, 'no monitor was started for it');
});

t.test('restart policies under the monitor', async (t) => {
  const s = testState(t);
  await s.cli(['pod', 'create', 'pol']);
  await s.cli(['run', '-d', '--pod', 'pol', '--name', 'crash', '--restart', 'OnFailure', '--', 'sh', '-c', 'exit 3']);
  await s.cli(['run', '-d', '--pod', 'pol', '--name', 'done', '--restart', 'OnFailure', '--', 'true']);
  await s.cli(['run', '-d', '--pod', 'pol', '--name', 'once', '--restart', 'Never', '--', 'sh', '-c', 'exit 2']);
  const crash = await waitFor('two restarts of the crashing container', () => {
    const c = ctr(s, 'pol', 'crash');
    return c.restartCount >= 2 ? c : undefined;
  });
  t.equal(crash.lastExit?.code, 3);
  t.equal(ctr(s, 'pol', 'done').state, 'exited', 'OnFailure: a success is not restarted');
  t.equal(ctr(s, 'pol', 'done').restartCount, 0);
  t.equal(ctr(s, 'pol', 'once').restartCount, 0, 'Never: not restarted');
  t.equal(ctr(s, 'pol', 'once').lastExit?.code, 2);
  t.equal(record(s, 'pol').state, 'running', 'a crash-looping container does not touch the pod');
});

t.test('a container whose program is gone is reported with errno and path, and backed off', async (t) => {
  const s = testState(t);
  const dir = tempDir(t, 'gone');
  const program = join(dir, 'prog');
  copyFileSync('/bin/sleep', program);
  chmodSync(program, 0o755);
  await s.cli(['pod', 'create', 'gone']);
  await s.cli(['run', '-d', '--pod', 'gone', '--name', 'p', '--restart', 'Always', '--', program, '1000']);
  rmSync(program);
  process.kill(ctr(s, 'gone', 'p').process!.pid, 'SIGKILL');
  const c = await waitFor('a failed restart', () => {
    const x = ctr(s, 'gone', 'p');
    return x.lastError ? x : undefined;
  });
  t.match(c.lastError, { code: 'ENOENT', syscall: 'execve', path: program });
  t.equal(c.state, 'waiting', 'it counts as a failure: waiting for the next try');
  const ps = await s.cli(['ps']);
  t.match(ps.stdout, new RegExp(`gone +p +- +waiting .*start failed: ENOENT execve ${program.replace(/[/.]/g, '\\$&')}`));
  t.match((await s.cli(['inspect', 'gone', 'p'])).stdout, `last start error: ENOENT: no such file or directory, execve '${program}'`);
});

t.test(
  'an adoption that fails lets the pod go untouched: no watch, no host port; a later one takes it',
  { skip: haveBusybox ? undefined : NO_BUSYBOX },
  async (t) => {
    const s = testState(t);
    const base = tempDir(t, 'adopt');
    const tree = busyboxRoot((mkdirSync(join(base, 'tree')), join(base, 'tree')));
    const port = await freeHostPort();
    const file = join(base, 'pod.json');
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'ad' },
        spec: {
          containers: [
            { name: 'host', command: ['sleep', '1000'], ports: [{ containerPort: 80, hostPort: port }] },
            { name: 'own', rootfs: tree, command: ['sleep', '1000'] },
          ],
        },
      }),
    );
    t.equal((await s.cli(['run', '-d', '-f', file])).code, 0);
    const ids = [record(s, 'ad').infra!.process, ctr(s, 'ad', 'host').process!, ctr(s, 'ad', 'own').process!];
    const pids = ids.map((id) => id.pid);
    const killed = await s.killMonitor();
    // The second container cannot be planned again: its root file system is not where it was.
    renameSync(tree, join(base, 'away'));
    await s.cli(['ps']);
    const monitor = await waitFor('a new monitor', () => s.monitorPid() !== killed && s.monitorPid());
    await waitFor('the adoption to fail', () => /pod ad: not adopted: .*rootfs/.test(readFileSync(s.store.paths.monitorLog, 'utf8')));
    t.ok(ids.every(alive), 'the pod runs on');
    t.same(
      pidfdsOf(monitor).filter((p) => pids.includes(p)),
      [],
      'the monitor holds no pidfd of it',
    );
    t.equal(await portHeld(port), false, 'nor its host port');

    renameSync(join(base, 'away'), tree);
    await s.killMonitor();
    await s.cli(['ps']);
    await waitFor(
      'a later monitor adopts it',
      () => record(s, 'ad').supervisor.pid !== monitor && record(s, 'ad').supervisor.pid === s.monitorPid(),
    );
    t.equal(await portHeld(port), true, 'which publishes its port again');
    t.same(
      pidfdsOf(s.monitorPid()!)
        .filter((p) => pids.includes(p))
        .sort(),
      [...pids].sort(),
      'and watches its processes',
    );
    t.equal((await s.cli(['rm', '-f', 'ad'])).code, 0);
    t.notOk(ids.some(alive), 'and rm -f ends it');
  },
);

t.test("a container whose stdout is now a FIFO with no writer does not stall a new monitor's adoption", async (t) => {
  const s = testState(t);
  const fifo = join(tempDir(t, 'fifo'), 'f');
  execFileSync('mkfifo', [fifo]);
  // Its fd 1 becomes the FIFO's read end, opened without blocking: nobody writes to it, ever.
  const script =
    `import os; fd = os.open(${JSON.stringify(fifo)}, os.O_RDONLY | os.O_NONBLOCK); ` +
    "os.dup2(fd, 1); os.execvp('sleep', ['sleep', '1000'])";
  t.equal((await s.cli(['pod', 'create', 'fifo'])).code, 0);
  t.equal((await s.cli(['run', '-d', '--pod', 'fifo', '--name', 'reader', '--', 'python3', '-c', script])).code, 0);
  const reader = ctr(s, 'fifo', 'reader').process!;
  await waitFor(
    'its stdout to be the FIFO',
    () => readlinkSync(`/proc/${reader.pid}/fd/1`).startsWith('pipe:') === false && procInfo(reader.pid)?.comm === 'sleep',
  );
  const killed = await s.killMonitor();
  // A command that needs a serving monitor: one is started, adopts both pods, and answers.
  const r = await s.cli(['run', '-d', '--pod', 'fifo', '--name', 'after', '--', 'sleep', '1000']);
  t.equal(r.code, 0, r.stderr);
  const monitor = s.monitorPid();
  t.not(monitor, killed, 'a new monitor answered');
  t.equal(record(s, 'fifo').supervisor.pid, monitor, 'and adopted the pod');
  t.ok(alive(reader), 'the container runs on');
  t.equal(ctr(s, 'fifo', 'reader').state, 'running');
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

t.test('crash back-off on a real monitor: the delay doubles, and a new monitor goes on from where a killed one was', async (t) => {
  const s = testState(t, { TSPOD_BACKOFF_MS: '1000' });
  const starts = join(tempDir(t, 'backoff'), 'starts');
  const r = await s.cli(['run', '-d', '--name', 'crash', '--restart', 'Always', '--', 'sh', '-c', `date +%s%N >> ${starts}; exit 1`]);
  t.equal(r.code, 0, r.stderr);
  const waiting = (ms: number) =>
    waitFor(
      `the container waiting ${ms} ms`,
      () => {
        const c = ctr(s, 'crash', 'crash');
        return c.state === 'waiting' && c.backoffMs === ms ? c : undefined;
      },
      20000,
    );
  t.equal((await waiting(1000)).restartCount, 0, 'after the first exit: 1 s');
  t.equal((await waiting(2000)).restartCount, 1, 'after the second: 2 s');
  await s.killMonitor();
  // The monitor is gone: the record stays as it left it, inside a 2 s wait.
  const left = ctr(s, 'crash', 'crash');
  t.same([left.state, left.backoffMs], ['waiting', 2000], 'killed while the container waited 2 s');
  const planned = Date.parse(left.nextStartAt!);

  t.equal((await s.cli(['ps'])).code, 0, 'ps starts a new monitor, which adopts the pod');
  t.equal((await waiting(4000)).restartCount, 2, 'after the third exit: 4 s, doubled from the saved 2 s, not 1 s again');
  // The lower bounds are the back-off itself (a slow machine only makes the gaps longer); a
  // timer may fire a millisecond or so early by the wall clock.
  const at = readFileSync(starts, 'utf8')
    .trim()
    .split('\n')
    .map((ns) => Number(BigInt(ns) / 1_000_000n));
  t.equal(at.length, 3, 'three starts');
  t.ok(at[1] - at[0] >= 1000 - 20, `the first restart waited 1 s (${at[1] - at[0]} ms)`);
  t.ok(at[2] - at[1] >= 2000 - 20, `the second, 2 s, across the monitor restart (${at[2] - at[1]} ms)`);
  t.ok(at[2] >= planned - 20, 'the new monitor did not start it before the time the killed one had planned');
});
