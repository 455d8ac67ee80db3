// Resources as a manifest and the CLI give them, and the cgroup files they become: quantities
// parsed exactly, the kubelet's conversions, and each bad value named.
import t from 'tap';
import { cpuQuotaUs, cpuShares, cpuWeight, limitFiles } from '../../src/cgroup/limits.js';
import { applyResourceOptions } from '../../src/cli/options.js';
import { containerSpec } from '../../src/pod/fields.js';
import { podFromManifest } from '../../src/pod/manifest.js';
import { cpuMillis, memoryBytes, resourceAmounts } from '../../src/pod/resources.js';

t.test('quantities: every suffix, exact decimals, rounded up as Kubernetes rounds', async (t) => {
  t.equal(cpuMillis('250m', 'c'), 250);
  t.equal(cpuMillis('1.5', 'c'), 1500);
  t.equal(cpuMillis(0.1, 'c'), 100, 'a YAML number; 0.1 is not 100.00000000000001');
  t.equal(cpuMillis('.5', 'c'), 500);
  t.equal(cpuMillis('2', 'c'), 2000);
  t.equal(cpuMillis('1n', 'c'), 1, 'a part of a millicore rounds up');
  t.equal(cpuMillis('1500u', 'c'), 2);
  t.equal(cpuMillis('1e-3', 'c'), 1);
  t.equal(memoryBytes('512Mi', 'm'), 512 * 2 ** 20);
  t.equal(memoryBytes('1G', 'm'), 1e9);
  t.equal(memoryBytes('1.5Gi', 'm'), 1.5 * 2 ** 30);
  t.equal(memoryBytes('128974848', 'm'), 128974848);
  t.equal(memoryBytes('129e6', 'm'), 129e6);
  t.equal(memoryBytes('123k', 'm'), 123000);
  t.equal(memoryBytes('0.5', 'm'), 1, 'half a byte is a byte');
  for (const bad of ['1x', '', 'Mi', '1 Mi', '1.2.3', '0x10', '1MB', '--1', null, true, {}]) {
    t.throws(() => memoryBytes(bad, 'spec.x'), { field: 'spec.x', message: /is not a quantity/ }, JSON.stringify(bad));
  }
  t.throws(() => cpuMillis('-1', 'spec.cpu'), { field: 'spec.cpu', message: /must not be negative/ });
  t.throws(() => memoryBytes('100Ei', 'spec.m'), { field: 'spec.m', message: /more than tspod can set/ });
  t.throws(() => memoryBytes('1e500', 'spec.m'), { field: 'spec.m', message: /out of range/ });
});

const container = (resources: unknown) => containerSpec({ name: 'a', command: ['x'], resources }, 'spec.containers[0]');

t.test("a container's resources: checked and named field by field", async (t) => {
  t.same(container({}).resources, {}, 'resources: {} (kubectl run writes it) asks for nothing');
  t.same(container({ limits: { cpu: '250m', memory: '64Mi' } }).resources, { limits: { cpu: '250m', memory: '64Mi' } });
  t.same(container({ requests: { cpu: 0.5 } }).resources, { requests: { cpu: '0.5' } });
  const cases: [unknown, string, RegExp][] = [
    [{ limits: { cpu: '1x' } }, 'spec.containers[0].resources.limits.cpu', /not a quantity/],
    [{ limits: { memory: 0 } }, 'spec.containers[0].resources.limits.memory', /must be more than 0/],
    [{ limits: { memory: '-64Mi' } }, 'spec.containers[0].resources.limits.memory', /must not be negative/],
    [
      { requests: { cpu: '500m' }, limits: { cpu: '250m' } },
      'spec.containers[0].resources.requests.cpu',
      /500m is more than the limit 250m/,
    ],
    [{ requests: { memory: '1Gi' }, limits: { memory: '1G' } }, 'spec.containers[0].resources.requests.memory', /more than the limit/],
    [{ limits: { 'ephemeral-storage': '1Gi' } }, 'spec.containers[0].resources.limits.ephemeral-storage', /not enforced by tspod yet/],
    [{ requests: { 'hugepages-2Mi': '2Mi' } }, 'spec.containers[0].resources.requests.hugepages-2Mi', /not enforced by tspod yet/],
    [{ limits: { gpu: 1 } }, 'spec.containers[0].resources.limits.gpu', /not supported by tspod/],
    [{ claims: [] }, 'spec.containers[0].resources.claims', /not supported by tspod/],
  ];
  for (const [resources, field, message] of cases) {
    t.throws(() => container(resources), { field, message }, JSON.stringify(resources));
  }
  t.throws(() => containerSpec({ name: 'a', command: ['x'], pidsLimit: 0 }, 'c'), { field: 'c.pidsLimit', message: /from 1/ });
});

