import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadManifest, parseManifestText, podFromManifest } from '../../src/pod/manifest.js';
import { InputError } from '../../src/errors.js';
import { tempDir } from '../helpers/cleanup.js';

const base = () => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'blog', labels: { app: 'blog' } },
  spec: {
    containers: [
      { name: 'ghost', command: ['node', 'ghost.js'], env: [{ name: 'PORT', value: '2368' }] },
      { name: 'nginx', command: ['node'], args: ['proxy.js'], workingDir: '/srv' },
    ],
  },
});

function fieldError(t: Test, doc: unknown, field: string, problem: RegExp) {
  try {
    podFromManifest(doc);
    t.fail(`expected an error for ${field}`);
  } catch (err) {
    t.type(err, InputError);
    t.equal((err as InputError).field, field);
    t.match((err as InputError).problem, problem);
  }
}

t.test('a valid manifest becomes a pod spec with Kubernetes defaults', async (t) => {
  const pod = podFromManifest(base());
  t.equal(pod.name, 'blog');
  t.equal(pod.hostname, 'blog', 'hostname defaults to the pod name');
  t.same(pod.share, ['net', 'ipc', 'uts'], 'shareProcessNamespace absent means false');
  t.equal(pod.terminationGracePeriodSeconds, 30);
  t.same(pod.labels, { app: 'blog' });
  t.same(pod.containers[0], { name: 'ghost', command: ['node', 'ghost.js'], args: [], env: [{ name: 'PORT', value: '2368' }] });
  t.equal(pod.containers[1].workingDir, '/srv');
  const withImage = base();
  Object.assign(withImage.spec.containers[1], { image: 'localhost:5000/team/nginx:1.25' });
  t.equal(
    podFromManifest(withImage).containers[1].image,
    'localhost:5000/team/nginx:1.25',
    'an image name with a registry host and port, as docker writes it',
  );

  const doc = base() as any;
  doc.spec.shareProcessNamespace = true;
  doc.spec.hostname = 'web-1';
  doc.spec.terminationGracePeriodSeconds = 5;
  const p2 = podFromManifest(doc);
  t.same(p2.share, ['net', 'ipc', 'uts', 'pid']);
  t.equal(p2.hostname, 'web-1');
  t.equal(p2.terminationGracePeriodSeconds, 5);
});

t.test('unsupported fields are errors that name their path', async (t) => {
  const mutate = (f: (d: any) => void) => {
    const d = base();
    f(d);
    return d;
  };
  fieldError(
    t,
    mutate((d) => ((d.spec.containers[1] as any).livenessProbe = {})),
    'spec.containers[1].livenessProbe',
    /not supported/,
  );
  fieldError(
    t,
    mutate((d) => (d.spec.nodeName = 'x')),
    'spec.nodeName',
    /not supported/,
  );
  fieldError(
    t,
    mutate((d) => (d.metadata.namespace = 'default')),
    'metadata.namespace',
    /not supported/,
  );
  fieldError(
    t,
    mutate((d) => (d.status = {})),
    'status',
    /not supported/,
  );
  fieldError(
    t,
    mutate((d) => (d.spec.containers[0].env[0].valueFrom = {})),
    'spec.containers[0].env[0].valueFrom',
    /not supported/,
  );
});

t.test('invalid values name their path', async (t) => {
  const mutate = (f: (d: any) => void) => {
    const d = base();
    f(d);
    return d;
  };
  fieldError(
    t,
    mutate((d) => (d.spec.containers[1].name = 'ghost')),
    'spec.containers[1].name',
    /duplicate container name "ghost"/,
  );
  fieldError(
    t,
    mutate((d) => (d.spec.containers[1].name = 'Web_1')),
    'spec.containers[1].name',
    /not a DNS-1123 label/,
  );
  fieldError(
    t,
    mutate((d) => (d.metadata.name = 'a'.repeat(64))),
    'metadata.name',
    /longer than 63/,
  );
  fieldError(
    t,
    mutate((d) => delete d.metadata.name),
    'metadata.name',
    /is required/,
  );
  fieldError(
    t,
    mutate((d) => delete d.spec.containers[0].command),
    'spec.containers[0].command',
    /is required without an image/,
  );
  fieldError(
    t,
    mutate((d) => (d.spec.containers[0].command = [])),
    'spec.containers[0].command',
    /must name a program/,
  );
  fieldError(
    t,
    mutate((d) => (d.spec.containers[0].args = 'x')),
    'spec.containers[0].args',
    /must be a list/,
  );
  fieldError(
    t,
    mutate((d) => (d.spec.containers[0].args = [1])),
    'spec.containers[0].args[0]',
    /must be a string/,
  );
  fieldError(
    t,
    mutate((d) => (d.spec.containers[0].env[0].name = '1X')),
    'spec.containers[0].env[0].name',
    /not a valid environment/,
  );
  fieldError(
    t,
    mutate((d) => (d.spec.containers[1].workingDir = 'srv')),
    'spec.containers[1].workingDir',
    /absolute/,
  );
  fieldError(
    t,
    mutate((d) => (d.spec.containers = [])),
    'spec.containers',
    /at least one/,
  );
  fieldError(
    t,
    mutate((d) => (d.spec.containers[0].image = 'Ghost:5')),
    'spec.containers[0].image',
    /invalid name component "Ghost"/,
  );
  fieldError(
    t,
    mutate((d) => (d.spec.containers[0].image = 'ghost@sha256:00')),
    'spec.containers[0].image',
    /digest references/,
  );
  fieldError(
    t,
    mutate((d) => (d.spec.terminationGracePeriodSeconds = -1)),
    'spec.terminationGracePeriodSeconds',
    /whole number/,
  );
  fieldError(
    t,
    mutate((d) => (d.spec.shareProcessNamespace = 'yes')),
    'spec.shareProcessNamespace',
    /true or false/,
  );
  fieldError(
    t,
    mutate((d) => (d.spec.hostname = 'no_underscores')),
    'spec.hostname',
    /DNS-1123/,
  );
  fieldError(
    t,
    mutate((d) => (d.kind = 'Deployment')),
    'kind',
    /must be "Pod"/,
  );
  fieldError(
    t,
    mutate((d) => (d.apiVersion = 'apps/v1')),
    'apiVersion',
    /must be "v1"/,
  );
  fieldError(t, [], 'manifest', /must be a mapping, not a list/);
});

