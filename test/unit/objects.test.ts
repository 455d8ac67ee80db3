// ConfigMaps and Secrets: read from manifests, stored, referred to by pods, and turned into
// variables; tspod play's reading of a file with several objects.
import t, { type Test } from 'tap';
import { chmodSync, closeSync, openSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../src/errors.js';
import { containerSpec, manifestFields, volume } from '../../src/pod/fields.js';
import { containerEnv } from '../../src/pod/env.js';
import { podFromManifest } from '../../src/pod/manifest.js';
import { noObjects, objectFromManifest, podObjects, type StoredObject } from '../../src/pod/objects.js';
import { newPodSpec } from '../../src/pod/spec.js';
import { readPlayFile } from '../../src/cli/play.js';
import { ObjectStore, requireOwnerOnly } from '../../src/state/objects.js';
import { StatePaths } from '../../src/state/paths.js';
import { tempDir } from '../helpers/cleanup.js';

const check = manifestFields();
const b64 = (s: string) => Buffer.from(s).toString('base64');
const configMap = (data: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'cfg' },
  data,
  ...extra,
});
const secret = (extra: Record<string, unknown>) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds' }, ...extra });
const text = (o: StoredObject, key: string) => Buffer.from(o.data[key], 'base64').toString();

function inputError(t: Test, fn: () => unknown, field: string, problem: RegExp): void {
  try {
    fn();
    t.fail(`expected an error at ${field}`);
  } catch (err) {
    t.type(err, InputError);
    t.equal((err as InputError).field, field);
    t.match((err as InputError).problem, problem);
  }
}

t.test('a ConfigMap: text data and binaryData, each a key of bytes; only data keys are text', async (t) => {
  const o = objectFromManifest(configMap({ 'app.conf': 'x=1\n' }, { binaryData: { logo: b64('\x00\x01') } }), check);
  t.equal(o.kind, 'ConfigMap');
  t.equal(text(o, 'app.conf'), 'x=1\n');
  t.same(Buffer.from(o.data.logo, 'base64'), Buffer.from([0, 1]));
  t.same(o.text, ['app.conf']);
});

t.test('a Secret: data is base64, stringData is written over it key by key, type defaults to Opaque', async (t) => {
  const o = objectFromManifest(secret({ data: { user: b64('admin'), pass: b64('old') }, stringData: { pass: 'new' } }), check);
  t.equal(text(o, 'user'), 'admin');
  t.equal(text(o, 'pass'), 'new');
  t.equal(o.type, 'Opaque');
});

t.test('bad objects are refused with the field that is wrong', async (t) => {
  inputError(t, () => objectFromManifest(secret({ data: { k: 'not base64!' } }), check), 'data.k', /not base64/);
  inputError(t, () => objectFromManifest(configMap({ 'a/b': 'x' }), check), 'data["a/b"]', /only letters, digits/);
  inputError(t, () => objectFromManifest(configMap({ '..x': 'x' }), check), 'data["..x"]', /start with "\.\."/);
  inputError(t, () => objectFromManifest(configMap({ n: 1 }), check), 'data.n', /must be a string/);
  inputError(t, () => objectFromManifest(configMap({ k: 'x' }, { binaryData: { k: b64('y') } }), check), 'binaryData.k', /in data too/);
  inputError(t, () => objectFromManifest(configMap({ big: 'x'.repeat(1024 * 1024 + 1) }), check), 'data', /more than a ConfigMap may/);
  inputError(t, () => objectFromManifest(configMap({}, { metadata: { name: 'Cfg' } }), check), 'metadata.name', /DNS/);
  inputError(
    t,
    () => objectFromManifest(configMap({}, { unknownField: 1 }), check),
    'unknownField',
    /not a field of the Kubernetes ConfigMap/,
  );
});

