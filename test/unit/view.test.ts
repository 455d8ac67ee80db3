// Records as the read-only commands show them: a live supervisor's record is taken as it is
// written; without one, each process is checked against /proc. Real /proc entries: this test
// process is the live supervisor, a start time that does not match is a process that is gone.
import t from 'tap';
import { observedAll } from '../../src/state/view.js';
import { startTimeOf } from '../../src/runtime/identity.js';
import { RECORD_VERSION, type PodRecord } from '../../src/state/records.js';
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
    containers: [{ name: 'a', spec: containers[0], state: 'running', process: gone, restartCount: 0, restartPolicy: 'Never' } as PodRecord['containers'][0]],
  };
}

t.test('a live supervisor keeps its records current: they are shown as written', async (t) => {
  const r = record('live', me);
  const [seen] = observedAll([r]);
  t.equal(seen, r, 'the same record, not a copy');
  t.equal(seen.state, 'running');
});

t.test('without its supervisor, a record\'s gone processes are shown gone', async (t) => {
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