t.test('YAML and JSON text; parse errors name the file and line', async (t) => {
  const yaml = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: y\nspec:\n  containers:\n  - name: a\n    command: [sleep, "1"]\n';
  t.same(podFromManifest(await parseManifestText(yaml, 'p.yaml')).containers[0].command, ['sleep', '1']);
  t.equal(podFromManifest(await parseManifestText(JSON.stringify(base()), 'p.json')).name, 'blog');
  await t.rejects(parseManifestText('{"a": ', 'p.json'), { name: 'InputError', field: 'p.json', problem: /invalid JSON/ });
  await t.rejects(parseManifestText('a: b: c\n', 'p.yaml'), {
    name: 'InputError',
    field: 'p.yaml',
    problem: /^invalid YAML: Nested mappings .* at line 1, column 4$/,
  });
  await t.rejects(
    parseManifestText('a: 1\na: 2\n', 'p.yaml'),
    { name: 'InputError', problem: /invalid YAML/ },
    'duplicate keys are refused',
  );
  await t.rejects(parseManifestText('a: 1\n---\nb: 2\n', 'p.yaml'), { name: 'InputError', problem: /2 YAML documents/ });
  await t.rejects(parseManifestText('', 'p.yaml'), { name: 'InputError', problem: /is empty/ });
});

