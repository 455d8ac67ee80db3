// tspod play, ConfigMaps and Secrets: examples/kubernetes/play.yaml runs as a user would run it,
// its values reach env and files with their modes, and --down leaves nothing; a pod keeps its
// copy of an object removed after it was created; a bad file creates nothing.
import t, { type Test } from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { tempDir } from '../helpers/cleanup.js';
import { mountsUnder, waitFor } from '../helpers/proc.js';
import { testState, type TestState } from '../helpers/state.js';
import { NO_BUSYBOX, busyboxMembers, haveBusybox } from '../helpers/busybox.js';
import { buildImage, writeOciLayoutDir, writeTar } from '../helpers/image-builder.js';

const skip = !isRoot ? NOT_ROOT : !haveBusybox ? NO_BUSYBOX : undefined;
if (skip) t.plan(0, skip);

const EXAMPLE = 'examples/kubernetes/play.yaml';

/** A test state whose store holds a busybox image named busybox. */
async function withBusybox(t: Test): Promise<TestState> {
  const s = testState(t, { TSPOD_IMAGE_ROOT: tempDir(t, 'images') });
  const layout = writeOciLayoutDir(
    join(tempDir(t, 'src'), 'layout'),
    buildImage({ layers: [writeTar(busyboxMembers())], config: { Env: ['PATH=/bin'] } }),
  );
  const r = await s.cli(['image', 'import', layout, '--name', 'busybox']);
  if (r.code !== 0) throw new Error(r.stderr);
  return s;
}

const logs = async (s: TestState, pod: string, c: string) => (await s.cli(['logs', pod, c])).stdout;
const untilLogged = (s: TestState, pod: string, c: string, lines: number) =>
  waitFor(`${pod}'s output`, async () => {
    const out = await logs(s, pod, c);
    return out.split('\n').length > lines ? out : undefined;
  });
const listed = async (s: TestState, kind: 'configmap' | 'secret') =>
  JSON.parse((await s.cli([kind, 'ls', '--json'])).stdout) as { name: string }[];

t.test('play runs the example: objects stored, pods running with their values and files; --down leaves nothing', async (t) => {
  const s = await withBusybox(t);
  const up = await s.cli(['play', EXAMPLE]);
  t.equal(up.code, 0, up.stderr);
  t.equal(up.stdout, 'configmap/app-config\nsecret/app-credentials\npod/app\npod/worker\n');

  const app = await untilLogged(s, 'app', 'app', 9);
  const uid = s.store.read('app')!.spec.uid;
  t.same(
    app.split('\n'),
    [
      'mode=production user=admin password=s3cret',
      'listen 8080',
      'workers 2',
      '644 /etc/app/conf/app.conf',
      '400 /etc/app/credentials/password',
      'touch: /etc/app/conf/new: Read-only file system',
      'app="demo"',
      'tier="web"',
      `app 64Mi ${uid}`,
      '',
    ],
    'env from both objects, the items file with the default mode, the secret with defaultMode 0400, mounted read-only; ' +
      "the downward API's files: labels as the kubelet writes them, the name, the memory limit, the uid in its record",
  );
  t.equal(await untilLogged(s, 'worker', 'worker', 1), 'worker: production admin\n', 'envFrom with prefixes');

  const secretFile = join(s.store.paths.root, 'secrets/app-credentials.json');
  t.equal((await import('node:fs')).statSync(secretFile).mode & 0o777, 0o600, 'the stored Secret is 0600');
  const volumes = join(s.store.paths.pod('app'), 'volumes');
  t.ok(
    readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((l) => l.split(' ')[4] === join(volumes, 'credentials') && / - tmpfs /.test(l)),
    "the secret volume is a tmpfs of the pod's",
  );
  t.same(readdirSync(join(volumes, 'conf')), ['app.conf'], 'only the items chosen');

  const inspected = await s.cli(['inspect', 'app', '--json']);
  t.equal(inspected.code, 0, inspected.stderr);
  t.notMatch(inspected.stdout, /s3cret/, "inspect never prints a Secret's value");

  const again = await s.cli(['play', EXAMPLE]);
  t.not(again.code, 0);
  t.match(again.stderr, /pod "app" exists already/, 'a second play refuses, naming what exists');

  const before = s.store.read('app')!.infra!.process.pid;
  const replace = await s.cli(['play', '--replace', EXAMPLE]);
  t.equal(replace.code, 0, replace.stderr);
  t.equal(replace.stdout, up.stdout, '--replace makes all of it again');
  t.not(s.store.read('app')!.infra!.process.pid, before, 'a new pod');

  const down = await s.cli(['play', '--down', EXAMPLE]);
  t.equal(down.code, 0, down.stderr);
  t.equal(down.stdout, 'removed pod/worker\nremoved pod/app\nremoved configmap/app-config\nremoved secret/app-credentials\n');
  t.same(readdirSync(s.store.paths.podsDir), [], 'no pod directory left');
  t.same(await listed(s, 'configmap'), []);
  t.same(await listed(s, 'secret'), []);
  t.same(mountsUnder(s.store.paths.root), [], 'no mount left');
});