t.test('env, envFrom and volumes that name objects are read with their paths checked', async (t) => {
  const c = containerSpec(
    {
      name: 'app',
      command: ['sh'],
      env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'a', optional: true } } }],
      envFrom: [{ prefix: 'S_', secretRef: { name: 'creds' } }],
    },
    'c',
    check,
  );
  t.same(c.env[0].valueFrom, { configMapKeyRef: { name: 'cfg', key: 'a', optional: true } });
  t.same(c.envFrom, [{ prefix: 'S_', secretRef: { name: 'creds' } }]);
  inputError(
    t,
    () => containerSpec({ name: 'a', command: ['sh'], envFrom: [{ configMapRef: { name: 'x' }, secretRef: { name: 'y' } }] }, 'c', check),
    'c.envFrom[0]',
    /exactly one of configMapRef and secretRef/,
  );
  inputError(
    t,
    () => containerSpec({ name: 'a', command: ['sh'], env: [{ name: 'A', valueFrom: { secretKeyRef: { name: 's' } } }] }, 'c', check),
    'c.env[0].valueFrom.secretKeyRef.key',
    /is required/,
  );
  t.same(volume({ name: 'v', secret: { secretName: 'creds', defaultMode: 0o400, items: [{ key: 'k', path: 'd/k' }] } }, 'v', check), {
    name: 'v',
    secret: { secretName: 'creds', defaultMode: 0o400, items: [{ key: 'k', path: 'd/k' }] },
  });
  inputError(
    t,
    () => volume({ name: 'v', configMap: { name: 'c', defaultMode: 0o1000 } }, 'v', check),
    'v.configMap.defaultMode',
    /file mode/,
  );
  inputError(
    t,
    () => volume({ name: 'v', configMap: { name: 'c', items: [{ key: 'k', path: '../k' }] } }, 'v', check),
    'v.configMap.items[0].path',
    /relative/,
  );
  inputError(t, () => volume({ name: 'v', secret: { optional: true } }, 'v', check), 'v.secret.secretName', /is required/);
});

t.test("a pod's references: missing objects and keys are errors at the field that names them, unless optional", async (t) => {
  const cfg = objectFromManifest(configMap({ a: '1' }, { binaryData: { bin: b64('x') } }), check);
  const lookup = (kind: string, name: string) => (kind === 'ConfigMap' && name === 'cfg' ? cfg : undefined);
  const pod = (containers: unknown[], volumes: unknown[] = []) =>
    podFromManifest({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers, volumes } });
  const ref = (key: string, name = 'cfg', optional?: boolean) => ({
    name: 'app',
    command: ['sh'],
    env: [{ name: 'V', valueFrom: { configMapKeyRef: { name, key, ...(optional ? { optional } : {}) } } }],
  });
  t.same(Object.keys(podObjects(pod([ref('a')]), lookup).ConfigMap), ['cfg'], 'the named object is copied');
  inputError(
    t,
    () => podObjects(pod([ref('zz')]), lookup),
    'spec.containers[0].env[0].valueFrom.configMapKeyRef.key',
    /ConfigMap "cfg" has no key "zz"/,
  );
  inputError(t, () => podObjects(pod([ref('bin')]), lookup), 'spec.containers[0].env[0].valueFrom.configMapKeyRef.key', /no key "bin"/);
  inputError(
    t,
    () => podObjects(pod([ref('a', 'nope')]), lookup),
    'spec.containers[0].env[0].valueFrom.configMapKeyRef.name',
    /ConfigMap "nope" does not exist/,
  );
  t.same(podObjects(pod([ref('a', 'nope', true)]), lookup), noObjects(), 'optional: nothing asked, nothing copied');
  inputError(
    t,
    () => podObjects(pod([{ name: 'app', command: ['sh'], envFrom: [{ secretRef: { name: 'creds' } }] }]), lookup),
    'spec.containers[0].envFrom[0].secretRef.name',
    /Secret "creds" does not exist/,
  );
  const vol = (source: unknown) => pod([{ name: 'app', command: ['sh'] }], [{ name: 'v', ...(source as object) }]);
  inputError(
    t,
    () => podObjects(vol({ secret: { secretName: 's' } }), lookup),
    'spec.volumes[0].secret.secretName',
    /Secret "s" does not exist/,
  );
  inputError(
    t,
    () => podObjects(vol({ configMap: { name: 'cfg', items: [{ key: 'x', path: 'x' }] } }), lookup),
    'spec.volumes[0].configMap.items[0].key',
    /ConfigMap "cfg" has no key "x"/,
  );
  t.ok(
    podObjects(vol({ configMap: { name: 'cfg', optional: true, items: [{ key: 'x', path: 'x' }] } }), lookup),
    'optional items may be missing',
  );
});

