import t, { type Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadManifest, parseManifestText, podFromManifest } from '../../src/pod/manifest.js';
import { InputError } from '../../src/errors.js';
import { containerSpec } from '../../src/pod/fields.js';
import { KUBE_FIELDS, fieldTableMarkdown } from '../../src/pod/kube-fields.js';
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

t.test('a field whose meaning tspod would drop is refused, with its path and why', async (t) => {
  const mutate = (f: (d: any) => void) => {
    const d = base();
    f(d);
    return d;
  };
  const cases: [string, (d: any) => void, RegExp][] = [
    ['spec.containers[0].lifecycle.stopSignal', (d) => (d.spec.containers[0].lifecycle = { stopSignal: 'SIGUSR1' }), /SIGTERM/],
    [
      'spec.containers[0].lifecycle.preStop.tcpSocket',
      (d) => (d.spec.containers[0].lifecycle = { preStop: { tcpSocket: { port: 80 } } }),
      /never runs it/,
    ],
    ['spec.readinessGates', (d) => (d.spec.readinessGates = [{ conditionType: 'x' }]), /outside controllers/],
    [
      'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution',
      (d) => (d.spec.affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: {} } }),
      /cannot test/,
    ],
    ['spec.nodeSelector["disktype"]', (d) => (d.spec.nodeSelector = { disktype: 'ssd' }), /cannot test/],
    ['spec.nodeSelector["kubernetes.io/os"]', (d) => (d.spec.nodeSelector = { 'kubernetes.io/os': 'windows' }), /this host is linux/],
    ['spec.automountServiceAccountToken', (d) => (d.spec.automountServiceAccountToken = true), /no token/],
    ['spec.setHostnameAsFQDN', (d) => (d.spec.setHostnameAsFQDN = true), /FQDN as the kernel hostname/],
    ['spec.os.name', (d) => (d.spec.os = { name: 'windows' }), /Linux/],
    ['spec.containers[0].stdin', (d) => (d.spec.containers[0].stdin = true), /stdin/],
    [
      'spec.containers[0].securityContext.appArmorProfile',
      (d) => (d.spec.containers[0].securityContext = { appArmorProfile: { type: 'RuntimeDefault' } }),
      /AppArmor/,
    ],
    ['spec.securityContext.seLinuxOptions', (d) => (d.spec.securityContext = { seLinuxOptions: { level: 's0:c1' } }), /SELinux/],
    ['spec.securityContext.supplementalGroupsPolicy', (d) => (d.spec.securityContext = { supplementalGroupsPolicy: 'Strict' }), /groups/],
    [
      'spec.volumes[0].projected',
      (d) => (d.spec.volumes = [{ name: 'x', projected: { sources: [{ secret: { name: 's' } }] } }]),
      /projected/,
    ],
    ['spec.volumes[0].nfs', (d) => (d.spec.volumes = [{ name: 'x', nfs: { server: 'h', path: '/' } }]), /volume type is not supported/],
  ];
  for (const [field, f, problem] of cases) fieldError(t, mutate(f), field, problem);
});

t.test('a field that is not in the Pod v1 object is named, with the nearest one', async (t) => {
  const d = base() as any;
  d.spec.containers[1].livnessProbe = {};
  fieldError(t, d, 'spec.containers[1].livnessProbe', /^is not a field of the Kubernetes Container \(did you mean livenessProbe\?\)$/);
  const e = base() as any;
  e.spec.zzz = 1;
  fieldError(t, e, 'spec.zzz', /^is not a field of the Kubernetes PodSpec \(fields here: containers, initContainers, /);
});

t.test('what asks nothing of one host is accepted and changes nothing', async (t) => {
  const d = base() as any;
  Object.assign(d.metadata, { uid: 'u', resourceVersion: '1', creationTimestamp: null, managedFields: [] });
  Object.assign(d.spec, {
    enableServiceLinks: true,
    tolerations: [{ operator: 'Exists' }],
    priority: 0,
    schedulerName: 'default-scheduler',
    nodeName: 'node-1',
    nodeSelector: { 'kubernetes.io/os': 'linux' },
    affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } },
    hostPID: false,
    serviceAccount: 'default',
  });
  Object.assign(d.spec.containers[0], { imagePullPolicy: 'IfNotPresent', tty: false });
  d.status = { phase: 'Running' };
  const warnings: string[] = [];
  t.same(
    podFromManifest(d, (w) => warnings.push(w)),
    podFromManifest(base()),
  );
  t.same(warnings, [], 'and says nothing');
});

