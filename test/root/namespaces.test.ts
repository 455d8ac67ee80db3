// Which namespaces a pod's processes are in, through the CLI: `tspod inspect --json` against
// the inodes of /proc/PID/ns/*, for pods that share all, some, or none of net, ipc, uts, pid.
import t from 'tap';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { nsInode, type NsName } from '../helpers/proc.js';
import { testState } from '../helpers/state.js';

if (!isRoot) t.plan(0, NOT_ROOT);

const SHAREABLE: NsName[] = ['net', 'ipc', 'uts', 'pid'];

interface Inspected {
  infra: { process: { pid: number }; namespaces: Record<NsName, number> };
  containers: { name: string; process: { pid: number }; namespaces: Record<NsName, number> }[];
}

for (const share of ['net,ipc,uts,pid', 'net', '']) {
  t.test(`--share '${share}': shared namespaces are the infra's, the others new for each container`, async (t) => {
    const s = testState(t);
    const created = await s.cli(['pod', 'create', 'p', '--share', share]);
    t.equal(created.code, 0, created.stderr);
    for (const name of ['a', 'b']) {
      const r = await s.cli(['run', '-d', '--pod', 'p', '--name', name, '--', 'sleep', '1000']);
      t.equal(r.code, 0, r.stderr);
    }
    const r = await s.cli(['inspect', 'p', '--json']);
    t.equal(r.code, 0, r.stderr);
    const view = JSON.parse(r.stdout) as Inspected;
    const [a, b] = view.containers;
    for (const p of [view.infra, a, b]) {
      for (const ns of [...SHAREABLE, 'mnt'] as NsName[]) {
        t.equal(p.namespaces[ns], nsInode(p.process.pid, ns), `inspect's ${ns} of pid ${p.process.pid} is /proc's`);
      }
    }
    const shared = share ? share.split(',') : [];
    for (const ns of SHAREABLE) {
      if (shared.includes(ns)) {
        t.ok(
          a.namespaces[ns] === view.infra.namespaces[ns] && b.namespaces[ns] === view.infra.namespaces[ns],
          `${ns}: both in the infra's`,
        );
      } else {
        const all = new Set([view.infra.namespaces[ns], a.namespaces[ns], b.namespaces[ns]]);
        t.equal(all.size, 3, `${ns}: a, b and the infra each in a namespace of their own`);
      }
    }
    t.equal(new Set([view.infra, a, b].map((p) => p.namespaces.mnt)).size, 3, 'mnt: always one each');
    t.equal((await s.cli(['rm', '-f', 'p'])).code, 0);
  });
}
