// Manifests people already have, run as they are: kubectl run's output and a pod copied from a
// cluster (examples/kubernetes), with a busybox image imported into the test's store under the
// name they use; and a manifest with a field whose meaning tspod would drop, refused whole.
import t, { type Test } from 'tap';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { tempDir } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/proc.js';
import { testState, type TestState } from '../helpers/state.js';
import { NO_BUSYBOX, busyboxMembers, haveBusybox } from '../helpers/busybox.js';
import { memoryLimitFile } from '../helpers/cgroup.js';
import type { PodRecord } from '../../src/state/records.js';
import { buildImage, writeOciLayoutDir, writeTar } from '../helpers/image-builder.js';

const skip = !isRoot ? NOT_ROOT : !haveBusybox ? NO_BUSYBOX : undefined;
if (skip) t.plan(0, skip);

/** A test state whose store holds a busybox image named as the manifests name it. */
async function withBusybox(t: Test, name: string): Promise<TestState> {
  const s = testState(t, { TSPOD_IMAGE_ROOT: tempDir(t, 'images') });
  const layout = writeOciLayoutDir(
    join(tempDir(t, 'src'), 'layout'),
    buildImage({ layers: [writeTar(busyboxMembers())], config: { Env: ['PATH=/bin'] } }),
  );
  const r = await s.cli(['image', 'import', layout, '--name', name]);
  if (r.code !== 0) throw new Error(r.stderr);
  return s;
}

const logs = async (s: TestState, pod: string, c: string) => (await s.cli(['logs', pod, c])).stdout;

t.test("kubectl run's output runs unchanged, without a warning", async (t) => {
  const s = await withBusybox(t, 'busybox');
  const r = await s.cli(['run', '-d', '-f', 'examples/kubernetes/kubectl-run.yaml']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'web\n');
  t.equal(r.stderr, '', 'no warning');
  t.equal(await waitFor('its line', async () => (await logs(s, 'web', 'web')) || undefined), 'web runs on web\n');
  t.match((await s.cli(['ps'])).stdout, /^web\s+web\s+\d+\s+running\s/m);
});

t.test('a pod copied from a cluster runs unchanged, with its memory limit, and two warnings', async (t) => {
  const s = await withBusybox(t, 'busybox:latest');
  const file = 'examples/kubernetes/kubectl-get-pod.yaml';
  const r = await s.cli(['run', '-d', '-f', file]);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, 'web-6b7f9c8d54-x2k4p\n');
  t.same(r.stderr.split('\n'), [
    `tspod: warning: ${file}: spec.containers[0].imagePullPolicy: Always: tspod never pulls; the image in its store is used`,
    `tspod: warning: ${file}: spec.volumes[0]: kube-api-access-8vq2d, the API server's service account volume, is ` +
      `dropped with its mounts: tspod has no API server`,
    '',
  ]);
  const pod = 'web-6b7f9c8d54-x2k4p';
  t.equal(await waitFor('its line', async () => (await logs(s, pod, 'web')) || undefined), `web runs on ${pod}\n`);
  const rec = s.store.read(pod) as PodRecord;
  t.equal(readFileSync(memoryLimitFile(rec, 'web'), 'utf8').trim(), String(64 * 2 ** 20), "the memory limit is in its cgroup's file");
});

t.test('a manifest with a field whose meaning would be dropped is refused whole: nothing is created', async (t) => {
  const s = await withBusybox(t, 'busybox');
  const file = join(tempDir(t, 'manifest'), 'gated.yaml');
  writeFileSync(
    file,
    'apiVersion: v1\nkind: Pod\nmetadata: {name: gated}\nspec:\n  readinessGates: [{conditionType: example.com/ready}]\n' +
      '  containers: [{name: a, image: busybox, command: [sleep, "60"]}]\n',
  );
  for (const detach of [['-d'], []]) {
    const r = await s.cli(['run', ...detach, '-f', file]);
    t.equal(r.code, 125);
    t.equal(
      r.stderr,
      `tspod: ${file}: spec.readinessGates: field is not supported by tspod: are conditions set by outside ` +
        `controllers; tspod has none, and would report the pod ready without them\n`,
    );
  }
  t.same(
    readdirSync(join(s.root, 'pods')).filter((n) => n === 'gated'),
    [],
    'no pod state',
  );
});

t.test(
  "hostAliases, subdomain, and dnsConfig with dnsPolicy None are in an image container's /etc/hosts and /etc/resolv.conf",
  async (t) => {
    const s = await withBusybox(t, 'busybox');
    const file = join(tempDir(t, 'manifest'), 'names.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Pod',
        'metadata: {name: names, namespace: shop}',
        'spec:',
        '  restartPolicy: Never',
        '  subdomain: api',
        '  hostAliases: [{ip: 10.1.2.3, hostnames: [db, db.internal]}]',
        '  dnsPolicy: None',
        '  dnsConfig: {nameservers: [192.0.2.53], searches: [shop.svc.cluster.local], options: [{name: ndots, value: "5"}]}',
        '  containers: [{name: a, image: busybox, command: [cat, /etc/hosts, /etc/resolv.conf]}]',
        '',
      ].join('\n'),
    );
    const r = await s.cli(['run', '-f', file]);
    t.equal(r.code, 0, r.stderr);
    // A foreground pod's lines come prefixed with their container's name.
    const out = r.stdout.replace(/^a +\| /gm, '');
    t.match(out, /^127\.0\.1\.1\tnames\.api\.shop\.svc\.cluster\.local\tnames$/m, 'the FQDN, then the short name');
    t.match(out, /^10\.1\.2\.3\tdb\tdb\.internal$/m, 'the alias');
    t.match(out, /^nameserver 192\.0\.2\.53\nsearch shop\.svc\.cluster\.local\noptions ndots:5$/m, "resolv.conf is dnsConfig's alone");
  },
);

t.test("a container's termination message: its file, or with FallbackToLogsOnError the end of its log", async (t) => {
  const s = await withBusybox(t, 'busybox');
  const file = join(tempDir(t, 'manifest'), 'ends.yaml');
  const ctr = (name: string, script: string, extra = '') => `  - {name: ${name}, image: busybox, command: [sh, -c, '${script}']${extra}}`;
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: ends}',
      'spec:',
      '  restartPolicy: Never',
      '  securityContext: {runAsUser: 1000}',
      '  containers:',
      ctr('file', 'echo migrated 42 rows > /dev/termination-log; exit 3'),
      ctr('path', 'echo done > /tmp/why; exit 0', ', terminationMessagePath: /tmp/why'),
      ctr('logs', 'echo one; echo boom; exit 1', ', terminationMessagePolicy: FallbackToLogsOnError'),
      ctr('quiet', 'exit 0', ', terminationMessagePolicy: FallbackToLogsOnError'),
      '',
    ].join('\n'),
  );
  t.equal((await s.cli(['run', '-d', '-f', file])).code, 0);
  const rec = await waitFor('every container to end', () => {
    const r = s.store.read('ends') as PodRecord | undefined;
    return r && r.containers.every((c) => c.lastExit) ? r : undefined;
  });
  const messages = Object.fromEntries(rec.containers.map((c) => [c.name, c.lastExit?.message]));
  t.same(
    messages,
    { file: 'migrated 42 rows\n', path: 'done\n', logs: 'one\nboom', quiet: undefined },
    'a non-root user writes the file; the log is taken only for a failed run with nothing in the file',
  );
  t.match((await s.cli(['inspect', 'ends'])).stdout, /^ {4}message: "migrated 42 rows\\n"$/m, 'inspect shows it');
});
