// Records as the read-only commands show them: a live supervisor's record is taken as it is
// written; without one, each process is checked against /proc. Real /proc entries: this test
// process is the live supervisor, a start time that does not match is a process that is gone.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../helpers/cli.js';
import { observedAll, podReady, podStatus } from '../../src/state/view.js';
import { startTimeOf } from '../../src/native/identity.js';
import { RECORD_VERSION, type ContainerRecord, type PodRecord } from '../../src/state/records.js';
import { newPodSpec } from '../../src/pod/spec.js';

const me = { pid: process.pid, startTime: startTimeOf(process.pid)! };
/** This pid with another start time: the kernel says a different (so: gone) process. */
const gone = { pid: process.pid, startTime: '1' };

function record(name: string, supervisor: { pid: number; startTime: string }): PodRecord {
  const spec = newPodSpec(name, [{ name: 'a', command: ['true'], args: [], env: [] }]);
  const { containers, ...podSpec } = spec;
  return {
    version: RECORD_VERSION,
    name,
    spec: podSpec,
    createdAt: new Date().toISOString(),
    supervisor: { kind: 'monitor', ...supervisor },
    persistent: false,
    state: 'running',
    infra: { process: gone },
    containers: [
      {
        name: 'a',
        spec: containers[0],
        state: 'running',
        process: gone,
        restartCount: 0,
        restartPolicy: 'Never',
      } as PodRecord['containers'][0],
    ],
  };
}

t.test('a live supervisor keeps its records current: they are shown as written', async (t) => {
  const r = record('live', me);
  const [seen] = observedAll([r]);
  t.equal(seen, r, 'the same record, not a copy');
  t.equal(seen.state, 'running');
});

t.test("without its supervisor, a record's gone processes are shown gone", async (t) => {
  const [seen] = observedAll([record('orphan', gone)]);
  t.equal(seen.state, 'failed');
  t.match(seen.reason, /its infra process \(pid \d+\) is gone/);
  t.equal(seen.containers[0].state, 'exited');
  t.equal(seen.containers[0].lastExit?.unknown, true, 'its exit status is unknown');
});

t.test('many records of one supervisor and of none, in one list', async (t) => {
  const records = [...Array.from({ length: 50 }, (_, i) => record(`p${i}`, me)), record('orphan', gone)];
  const seen = observedAll(records);
  t.equal(seen.filter((r) => r.state === 'running').length, 50);
  t.equal(seen.at(-1)!.state, 'failed');
});

t.test('a process that cannot be looked at (EMFILE) is not taken for one that ended', async (t) => {
  // A process of its own, every fd taken: reading /proc/PID/stat fails with EMFILE.
  const identity = JSON.stringify(join(repoRoot, 'dist/native/identity.js'));
  const script = `
    const { isRunning, startTimeOf } = require(${identity});
    const fs = require('fs');
    const self = { pid: process.pid, startTime: startTimeOf(process.pid) };
    const held = [];
    for (;;) { try { held.push(fs.openSync('/dev/null', 'r')); } catch { break; } }
    let full;
    try { full = String(isRunning(self)); } catch (e) { full = e.code; }
    for (const fd of held) fs.closeSync(fd);
    console.log(JSON.stringify({ full, after: isRunning(self), gone: isRunning({ pid: 2 ** 22 + 1, startTime: '1' }) }));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout), { full: 'EMFILE', after: true, gone: false }, 'EMFILE is thrown; a pid with no process is gone');
});

t.test("kubectl's STATUS and READY of a pod, from its record", async (t) => {
  const at = new Date().toISOString();
  const exit = (code: number) => ({ code, signal: null, at });
  const c = (name: string, over: Partial<ContainerRecord>): ContainerRecord => ({
    name,
    spec: { name, command: ['true'], args: [], env: [] },
    restartPolicy: 'Always',
    state: 'running',
    restartCount: 0,
    ...over,
  });
  const pod = (containers: ContainerRecord[], state: PodRecord['state'] = 'running'): PodRecord => ({
    ...record('p', me),
    state,
    containers,
  });
  const held = c('app', { state: 'waiting', held: true });
  const cases: [string, PodRecord, string, string][] = [
    [
      'the first init container runs',
      pod([c('one', { kind: 'init' }), c('two', { kind: 'init', state: 'waiting', held: true }), held]),
      'Init:0/2',
      '0/1',
    ],
    [
      'the first succeeded, the second runs',
      pod([c('one', { kind: 'init', state: 'exited', lastExit: exit(0) }), c('two', { kind: 'init' }), held]),
      'Init:1/2',
      '0/1',
    ],
    [
      'an init container waits for its restart after a failure',
      pod([c('one', { kind: 'init', state: 'waiting', nextStartAt: at, lastExit: exit(1) }), held]),
      'Init:CrashLoopBackOff',
      '0/1',
    ],
    ['a sidecar that has not started holds the init', pod([c('proxy', { kind: 'sidecar', started: false }), held]), 'Init:0/1', '0/2'],
    [
      'a started, ready sidecar and a ready container',
      pod([c('proxy', { kind: 'sidecar', started: true, ready: true }), c('app', { started: true, ready: true })]),
      'Running',
      '2/2',
    ],
    ['a container not ready', pod([c('app', { started: true, ready: false })]), 'Running', '0/1'],
    ['a container in back-off', pod([c('app', { state: 'waiting', nextStartAt: at, lastExit: exit(2) })]), 'CrashLoopBackOff', '0/1'],
    [
      'a pod whose init container failed',
      pod([c('one', { kind: 'init', state: 'exited', lastExit: exit(7) }), held], 'failed'),
      'Init:Error',
      '0/1',
    ],
    ['a pod whose container failed', pod([c('app', { state: 'exited', lastExit: exit(1) })], 'failed'), 'Error', '0/1'],
    ['a completed pod', pod([c('app', { state: 'exited', lastExit: exit(0) })], 'completed'), 'Completed', '0/1'],
    ['a stopped pod', pod([c('app', { state: 'exited' })], 'stopped'), 'Stopped', '0/1'],
  ];
  for (const [what, r, status, ready] of cases) {
    t.equal(podStatus(r), status, `${what}: ${status}`);
    t.equal(podReady(r), ready, `${what}: READY ${ready}`);
  }
});