t.test('the API takes only what tspod does: an accepted Kubernetes field is refused there', async (t) => {
  t.throws(() => containerSpec({ name: 'a', command: ['true'], imagePullPolicy: 'IfNotPresent' }, 'container'), {
    field: 'container.imagePullPolicy',
    message:
      'container.imagePullPolicy: field is not supported by tspod (supported here: name, image, command, args, workingDir, env, envFrom, ' +
      'resources, restartPolicy, volumeMounts, livenessProbe, readinessProbe, startupProbe, lifecycle, terminationMessagePath, ' +
      'terminationMessagePolicy, securityContext, rootfs, pidsLimit)',
  });
});

t.test("the pod's securityContext holds its containers' defaults", async (t) => {
  const d = base() as any;
  d.spec.securityContext = { runAsUser: 1000, runAsGroup: 100 };
  d.spec.containers[1].securityContext = { runAsUser: 0, readOnlyRootFilesystem: true };
  const pod = podFromManifest(d);
  t.same(pod.containers[0].securityContext, { runAsUser: 1000, runAsGroup: 100 });
  t.same(pod.containers[1].securityContext, { runAsUser: 0, runAsGroup: 100, readOnlyRootFilesystem: true }, "a container's own win");
});

t.test("kubectl run's output and a pod exported from a cluster are read as the pods they describe", async (t) => {
  const warnings: string[] = [];
  const run = await loadManifest('examples/kubernetes/kubectl-run.yaml', (w) => warnings.push(w));
  t.same(warnings, []);
  t.equal(run.name, 'web');
  t.same(run.labels, { run: 'web' });
  t.equal(run.restartPolicy, 'Always');
  t.same(run.containers, [
    {
      name: 'web',
      image: 'busybox',
      command: ['sh', '-c', 'echo web runs on $(hostname); exec sleep 3600'],
      args: [],
      env: [],
      resources: {},
    },
  ]);

  const file = 'examples/kubernetes/kubectl-get-pod.yaml';
  const got = await loadManifest(file, (w) => warnings.push(w));
  t.equal(got.name, 'web-6b7f9c8d54-x2k4p');
  t.same(got.labels, { app: 'web', 'pod-template-hash': '6b7f9c8d54' });
  t.same(got.volumes, [], 'the service account volume is dropped');
  t.same(got.containers[0].volumeMounts, undefined, 'and its mount');
  t.same(got.containers[0].resources, { limits: { memory: '64Mi' }, requests: { cpu: '50m', memory: '32Mi' } });
  t.same(got.ports, [], 'a containerPort without hostPort publishes nothing');
  t.same(warnings, [
    `${file}: spec.containers[0].imagePullPolicy: Always: tspod never pulls; the image in its store is used`,
    `${file}: spec.volumes[0]: kube-api-access-8vq2d, the API server's service account volume, is dropped with its ` +
      `mounts: tspod has no API server`,
  ]);
});

t.test('docs/MANIFESTS.md prints the field table as the code has it', async (t) => {
  const doc = readFileSync('docs/MANIFESTS.md', 'utf8');
  const start = doc.indexOf('<!-- fields: begin -->\n');
  const end = doc.indexOf('<!-- fields: end -->');
  t.ok(start >= 0 && end > start, 'the markers are there');
  t.equal(
    doc.slice(start + '<!-- fields: begin -->\n'.length, end),
    fieldTableMarkdown(),
    "the table between the markers is the code's (regenerate: npx tsc && node -e " +
      '"process.stdout.write(require(\'./dist/pod/kube-fields.js\').fieldTableMarkdown())"',
  );
});

