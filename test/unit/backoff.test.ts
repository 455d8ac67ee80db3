// The crash back-off alone (runtime/backoff.ts): the kubelet's numbers, doubling, the cap, the
// reset after a long run. The pod tests cover it inside the life cycle, with a fake clock.
import t from 'tap';
import { KUBELET_BACKOFF, nextDelay, type Backoff } from '../../src/runtime/backoff.js';

const B: Backoff = { initialMs: 100, maxMs: 1000, resetMs: 5000 };

t.test('the first restart waits initialMs, each later one twice the last, at most maxMs', async (t) => {
  const delays: number[] = [];
  let last = 0;
  for (let i = 0; i < 7; i++) delays.push((last = nextDelay(B, last, 10)));
  t.same(delays, [100, 200, 400, 800, 1000, 1000, 1000]);
});

t.test('a run of resetMs or longer starts over at initialMs; a shorter one keeps doubling', async (t) => {
  t.equal(nextDelay(B, 800, 5000), 100, 'ran exactly resetMs');
  t.equal(nextDelay(B, 800, 60_000), 100, 'ran longer');
  t.equal(nextDelay(B, 800, 4999), 1000, 'one ms short of the reset: doubled, capped');
  t.equal(nextDelay(B, 200, 0), 400, 'a start that failed (ran 0 ms) keeps growing the back-off');
});

t.test("the kubelet's: 10 s, doubling, capped at 5 minutes, reset after 10 minutes", async (t) => {
  t.same(KUBELET_BACKOFF, { initialMs: 10_000, maxMs: 300_000, resetMs: 600_000 });
  let last = 0;
  const delays: number[] = [];
  for (let i = 0; i < 7; i++) delays.push((last = nextDelay(KUBELET_BACKOFF, last, 1000)));
  t.same(delays, [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
  t.equal(nextDelay(KUBELET_BACKOFF, 300_000, 600_000), 10_000);
});
