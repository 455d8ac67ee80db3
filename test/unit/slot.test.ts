// A container slot's states (runtime/slot.ts): the moves the life cycle makes are allowed, and
// an impossible one throws instead of being recorded.
import t from 'tap';
import type { ContainerLaunch } from '../../src/runtime/container.js';
import { ContainerSlot } from '../../src/runtime/slot.js';
import type { ContainerState } from '../../src/state/records.js';

const launch: ContainerLaunch = { name: 'c', path: '/bin/true', argv: ['true'], env: [], cwd: '/', share: [], hostname: 'p' };
const slot = () => new ContainerSlot({ name: 'c', command: ['true'], args: [], env: [] }, launch, 'Always');

/** A slot brought to `state` by allowed moves. */
function slotIn(state: ContainerState): ContainerSlot {
  const s = slot();
  if (state !== 'waiting') s.moveTo(state);
  return s;
}

t.test('a new slot is waiting', async (t) => {
  t.equal(slot().state, 'waiting');
});

t.test('every move of the life cycle is allowed, and each other one throws naming both states', async (t) => {
  const allowed: [ContainerState, ContainerState][] = [
    ['waiting', 'running'], // started
    ['waiting', 'waiting'], // a start that failed, waiting for the next try
    ['waiting', 'exited'], // stopped while waiting, or the pod ended
    ['running', 'waiting'], // ended; its policy restarts it after the back-off
    ['running', 'exited'], // ended for good
    ['exited', 'running'], // restarted on request
    ['exited', 'waiting'], // a restart on request that failed; the policy tries again
  ];
  const states: ContainerState[] = ['waiting', 'running', 'exited'];
  for (const from of states) {
    for (const to of states) {
      const s = slotIn(from);
      if (allowed.some(([a, b]) => a === from && b === to)) {
        s.moveTo(to);
        t.equal(s.state, to, `${from} -> ${to}`);
      } else {
        t.throws(() => s.moveTo(to), { message: `container c: its state cannot go from ${from} to ${to}` }, `${from} -> ${to} is refused`);
        t.equal(s.state, from, `${from} stays ${from}`);
      }
    }
  }
});

t.test('leaving waiting forgets when the next start was due', async (t) => {
  const s = slot();
  s.nextStartAt = new Date().toISOString();
  s.moveTo('waiting');
  t.ok(s.nextStartAt, 'kept while waiting');
  s.moveTo('running');
  t.equal(s.nextStartAt, undefined);
});
