// --network host: the pod keeps the host's network namespace; the others are still new.
import t from 'tap';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { nsInode } from '../helpers/proc.js';
import { testState } from '../helpers/state.js';

if (!isRoot) t.plan(0, NOT_ROOT);

t.test("host network: infra and containers in the host's network namespace, the rest their own", async (t) => {
  const s = testState(t);
  const r = await s.cli(['run', '-d', '--name', 'hostnet', '--network', 'host', '--', 'sleep', '1000']);
  t.equal(r.code, 0, r.stderr);
  const rec = s.store.read('hostnet')!;
  const infra = rec.infra!.process.pid;
  const ctr = rec.containers[0].process!.pid;
  const host = nsInode('thread-self', 'net');
  t.equal(nsInode(infra, 'net'), host, 'the infra is in the host network');
  t.equal(nsInode(ctr, 'net'), host, 'so is the container');
  for (const ns of ['ipc', 'uts', 'pid'] as const)
    t.not(nsInode(infra, ns), nsInode('thread-self', ns), `the ${ns} namespace is the pod's own`);
  t.same(rec.network, { mode: 'host', ports: [] });

  const mapped = await s.cli(['run', '-d', '--name', 'hostnet2', '--network', 'host', '-p', '8880:80', '--', 'true']);
  t.equal(mapped.code, 125);
  t.match(mapped.stderr, /^tspod: ports: host port 8880 -> 80: with the host network a pod's ports are the host's own/);
  t.equal(s.store.read('hostnet2'), undefined, 'nothing was created');
});