t.test('variables: envFrom in order with its prefix, names that are no variable skipped, env over it, Secrets decoded', async (t) => {
  const cfg = objectFromManifest(configMap({ MODE: 'dev', '1st': 'y', SHARED: 'from-cfg' }), check);
  const creds = objectFromManifest(secret({ data: { token: b64('s3cret') } }), check);
  const objects = { ConfigMap: { cfg }, Secret: { creds } };
  const c = containerSpec(
    {
      name: 'app',
      command: ['sh'],
      envFrom: [
        { configMapRef: { name: 'cfg' } },
        { prefix: 'S_', secretRef: { name: 'creds' } },
        { configMapRef: { name: 'gone', optional: true } },
      ],
      env: [
        { name: 'SHARED', value: 'from-env' },
        { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } },
        { name: 'MISSING', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'nokey', optional: true } } },
      ],
    },
    'c',
    check,
  );
  const env = containerEnv(newPodSpec('p'), c, [], undefined, objects);
  t.equal(env.get('MODE'), 'dev');
  t.equal(env.get('S_token'), 's3cret');
  t.equal(env.get('TOKEN'), 's3cret');
  t.equal(env.get('SHARED'), 'from-env', 'env wins over envFrom');
  t.notOk(env.has('1st'), 'a key that is no variable name (a digit first) is skipped');
  t.notOk(env.has('MISSING'), 'an optional key that is missing is no variable');
});

t.test('the object store: 0600 files in 0700 directories, a taken name refused, removal', async (t) => {
  const root = tempDir(t, 'objects');
  const store = new ObjectStore(new StatePaths(root));
  const obj = objectFromManifest(secret({ stringData: { k: 'v' } }), check);
  store.create(obj);
  t.same(store.get('Secret', 'creds'), obj);
  t.equal(statSync(join(root, 'secrets/creds.json')).mode & 0o777, 0o600);
  t.equal(statSync(join(root, 'secrets')).mode & 0o777, 0o700);
  t.throws(() => store.create(obj), { name: 'Conflict', message: /Secret "creds" exists already/ });
  t.same(readdirSync(join(root, 'secrets')), ['creds.json'], 'no temporary file left');
  t.same(store.names('Secret'), ['creds']);
  t.equal(store.get('ConfigMap', 'creds'), undefined, 'kinds have their own names');
  store.remove('Secret', 'creds');
  t.throws(() => store.remove('Secret', 'creds'), { name: 'NotFound' });
});

t.test('a file whose mode is not 0600 after it was made so is refused, naming the file', async (t) => {
  const file = join(tempDir(t, 'mode'), 'f');
  writeFileSync(file, '', { mode: 0o600 });
  const fd = openSync(file, 'r');
  try {
    t.doesNotThrow(() => requireOwnerOnly(fd, file));
    chmodSync(file, 0o644);
    t.throws(() => requireOwnerOnly(fd, file), { message: new RegExp(`${file}: made with mode 0600, it has mode 0644`) });
  } finally {
    closeSync(fd);
  }
});

t.test('play files: documents and Lists of Pods, ConfigMaps and Secrets; controllers, other kinds and duplicates refused', async (t) => {
  const file = `
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: "1"}
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Secret
  metadata: {name: creds}
  stringData: {k: v}
- apiVersion: v1
  kind: Pod
  metadata: {name: web}
  spec: {containers: [{name: c, command: [sh]}]}
---
`;
  const read = await readPlayFile('f.yaml', file, () => {});
  t.same(
    read.objects.map((o) => `${o.kind}/${o.name}`),
    ['ConfigMap/cfg', 'Secret/creds'],
  );
  t.same(
    read.pods.map((p) => p.name),
    ['web'],
  );
  const refused = async (text: string, message: RegExp) =>
    t.rejects(
      readPlayFile('f.yaml', text, () => {}),
      { name: 'InputError', message },
    );
  await refused(
    'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n',
    /^f\.yaml: Deployment "d": kind: Deployment is a controller; .*spec\.template/,
  );
  await refused('apiVersion: v1\nkind: Service\nmetadata: {name: s}\n', /kind: Service is not run by tspod/);
  await refused('apiVersion: v1\nmetadata: {name: s}\n', /f\.yaml: document 1: kind: is required/);
  await refused(
    'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n',
    /f\.yaml: document 2: metadata\.name: a second ConfigMap named "c" \(the first is document 1\)/,
  );
  await refused('apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: "!!"}\n', /^f\.yaml: Secret "s": data\.k: is not base64/);
});
