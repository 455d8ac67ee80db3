import t from 'tap';
import { cpus, totalmem } from 'node:os';
import { downwardValue, formatMap, hostAddress, usesPodIP, volumeFileValue } from '../../src/pod/downward.js';
import { containerEnv } from '../../src/pod/env.js';
import { podFromManifest } from '../../src/pod/manifest.js';
import type { EnvSource, PodSpec } from '../../src/pod/spec.js';

const manifest = (env: unknown[], extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' }, annotations: { 'example.com/team': 'blue' } },
  spec: {
    serviceAccountName: 'builder',
    containers: [
      { name: 'a', command: ['true'], env, resources: { limits: { cpu: '1500m', memory: '64Mi' }, requests: { cpu: '250m' } } },
      { name: 'b', command: ['true'] },
    ],
    ...extra,
  },
});
const facts = { podIP: '10.88.0.7', hostIP: '192.0.2.10', nodeName: 'node-a' };
const field = (fieldPath: string): EnvSource => ({ fieldRef: { fieldPath } });
const resource = (r: string, divisor?: string, containerName?: string): EnvSource => ({
  resourceFieldRef: { resource: r, ...(divisor ? { divisor } : {}), ...(containerName ? { containerName } : {}) },
});

t.test("fieldRef: the pod's fields and where it runs, as Kubernetes names them", async (t) => {
  const pod: PodSpec = { ...podFromManifest(manifest([])), uid: '0c3f7a9e-1b2d-4e5f-8a6b-7c8d9e0f1a2b' };
  const c = pod.containers[0];
  const cases: [string, string][] = [
    ['metadata.name', 'web'],
    ['metadata.namespace', 'shop'],
    ['metadata.uid', '0c3f7a9e-1b2d-4e5f-8a6b-7c8d9e0f1a2b'],
    ["metadata.labels['app']", 'web'],
    ["metadata.annotations['example.com/team']", 'blue'],
    ["metadata.labels['missing']", ''],
    ['spec.nodeName', 'node-a'],
    ['spec.serviceAccountName', 'builder'],
    ['status.podIP', '10.88.0.7'],
    ['status.hostIP', '192.0.2.10'],
  ];
  for (const [path, want] of cases) t.equal(downwardValue(pod, c, field(path), facts), want, path);
  t.equal(downwardValue(pod, c, field('status.podIP'), { ...facts, podIP: undefined }), '', 'a pod without an address: empty');
  const hostNet = { ...pod, network: { mode: 'host' as const } };
  t.equal(downwardValue(hostNet, c, field('status.podIP'), { ...facts, podIP: undefined }), '192.0.2.10', "host network: the host's");
  t.match(hostAddress(), /^(\d+\.\d+\.\d+\.\d+)?$/, "this host's address is an IPv4 address, or none");
});

t.test('resourceFieldRef: requests and limits in the divisor, rounded up; without a limit the host capacity', async (t) => {
  const pod = podFromManifest(manifest([]));
  const [a] = pod.containers;
  const cases: [EnvSource, string][] = [
    [resource('limits.cpu'), '2'],
    [resource('limits.cpu', '1m'), '1500'],
    [resource('requests.cpu', '1m'), '250'],
    [resource('requests.cpu'), '1'],
    [resource('limits.memory'), String(64 * 2 ** 20)],
    [resource('limits.memory', '1Mi'), '64'],
    [resource('limits.memory', '1M'), '68'],
    [resource('requests.memory', '1Mi'), '64'],
    [resource('limits.cpu', undefined, 'b'), String(cpus().length)],
    [resource('limits.memory', undefined, 'b'), String(totalmem())],
    [resource('requests.cpu', undefined, 'b'), '0'],
  ];
  for (const [from, want] of cases) t.equal(downwardValue(pod, a, from, facts), want, JSON.stringify(from.resourceFieldRef));
});

