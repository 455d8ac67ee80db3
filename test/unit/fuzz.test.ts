// Fuzzing the inputs anyone may hand tspod, through the entry points the CLI and the monitor
// use: manifests (YAML and JSON), the API's request bodies, tar streams, OCI layouts and docker
// save archives, and state records. Deterministic seeds; TSPOD_FUZZ_ROUNDS for more rounds.
// Unpacking and the control socket itself are fuzzed as root (test/root/fuzz.test.ts).
import t, { type Test } from 'tap';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addContainerFromBody, createPodFromBody, graceFromBody, manifestFromBody, updateFromBody } from '../../src/monitor/api.js';
import { hostPlatform, readImages } from '../../src/image/formats.js';
import { DirSource, TarSource } from '../../src/image/source.js';
import { tarMembers } from '../../src/image/tar.js';
import { loadBinding } from '../../src/native/binding.js';
import { podFromManifestText } from '../../src/pod/manifest.js';
import { StateStore } from '../../src/state/store.js';
import { FUZZ_SCALE, holds, mutateBytes, mutateJson, rng } from '../helpers/fuzz.js';
import { buildImage, dockerSaveFiles, ociLayoutFiles, tarOfFiles, writeTar } from '../helpers/image-builder.js';
import { tempDir } from '../helpers/cleanup.js';

const ROUNDS = 400 * FUZZ_SCALE;

function scratch(t: Test): string {
  const dir = tempDir(t, 'fuzz');
  return dir;
}

const MANIFEST = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'fz', labels: { app: 'x' }, annotations: { 'tspod.io/network': 'pod' } },
  spec: {
    hostname: 'fz',
    restartPolicy: 'OnFailure',
    terminationGracePeriodSeconds: 3,
    volumes: [{ name: 'v', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }],
    containers: [
      {
        name: 'a',
        command: ['/bin/true'],
        args: ['$(X)'],
        env: [{ name: 'X', value: 'y' }],
        ports: [{ containerPort: 80, hostPort: 8080 }],
        volumeMounts: [{ name: 'v', mountPath: '/v' }],
        securityContext: { runAsUser: 1 },
        resources: { requests: { cpu: '250m' }, limits: { cpu: 1, memory: '64Mi' } },
      },
    ],
    resources: { limits: { memory: '1Gi' } },
  },
};
const YAML_TEXT = `apiVersion: v1
kind: Pod
metadata:
  name: fz
  labels: { app: x }
spec:
  containers:
  - name: a
    command: [/bin/true]
    env: [{ name: X, value: &v y }]
    args: [*v, "$(X)"]
`;

t.test('manifests, YAML and JSON: a pod or an InputError naming the file and field', async (t) => {
  const r = rng(1);
  const json = JSON.stringify(MANIFEST);
  const texts = function* () {
    for (let i = 0; i < ROUNDS; i++) {
      yield JSON.stringify(mutateJson(r, MANIFEST));
      yield mutateBytes(r, Buffer.from(json)).toString('latin1');
      yield mutateBytes(r, Buffer.from(YAML_TEXT)).toString('utf8');
    }
  };
  await holds(
    t,
    'manifest text',
    texts(),
    (text) => podFromManifestText(text, 'fz.yaml'),
    (text) => JSON.stringify(text.slice(0, 200)),
  );
});

t.test("the API's request bodies: a request or an InputError naming the field", async (t) => {
  const r = rng(2);
  const spec = {
    name: 'fz',
    containers: [{ name: 'a', command: ['/bin/true'], args: [], env: [], resources: { limits: { memory: '64Mi' } }, pidsLimit: 10 }],
    ports: [],
    volumes: [],
    resources: { limits: { cpu: '2' } },
    pidsLimit: 100,
    cgroupParent: '/x',
  };
  const bodies = function* () {
    for (let i = 0; i < ROUNDS; i++) {
      yield ['create', mutateJson(r, { spec, persistent: false })] as const;
      yield ['create', mutateJson(r, { manifest: { text: YAML_TEXT, file: 'x.yaml', workingDir: '/' } })] as const;
      yield ['container', mutateJson(r, { container: spec.containers[0], restartPolicy: 'Always' })] as const;
      yield ['manifest', mutateJson(r, { text: JSON.stringify(MANIFEST), file: 'x.json' })] as const;
      yield ['grace', mutateJson(r, { grace: 3 })] as const;
      yield ['update', mutateJson(r, { limits: { cpu: '500m', memory: '128Mi' }, pidsLimit: 64 })] as const;
    }
  };
  const call = ([kind, body]: readonly [string, unknown]) =>
    kind === 'create'
      ? createPodFromBody(body)
      : kind === 'container'
        ? addContainerFromBody(body)
        : kind === 'manifest'
          ? manifestFromBody(body)
          : kind === 'update'
            ? updateFromBody(body)
            : graceFromBody(body);
  await holds(t, 'request bodies', bodies(), call, ([kind, body]) => `${kind} ${JSON.stringify(body)?.slice(0, 200)}`);
});