t.test('a pod keeps its copy of a ConfigMap: removed from the store, a restart still gets the value', async (t) => {
  const s = await withBusybox(t);
  t.equal((await s.cli(['configmap', 'create', 'greeting', '--from-literal', 'WORD=hello'])).code, 0);
  const file = join(tempDir(t, 'manifest'), 'pod.yaml');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Pod
metadata: {name: greeter}
spec:
  containers:
  - name: c
    image: busybox
    command: [sh, -c, 'echo "$WORD"; exec sleep 100000']
    env:
    - name: WORD
      valueFrom: {configMapKeyRef: {name: greeting, key: WORD}}
`,
  );
  const r = await s.cli(['run', '-d', '-f', file]);
  t.equal(r.code, 0, r.stderr);
  await untilLogged(s, 'greeter', 'c', 1);
  t.equal((await s.cli(['configmap', 'rm', 'greeting'])).code, 0);
  t.equal((await s.cli(['restart', 'greeter', 'c'])).code, 0);
  t.equal(await untilLogged(s, 'greeter', 'c', 2), 'hello\nhello\n');
});

t.test('a bad file creates nothing: a missing key, a controller, a duplicate name; each error names the object and field', async (t) => {
  const s = await withBusybox(t);
  const dir = tempDir(t, 'bad');
  const pod = (env: string) => `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: busybox
    command: [sh]
    env: [${env}]
`;
  const cases: [string, string, RegExp][] = [
    [
      'missing-key.yaml',
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: "1"}\n---\n` +
        pod('{name: V, valueFrom: {configMapKeyRef: {name: cfg, key: b}}}'),
      /missing-key\.yaml: Pod "p": spec\.containers\[0\]\.env\[0\]\.valueFrom\.configMapKeyRef\.key: ConfigMap "cfg" has no key "b"/,
    ],
    [
      'missing-secret.yaml',
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n---\n${pod('{name: V, valueFrom: {secretKeyRef: {name: s, key: k}}}')}`,
      /Pod "p": spec\.containers\[0\]\.env\[0\]\.valueFrom\.secretKeyRef\.name: Secret "s" does not exist/,
    ],
    [
      'deployment.yaml',
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n`,
      /Deployment "d": kind: Deployment is a controller/,
    ],
    ['twice.yaml', `${pod('')}---\n${pod('')}`, /document 2: metadata\.name: a second Pod named "p"/],
  ];
  for (const [name, text, error] of cases) {
    writeFileSync(join(dir, name), text);
    const r = await s.cli(['play', join(dir, name)]);
    t.not(r.code, 0, `${name}: refused`);
    t.match(r.stderr, error, `${name}: the error names the object and the field`);
    t.equal(r.stderr.trim().split('\n').length, 1, `${name}: in one line`);
  }
  t.same(await listed(s, 'configmap'), [], 'no ConfigMap was stored');
  t.same(readdirSync(s.store.paths.podsDir), [], 'no pod was made');
});

t.test('a pod that fails to start midway: what the run made is removed; --replace of a bad file removes nothing', async (t) => {
  const s = await withBusybox(t);
  const dir = tempDir(t, 'midway');
  const cfg = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: "1"}\n';
  const pod = (name: string, extra = '', env = '') =>
    `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec:\n  containers:\n` +
    `  - {name: c, image: busybox, command: [sleep, "1000"]${env}}\n${extra}`;
  const missingDir = '  volumes: [{name: v, hostPath: {path: /nonexistent/tspod-test, type: Directory}}]\n';
  writeFileSync(join(dir, 'midway.yaml'), `${cfg}---\n${pod('first')}---\n${pod('second', missingDir)}`);
  const r = await s.cli(['play', join(dir, 'midway.yaml')]);
  t.not(r.code, 0);
  t.match(r.stderr, /spec\.volumes\[0\]\.hostPath\.path: \/nonexistent\/tspod-test does not exist/, "the error is the failing pod's");
  t.same(readdirSync(s.store.paths.podsDir), [], 'the first pod, made before, is removed');
  t.same(await listed(s, 'configmap'), [], 'and so is the ConfigMap');

  writeFileSync(join(dir, 'good.yaml'), `${cfg}---\n${pod('kept')}`);
  t.equal((await s.cli(['play', join(dir, 'good.yaml')])).code, 0);
  writeFileSync(join(dir, 'good.yaml'), `${cfg}---\n${pod('kept', '', ', envFrom: [{secretRef: {name: nope}}]')}`);
  const replace = await s.cli(['play', '--replace', join(dir, 'good.yaml')]);
  t.not(replace.code, 0);
  t.match(replace.stderr, /Pod "kept": spec\.containers\[0\]\.envFrom\[0\]\.secretRef\.name: Secret "nope" does not exist/);
  t.same(readdirSync(s.store.paths.podsDir), ['kept'], 'the pod of the earlier run is still there');
  t.same(
    (await listed(s, 'configmap')).map((o) => o.name),
    ['cfg'],
    'and its ConfigMap',
  );
});