t.test('every accepted or refused field says why', async (t) => {
  for (const [type, fields] of Object.entries(KUBE_FIELDS)) {
    for (const [name, a] of Object.entries(fields)) if (a.answer !== 'supported') t.ok(a.why.length > 10, `${type}.${name}`);
  }
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
    mutate((d) => ((d.spec.containers[0] as any).terminationMessagePath = 'log/why')),
    'spec.containers[0].terminationMessagePath',
    /must be an absolute path/,
  );
  fieldError(
    t,
    mutate((d) => ((d.spec.containers[0] as any).terminationMessagePath = '/tmp/../etc/x')),
    'spec.containers[0].terminationMessagePath',
    /must name a file: no "\.\."/,
  );
  fieldError(
    t,
    mutate((d) => ((d.spec.containers[0] as any).terminationMessagePolicy = 'Logs')),
    'spec.containers[0].terminationMessagePolicy',
    /must be one of File, FallbackToLogsOnError, not "Logs"/,
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
  t.same(
    await parseManifestText('a: 0400\nb: 0o644\nc: 400\nd: "0400"\ne: 0\n', 'p.yaml'),
    { a: 256, b: 420, c: 400, d: '0400', e: 0 },
    'a leading 0 is octal, as kubectl reads it',
  );
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
    'apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n  - {name: a, command: [sh], livenessProbe: {}}\n',
  );
  await t.rejects(loadManifest(file), {
    message: `${file}: spec.containers[0].livenessProbe: needs a handler: one of exec, httpGet, tcpSocket, grpc`,
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

t.test('probes and hooks: Kubernetes defaults, named ports resolved, each handler kind', async (t) => {
  const d = base() as any;
  d.spec.containers[0].ports = [{ name: 'http', containerPort: 2368 }];
  d.spec.containers[0].livenessProbe = { httpGet: { port: 'http', path: '/health', httpHeaders: [{ name: 'X-Probe', value: '1' }] } };
  d.spec.containers[0].readinessProbe = { tcpSocket: { port: 2368 }, periodSeconds: 5, successThreshold: 2 };
  d.spec.containers[0].startupProbe = { grpc: { port: 9000 }, failureThreshold: 30 };
  d.spec.containers[1].livenessProbe = { exec: { command: ['cat', '/tmp/healthy'] }, terminationGracePeriodSeconds: 3 };
  d.spec.containers[1].lifecycle = { postStart: { exec: { command: ['touch', '/x'] } }, preStop: { sleep: { seconds: 5 } } };
  const pod = podFromManifest(d);
  const timing = { initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 };
  t.same(pod.containers[0].livenessProbe, {
    httpGet: { port: 2368, path: '/health', scheme: 'HTTP', httpHeaders: [{ name: 'X-Probe', value: '1' }] },
    ...timing,
  });
  t.same(pod.containers[0].readinessProbe, { tcpSocket: { port: 2368 }, ...timing, periodSeconds: 5, successThreshold: 2 });
  t.same(pod.containers[0].startupProbe, { grpc: { port: 9000, service: '' }, ...timing, failureThreshold: 30 });
  t.same(pod.containers[1].livenessProbe, { exec: { command: ['cat', '/tmp/healthy'] }, ...timing, terminationGracePeriodSeconds: 3 });
  t.same(pod.containers[1].lifecycle, { postStart: { exec: { command: ['touch', '/x'] } }, preStop: { sleep: { seconds: 5 } } });
});

t.test('init containers and sidecars: read in order, their names shared with the containers', async (t) => {
  const d = base() as any;
  d.spec.initContainers = [
    { name: 'migrate', command: ['migrate'] },
    { name: 'proxy', command: ['proxy'], restartPolicy: 'Always', readinessProbe: { tcpSocket: { port: 15000 } } },
  ];
  const pod = podFromManifest(d);
  t.same(
    pod.initContainers?.map((c) => [c.name, c.restartPolicy ?? '-']),
    [
      ['migrate', '-'],
      ['proxy', 'Always'],
    ],
  );
  t.equal(pod.containers.length, 2, 'the containers as before');
});

t.test('bad probes, hooks and init containers: one error naming the field', async (t) => {
  const mutate = (f: (d: any) => void) => {
    const d = base() as any;
    f(d);
    return d;
  };
  const tcp = { tcpSocket: { port: 80 } };
  const cases: [string, (d: any) => void, RegExp][] = [
    ['spec.containers[0].livenessProbe', (d) => (d.spec.containers[0].livenessProbe = { periodSeconds: 5 }), /needs a handler/],
    [
      'spec.containers[0].livenessProbe.tcpSocket',
      (d) => (d.spec.containers[0].livenessProbe = { exec: { command: ['true'] }, ...tcp }),
      /cannot go with exec/,
    ],
    ['spec.containers[0].livenessProbe.bogus', (d) => (d.spec.containers[0].livenessProbe = { bogus: {} }), /not a field/],
    [
      'spec.containers[0].readinessProbe.periodSeconds',
      (d) => (d.spec.containers[0].readinessProbe = { ...tcp, periodSeconds: 0 }),
      /at least 1/,
    ],
    [
      'spec.containers[0].readinessProbe.timeoutSeconds',
      (d) => (d.spec.containers[0].readinessProbe = { ...tcp, timeoutSeconds: -1 }),
      /at least 1/,
    ],
    [
      'spec.containers[0].readinessProbe.initialDelaySeconds',
      (d) => (d.spec.containers[0].readinessProbe = { ...tcp, initialDelaySeconds: -5 }),
      /at least 0/,
    ],
    [
      'spec.containers[0].livenessProbe.successThreshold',
      (d) => (d.spec.containers[0].livenessProbe = { ...tcp, successThreshold: 2 }),
      /must be 1/,
    ],
    [
      'spec.containers[0].readinessProbe.terminationGracePeriodSeconds',
      (d) => (d.spec.containers[0].readinessProbe = { ...tcp, terminationGracePeriodSeconds: 5 }),
      /not for a readinessProbe/,
    ],
    [
      'spec.containers[0].livenessProbe.httpGet.port',
      (d) => (d.spec.containers[0].livenessProbe = { httpGet: { port: 'http' } }),
      /no port .* "http"/,
    ],
    [
      'spec.containers[0].livenessProbe.httpGet.port',
      (d) => (d.spec.containers[0].livenessProbe = { httpGet: { port: 70000 } }),
      /port number/,
    ],
    [
      'spec.containers[0].livenessProbe.httpGet.host',
      (d) => (d.spec.containers[0].livenessProbe = { httpGet: { port: 80, host: 'example.com' } }),
      /not an IP/,
    ],
    [
      'spec.containers[0].livenessProbe.httpGet.scheme',
      (d) => (d.spec.containers[0].livenessProbe = { httpGet: { port: 80, scheme: 'FTP' } }),
      /HTTP or HTTPS/,
    ],
    ['spec.containers[0].livenessProbe.grpc.port', (d) => (d.spec.containers[0].livenessProbe = { grpc: { port: 'grpc' } }), /port number/],
    [
      'spec.containers[0].livenessProbe.exec.command',
      (d) => (d.spec.containers[0].livenessProbe = { exec: { command: [] } }),
      /must name a program/,
    ],
    ['spec.containers[0].lifecycle.preStop', (d) => (d.spec.containers[0].lifecycle = { preStop: {} }), /needs a handler/],
    [
      'spec.containers[0].lifecycle.preStop.sleep.seconds',
      (d) => (d.spec.containers[0].lifecycle = { preStop: { sleep: { seconds: 0 } } }),
      /at least 1/,
    ],
    [
      'spec.containers[0].lifecycle.preStop.sleep.seconds',
      (d) => (d.spec.containers[0].lifecycle = { preStop: { sleep: { seconds: 60 } } }),
      /longer than the grace period/,
    ],
    ['spec.containers[0].restartPolicy', (d) => (d.spec.containers[0].restartPolicy = 'Always'), /only for an init container/],
    [
      'spec.initContainers[0].restartPolicy',
      (d) => (d.spec.initContainers = [{ name: 'i', command: ['x'], restartPolicy: 'Never' }]),
      /must be Always/,
    ],
    [
      'spec.initContainers[0].livenessProbe',
      (d) => (d.spec.initContainers = [{ name: 'i', command: ['x'], livenessProbe: tcp }]),
      /runs to completion/,
    ],
    [
      'spec.containers[0].name',
      (d) => (d.spec.initContainers = [{ name: 'ghost', command: ['x'] }]),
      /duplicate container name "ghost" \(also spec.initContainers\[0\]\)/,
    ],
    [
      'spec.initContainers[0].volumeMounts[0].name',
      (d) => (d.spec.initContainers = [{ name: 'i', command: ['x'], volumeMounts: [{ name: 'nope', mountPath: '/x' }] }]),
      /no volume named "nope"/,
    ],
  ];
  for (const [field, f, problem] of cases) fieldError(t, mutate(f), field, problem);
});