t.test("pod-level resources in a manifest are checked as a container's are", async (t) => {
  const pod = (resources: unknown) =>
    podFromManifest({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { resources, containers: [{ name: 'a', command: ['x'] }] },
    });
  t.same(pod({ limits: { memory: '1Gi' } }).resources, { limits: { memory: '1Gi' } });
  t.throws(() => pod({ limits: { cpu: 'lots' } }), { field: 'spec.resources.limits.cpu', message: /not a quantity/ });
});

t.test("Kubernetes' defaulting: a limit without a request is the request", async (t) => {
  t.same(resourceAmounts({ limits: { cpu: '250m', memory: '64Mi' } }, 64), {
    cpuRequestMillis: 250,
    cpuLimitMillis: 250,
    memoryLimitBytes: 64 * 2 ** 20,
    pidsLimit: 64,
  });
  t.same(resourceAmounts({ requests: { cpu: '100m', memory: '1Gi' } }), { cpuRequestMillis: 100 }, 'a memory request sets no file');
  t.same(resourceAmounts(undefined), {});
});

t.test("the kubelet's conversions: shares, weight, quota", async (t) => {
  t.equal(cpuShares(250), 256);
  t.equal(cpuShares(1000), 1024);
  t.equal(cpuShares(1), 2, 'at least 2');
  t.equal(cpuShares(1_000_000), 262144, 'at most 262144');
  t.equal(cpuWeight(2), 1);
  t.equal(cpuWeight(1024), 39);
  t.equal(cpuWeight(262144), 10000);
  t.equal(cpuQuotaUs(200), 20000);
  t.equal(cpuQuotaUs(1500), 150000);
  t.equal(cpuQuotaUs(5), 1000, 'at least 1 ms a period');
});

t.test('the files each layout gets, in the order they are written', async (t) => {
  const a = resourceAmounts({ limits: { cpu: '200m', memory: '64Mi' } }, 64);
  t.same(limitFiles(2, 'cpu', a, true), [
    ['cpu.weight', '8'],
    ['cpu.max', '20000 100000'],
  ]);
  t.same(limitFiles(1, 'cpu', a, true), [
    ['cpu.shares', '204'],
    ['cpu.cfs_period_us', '100000'],
    ['cpu.cfs_quota_us', '20000'],
  ]);
  t.same(limitFiles(2, 'memory', a, true), [
    ['memory.max', '67108864'],
    ['memory.swap.max', '0'],
    ['memory.oom.group', '1'],
  ]);
  t.same(
    limitFiles(2, 'memory', a, false),
    [
      ['memory.max', '67108864'],
      ['memory.swap.max', '0'],
    ],
    "a pod's cgroup is not OOM-killed whole",
  );
  t.same(limitFiles(1, 'memory', a, true), [
    ['memory.limit_in_bytes', '67108864'],
    ['memory.memsw.limit_in_bytes', '67108864'],
  ]);
  t.same(limitFiles(2, 'pids', a, true), [['pids.max', '64']]);
  t.same(limitFiles(1, 'pids', {}, true), [], 'nothing asked, nothing written');
});

t.test("podman's --cpus, --memory and --pids-limit", async (t) => {
  const target: { resources?: object; pidsLimit?: number } = {};
  applyResourceOptions(target, { cpus: '0.5', memory: '64m', pidsLimit: '100' });
  t.same(target, { resources: { limits: { cpu: '0.5', memory: String(64 * 2 ** 20) } }, pidsLimit: 100 });
  const m = (memory: string) => {
    const o: { resources?: { limits?: { memory?: string } } } = {};
    applyResourceOptions(o, { memory });
    return o.resources?.limits?.memory;
  };
  t.equal(m('1G'), String(2 ** 30));
  t.equal(m('512k'), '524288');
  t.equal(m('1000'), '1000');
  t.equal(m('1.5g'), String(1.5 * 2 ** 30));
  const bad: [object, string, RegExp][] = [
    [{ cpus: '0' }, '--cpus', /more than 0/],
    [{ cpus: '-1' }, '--cpus', /not a number of cpus/],
    [{ cpus: '1m' }, '--cpus', /not a number of cpus/],
    [{ memory: '64q' }, '--memory', /not a size/],
    [{ memory: '0m' }, '--memory', /more than 0/],
    [{ pidsLimit: '-1' }, '--pids-limit', /not a whole number/],
    [{ pidsLimit: '0' }, '--pids-limit', /from 1/],
  ];
  for (const [o, field, message] of bad) t.throws(() => applyResourceOptions({}, o), { field, message }, JSON.stringify(o));
});