t.test('in the environment: resolved in order, so a later $(VAR) sees them', async (t) => {
  const pod = podFromManifest(
    manifest([
      { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP', apiVersion: 'v1' } } },
      { name: 'URL', value: 'http://$(IP):80/$(POD)' },
    ]),
  );
  t.ok(usesPodIP(pod.containers[0]), 'it asks for the address');
  t.notOk(usesPodIP(pod.containers[1]));
  const env = containerEnv(pod, pod.containers[0], [], { pod, facts: () => facts });
  t.equal(env.get('URL'), 'http://10.88.0.7:80/web');
  t.equal(containerEnv(pod, pod.containers[0]).get('POD'), '', 'without the pod at hand: empty, never the name of something else');
});

t.test('a bad valueFrom is refused with its field', async (t) => {
  const env = (valueFrom: unknown, extra: Record<string, unknown> = {}) => manifest([{ name: 'X', valueFrom, ...extra }]);
  const cases: [unknown, string, RegExp][] = [
    [
      env({ fieldRef: { fieldPath: 'spec.hostname' } }),
      'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath',
      /not a field the downward API gives/,
    ],
    [
      env({ fieldRef: { fieldPath: 'metadata.name', apiVersion: 'v2' } }),
      'spec.containers[0].env[0].valueFrom.fieldRef.apiVersion',
      /must be v1/,
    ],
    [env({ fieldRef: {} }), 'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath', /is required/],
    [env({}), 'spec.containers[0].env[0].valueFrom', /exactly one source, not 0/],
    [
      env({ configMapKeyRef: { name: 'c', key: 'k' }, fieldRef: { fieldPath: 'metadata.name' } }),
      'spec.containers[0].env[0].valueFrom',
      /exactly one source, not 2/,
    ],
    [
      env({ resourceFieldRef: { resource: 'limits.ephemeral-storage' } }),
      'spec.containers[0].env[0].valueFrom.resourceFieldRef.resource',
      /not one tspod gives/,
    ],
    [
      env({ resourceFieldRef: { resource: 'limits.cpu', divisor: '1Mi' } }),
      'spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor',
      /not a divisor for limits\.cpu/,
    ],
    [
      env({ resourceFieldRef: { resource: 'limits.cpu', containerName: 'zz' } }),
      'spec.containers[0].env[0].valueFrom.resourceFieldRef.containerName',
      /no container named "zz"/,
    ],
    [env({ fieldRef: { fieldPath: 'metadata.name' } }, { value: 'x' }), 'spec.containers[0].env[0].valueFrom', /non-empty value/],
  ];
  for (const [doc, field, problem] of cases) t.throws(() => podFromManifest(doc), { name: 'InputError', field, problem }, field);
});

t.test(
  "downwardAPI volume files: labels and annotations as the kubelet writes them, the pod's fields, a container's resources",
  async (t) => {
    const pod: PodSpec = {
      ...podFromManifest(
        manifest([], { volumes: [{ name: 'info', downwardAPI: { items: [{ path: 'l', fieldRef: { fieldPath: 'metadata.labels' } }] } }] }),
      ),
      labels: { tier: 'web', app: 'x"y' },
      uid: 'u-1',
    };
    t.equal(
      formatMap({ b: '2', a: 'say "hi"\n' }),
      'a="say \\"hi\\"\\n"\nb="2"',
      'KEY="VALUE" lines in key order, quoted, no last newline',
    );
    t.equal(volumeFileValue(pod, field('metadata.labels')), 'app="x\\"y"\ntier="web"');
    t.equal(volumeFileValue(pod, field('metadata.annotations')), 'example.com/team="blue"');
    t.equal(volumeFileValue(pod, field("metadata.labels['tier']")), 'web');
    t.equal(volumeFileValue(pod, field('metadata.uid')), 'u-1');
    t.equal(volumeFileValue(pod, resource('limits.memory', '1Mi', 'a')), '64');
    t.equal(volumeFileValue(pod, resource('requests.cpu', '1m', 'a')), '250');
  },
);

t.test('a bad downwardAPI volume is refused with its field', async (t) => {
  const vol = (items: unknown[]) => manifest([], { volumes: [{ name: 'info', downwardAPI: { items } }] });
  const at = 'spec.volumes[0].downwardAPI.items[0]';
  const cases: [unknown, string, RegExp][] = [
    [vol([{ path: 'ip', fieldRef: { fieldPath: 'status.podIP' } }]), `${at}.fieldRef.fieldPath`, /for env only/],
    [vol([{ path: 'm', resourceFieldRef: { resource: 'limits.memory' } }]), `${at}.resourceFieldRef.containerName`, /required in a volume/],
    [
      vol([{ path: 'm', resourceFieldRef: { resource: 'limits.memory', containerName: 'zz' } }]),
      `${at}.resourceFieldRef.containerName`,
      /no container named "zz"/,
    ],
    [vol([{ path: 'x' }]), at, /exactly one of fieldRef and resourceFieldRef/],
    [vol([{ path: '../x', fieldRef: { fieldPath: 'metadata.name' } }]), `${at}.path`, /relative path/],
    [vol([{ fieldRef: { fieldPath: 'metadata.name' } }]), `${at}.path`, /is required/],
  ];
  for (const [doc, field, problem] of cases) t.throws(() => podFromManifest(doc), { name: 'InputError', field, problem }, field);
});
