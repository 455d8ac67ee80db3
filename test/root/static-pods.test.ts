// Static pods: `tspod monitor --manifests DIR` keeps a pod for every manifest file in DIR. Files
// are added, changed, broken and removed while it runs; the monitor is killed with SIGKILL and
// started again: the directory's pods are what runs, each once, the unchanged one not restarted.
import t from 'tap';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { tempDir } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/proc.js';
import { testState, type TestState } from '../helpers/state.js';

if (!isRoot) t.plan(0, NOT_ROOT);

const pod = (name: string, seconds: number) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, command: [sleep, "${seconds}"]}
`;

/** The pods there are, by name, with their infra's pid; only running ones. */
const running = (s: TestState) =>
  Object.fromEntries(
    s.store
      .list()
      .filter((r) => r.state === 'running')
      .map((r) => [r.name, r.infra!.process.pid]),
  );

t.test('static pods: a file added, changed, broken and removed; the monitor killed and started again', async (t) => {
  const s = testState(t);
  const dir = tempDir(t, 'manifests');
  writeFileSync(join(dir, 'a.yaml'), pod('a', 1000));
  writeFileSync(join(dir, '.hidden.yaml'), pod('hidden', 1000));
  writeFileSync(join(dir, 'notes.txt'), 'not a manifest');
  let monitor = s.start(['monitor', '--manifests', dir]);
  await waitFor('a to run', () => running(s).a);
  const first = running(s);
  t.same(Object.keys(first), ['a'], 'hidden files and other names are not read');
  const annotations = s.store.read('a')!.spec.annotations;
  t.equal(annotations['kubernetes.io/config.source'], 'file');
  t.equal(annotations['tspod.io/static-file'], join(dir, 'a.yaml'));
  t.match(annotations['kubernetes.io/config.hash'], /^[0-9a-f]{32}$/);

  writeFileSync(join(dir, 'b.yaml'), pod('b', 1000));
  await waitFor('b to run', () => running(s).b);
  writeFileSync(join(dir, 'a.yaml'), pod('a', 2000));
  const replaced = await waitFor('a to be replaced', () => (running(s).a && running(s).a !== first.a ? running(s).a : undefined));
  t.same(s.store.read('a')!.containers[0].spec.command, ['sleep', '2000'], 'the changed file is what runs');

  writeFileSync(join(dir, 'a.yaml'), 'kind: Pod\nspec: [');
  await waitFor(
    'the broken file in the log',
    () => monitor.stderr().includes(`static pods: ${join(dir, 'a.yaml')}: invalid YAML`) || undefined,
  );
  writeFileSync(join(dir, 'a.yaml'), pod('a', 2000));
  rmSync(join(dir, 'b.yaml'));
  await waitFor('b to go', () => s.store.read('b') === undefined || undefined);
  t.same(running(s), { a: replaced }, 'a pod whose file stopped parsing was left running, and its file mended to the same text kept it');

  const before = running(s);
  await s.killMonitor();
  t.equal(await monitor.done, 137);
  writeFileSync(join(dir, 'c.yaml'), pod('c', 1000));
  monitor = s.start(['monitor', '--manifests', dir]);
  await waitFor('c to run', () => running(s).c);
  const after = running(s);
  t.same(Object.keys(after).sort(), ['a', 'c'], "the directory's pods, each once");
  t.equal(after.a, before.a, 'the unchanged pod was adopted, not started again');
  t.equal(s.store.read('a')!.supervisor.pid, monitor.child.pid);
  monitor.child.kill('SIGTERM');
  t.equal(await monitor.done, 0);
});

t.test('--manifests must name a directory', async (t) => {
  const s = testState(t);
  const r = await s.cli(['monitor', '--manifests', '/nonexistent/tspod-manifests']);
  t.equal(r.code, 125);
  t.equal(r.stderr, 'tspod: --manifests: /nonexistent/tspod-manifests is not a directory\n');
  t.equal(s.monitorPid(), undefined, 'no monitor started');
});