t.test('an unresolved YAML alias and an alias bomb are InputErrors naming the file, not ReferenceErrors', async (t) => {
  await t.rejects(parseManifestText('a: *x\n', 'p.yaml'), {
    name: 'InputError',
    field: 'p.yaml',
    problem: /^invalid YAML: Unresolved alias.*: x$/,
  });
  // Nine aliases a level, five levels: 59,049 copies of [1] if every alias were expanded.
  const levels = ['a: &a [1]'];
  for (const [i, name] of ['b', 'c', 'd', 'e', 'f'].entries()) {
    const prev = String.fromCharCode('a'.charCodeAt(0) + i);
    levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  await t.rejects(parseManifestText(levels.join('\n') + '\n', 'bomb.yaml'), {
    name: 'InputError',
    field: 'bomb.yaml',
    problem: /^invalid YAML: Excessive alias count.* \(at most 100 alias expansions\)$/,
  });
});

t.test('loadManifest prefixes errors with the file', async (t) => {
  const dir = tempDir(t, 'manifest');
  const file = join(dir, 'pod.yaml');
  writeFileSync(
    file,
    'apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - {name: a, command: [true], livenessProbe: {}}\n',
  );
  await t.rejects(loadManifest(file), {
    message:
      `${file}: spec.containers[0].livenessProbe: field is not supported by tspod ` +
      '(supported here: name, command, args, env, workingDir, image, rootfs, volumeMounts, securityContext, resources, pidsLimit, ports)',
  });
  await t.rejects(loadManifest(join(dir, 'missing.yaml')), { message: /missing\.yaml: cannot read the manifest: ENOENT/ });
});

t.test('ports, hostNetwork and the network annotation', async (t) => {
  const doc = base() as any;
  doc.spec.containers[1].ports = [
    { containerPort: 80, hostPort: 8880 },
    { containerPort: 53, hostPort: 5353, protocol: 'UDP', hostIP: '127.0.0.1' },
    { containerPort: 9000 },
  ];
  const pod = podFromManifest(doc);
  t.same(
    pod.ports,
    [
      { hostPort: 8880, containerPort: 80, protocol: 'tcp' },
      { hostPort: 5353, containerPort: 53, protocol: 'udp', hostIP: '127.0.0.1' },
    ],
    'only ports with a hostPort are published',
  );
  t.same(pod.network, { mode: 'pod' }, 'the default: a network namespace of its own');

  const host = base() as any;
  host.spec.hostNetwork = true;
  t.same(podFromManifest(host).network, { mode: 'host' });
  const cni = base() as any;
  cni.metadata.annotations = { 'tspod.io/network': 'cni:lab' };
  t.same(podFromManifest(cni).network, { mode: 'cni', name: 'lab' });

  const mutate = (f: (d: any) => void) => {
    const d = base();
    f(d);
    return d;
  };
  fieldError(
    t,
    mutate((d) => (d.spec.containers[0].ports = [{ containerPort: 80, hostPort: 70000 }])),
    'spec.containers[0].ports[0].hostPort',
    /port number from 1 to 65535/,
  );
  fieldError(
    t,
    mutate((d) => (d.spec.containers[0].ports = [{ containerPort: 80, protocol: 'SCTP' }])),
    'spec.containers[0].ports[0].protocol',
    /TCP or UDP/,
  );
  fieldError(
    t,
    mutate((d) => (d.spec.containers[0].ports = [{ hostPort: 80 }])),
    'spec.containers[0].ports[0].containerPort',
    /is required/,
  );
  fieldError(
    t,
    mutate((d) => (d.spec.containers[0].ports = [{ containerPort: 80, hostPort: 80, hostIP: 'localhost' }])),
    'spec.containers[0].ports[0].hostIP',
    /not an IP address/,
  );
  fieldError(
    t,
    mutate((d) => {
      d.spec.containers[0].ports = [{ containerPort: 80, hostPort: 8080 }];
      d.spec.containers[1].ports = [{ containerPort: 81, hostPort: 8080 }];
    }),
    'spec.containers[1].ports[0].hostPort',
    /host port 8080\/tcp is published twice/,
  );
  fieldError(
    t,
    mutate((d) => ((d.metadata as any).annotations = { 'tspod.io/network': 'bridge' })),
    'metadata.annotations["tspod.io/network"]',
    /not a network/,
  );
  fieldError(
    t,
    mutate((d) => {
      (d.metadata as any).annotations = { 'tspod.io/network': 'cni' };
      (d.spec as any).hostNetwork = true;
    }),
    'spec.hostNetwork',
    /contradicts the annotation/,
  );
});

t.test("sizes, labels and annotations by Kubernetes' rules: none too large, none empty-and-unlimited, no odd key", async (t) => {
  const withVolume = (sizeLimit: unknown) => {
    const d = base() as any;
    d.spec.volumes = [{ name: 'v', emptyDir: { medium: 'Memory', sizeLimit } }];
    return d;
  };
  fieldError(t, withVolume('999999999999999999999999999999Ti'), 'spec.volumes[0].emptyDir.sizeLimit', /is more bytes than tspod counts/);
  fieldError(t, withVolume('0'), 'spec.volumes[0].emptyDir.sizeLimit', /must be more than 0/);
  fieldError(t, withVolume(0), 'spec.volumes[0].emptyDir.sizeLimit', /must be more than 0/);
  t.equal((podFromManifest(withVolume('64Mi')).volumes[0] as any).emptyDir.sizeLimit, '64Mi', 'a sound size is kept');

  const meta = (m: object) => {
    const d = base() as any;
    Object.assign(d.metadata, m);
    return d;
  };
  fieldError(t, meta({ labels: { 'a\u0000b': 'x' } }), 'metadata.labels["a\\u0000b"]', /is not a valid key/);
  fieldError(t, meta({ annotations: { 'a\u0000b': 'x' } }), 'metadata.annotations["a\\u0000b"]', /is not a valid key/);
  // JSON.parse makes "__proto__" an own key; assigned into an object, it used to vanish.
  fieldError(t, meta({ labels: JSON.parse('{"__proto__": "x"}') }), 'metadata.labels["__proto__"]', /is not a valid key/);
  fieldError(t, meta({ labels: { app: 'has space' } }), 'metadata.labels["app"]', /is not a valid label value/);
  fieldError(t, meta({ labels: { 'Bad_Prefix/x': 'y' } }), 'metadata.labels["Bad_Prefix/x"]', /prefix "Bad_Prefix" is not a DNS subdomain/);
  fieldError(
    t,
    meta({ annotations: { big: 'x'.repeat(300_000) } }),
    'metadata.annotations',
    /bytes in all: more than Kubernetes takes \(262144\)/,
  );
  const ok = podFromManifest(
    meta({ labels: { 'app.kubernetes.io/name': 'web', tier: '' }, annotations: { 'example.com/note': 'any text: at all' } }),
  );
  t.same(ok.labels, { 'app.kubernetes.io/name': 'web', tier: '' });
  t.same(ok.annotations, { 'example.com/note': 'any text: at all' });
});