t.test('tar streams: members or a TspodError, never another error', async (t) => {
  const r = rng(3);
  const tar = writeTar([
    { path: 'd/', type: 'dir' },
    { path: 'd/f', body: 'hello' },
    { path: 'l', type: 'symlink', linkname: 'd/f' },
    { path: 'h', type: 'hardlink', linkname: 'd/f' },
    { path: 'x'.repeat(150) + '/long', body: 'pax path' },
    { path: 'attr', body: 'x', xattrs: { 'user.a': 'b' }, pax: { mtime: '1700000000.5' } },
  ]);
  const streams = function* () {
    for (let i = 0; i < ROUNDS; i++) yield mutateBytes(r, tar);
  };
  await holds(
    t,
    'tar streams',
    streams(),
    async (bytes) => {
      async function* once() {
        yield bytes;
      }
      for await (const m of tarMembers(once())) if ('entry' in m) for await (const chunk of m.body()) void chunk;
    },
    (bytes) => `${bytes.length} bytes`,
  );
});

t.test('OCI layouts and docker save archives (directories and tars): plans or a TspodError', async (t) => {
  const dir = scratch(t);
  const r = rng(4);
  const binding = loadBinding();
  const image = buildImage({ layers: [writeTar([{ path: 'f', body: 'x' }])], refName: 'fz:1', config: { Cmd: ['sh'] } });
  const sources = [ociLayoutFiles(image), dockerSaveFiles({ layers: [writeTar([{ path: 'f', body: 'x' }])], repoTags: ['fz:1'] })];
  let n = 0;
  const cases = function* () {
    for (let i = 0; i < ROUNDS / 4; i++) {
      for (const files of sources) {
        // One member's bytes mutated, or a JSON document's value.
        const copy = new Map(files);
        const names = [...copy.keys()];
        const name = names[Math.floor(r() * names.length)];
        const data = copy.get(name)!;
        let mutated: Buffer;
        try {
          mutated =
            name.endsWith('.json') || name === 'oci-layout'
              ? Buffer.from(JSON.stringify(mutateJson(r, JSON.parse(data.toString()))))
              : mutateBytes(r, data);
        } catch {
          mutated = mutateBytes(r, data);
        }
        copy.set(name, mutated);
        yield { files: copy, name, asTar: r() < 0.5, at: join(dir, `case${n++}`) };
      }
    }
  };
  await holds(
    t,
    'image files',
    cases(),
    async ({ files, asTar, at }) => {
      if (asTar) {
        writeFileSync(at, tarOfFiles(files));
        return readImages(new TarSource(at, at), hostPlatform());
      }
      for (const [path, data] of files) {
        mkdirSync(join(at, path, '..'), { recursive: true });
        writeFileSync(join(at, path), data);
      }
      return readImages(new DirSource(at, binding), hostPlatform());
    },
    ({ name, asTar }) => `${asTar ? 'tar' : 'directory'} with ${name} mutated`,
  );
});

t.test('state records: a pod record or a TspodError naming the file; a listing skips what it cannot read', async (t) => {
  const dir = scratch(t);
  const r = rng(5);
  const store = new StateStore(join(dir, 'state'));
  store.ensureRoot();
  const record = {
    version: 1,
    name: 'p',
    spec: {
      name: 'p',
      hostname: 'p',
      share: ['net'],
      terminationGracePeriodSeconds: 3,
      restartPolicy: 'Always',
      network: { mode: 'pod' },
      ports: [],
      volumes: [],
      labels: {},
      annotations: {},
    },
    createdAt: '2026-01-01T00:00:00Z',
    supervisor: { kind: 'monitor', pid: 1, startTime: '1' },
    persistent: false,
    state: 'running',
    infra: { process: { pid: 2, startTime: '2' } },
    containers: [
      {
        name: 'a',
        spec: { name: 'a', command: ['x'], args: [], env: [] },
        restartPolicy: 'Always',
        state: 'running',
        restartCount: 0,
        process: { pid: 3, startTime: '3' },
      },
    ],
  };
  store.reserve('p');
  const texts = function* () {
    for (let i = 0; i < ROUNDS; i++) {
      yield JSON.stringify(mutateJson(r, record));
      yield mutateBytes(r, Buffer.from(JSON.stringify(record))).toString('latin1');
    }
  };
  await holds(
    t,
    'pod records',
    texts(),
    (text) => {
      writeFileSync(store.paths.podFile('p'), text);
      const listed = store.list();
      // What a listing keeps, the commands read: it must be what they expect.
      for (const rec of listed) for (const c of rec.containers) void [c.name, c.state, c.restartCount, c.spec.command.length];
      return store.read('p');
    },
    (text) => JSON.stringify(text.slice(0, 200)),
  );
  t.same(readdirSync(join(dir, 'state', 'pods')), ['p'], 'nothing but the record was touched');
});
