// The pod's namespaces beyond the four it shares, as the TypeScript works them out: hostPID and
// hostIPC in manifests, options and the infra's spawn; --time-offset and the time namespace
// every container and exec joins.
import t from 'tap';
import { FakeBinding } from '../helpers/fake-binding.js';
import { podFromManifest } from '../../src/pod/manifest.js';
import { checkPodNamespaces, namespaceOption, timeOffsetsOption, timensOffsetsText } from '../../src/pod/namespaces.js';
import { applyNamespaceOptions, applyNetworkOptions } from '../../src/cli/options.js';
import { newPodSpec } from '../../src/pod/spec.js';
import { infraRequest } from '../../src/runtime/infra.js';
import { containerRequest, type ContainerLaunch } from '../../src/runtime/container.js';
import { execRequest } from '../../src/runtime/exec.js';

const c = new FakeBinding().constants;
const manifest = (spec: object) =>
  podFromManifest({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p' },
    spec: { containers: [{ name: 'c', command: ['true'] }], ...spec },
  });

t.test("hostPID and hostIPC: the infra makes no PID or IPC namespace; hostPID's containers share the infra's", async (t) => {
  const p = manifest({ hostPID: true, hostIPC: true });
  t.same([p.hostPID, p.hostIPC, p.share.includes('pid')], [true, true, true]);
  t.throws(() => manifest({ hostPID: true, shareProcessNamespace: true }), { name: 'InputError', field: 'spec.shareProcessNamespace' });
  t.throws(() => manifest({ hostIPC: 'yes' }), { name: 'InputError', field: 'spec.hostIPC' });
  const req = infraRequest(c, { hostname: 'p', stdio: [0, 1, 2], hostPID: true, hostIPC: true });
  t.equal(req.newNamespaces! & (c.CLONE_NEWPID | c.CLONE_NEWIPC), 0, 'no new PID or IPC namespace');
  t.equal(req.newNamespaces! & (c.CLONE_NEWNET | c.CLONE_NEWUTS), c.CLONE_NEWNET | c.CLONE_NEWUTS, 'new net and uts');
  t.throws(() => checkPodNamespaces({ ...newPodSpec('p'), share: ['net'], hostPID: true }), { name: 'InputError', field: 'hostPID' });
  t.throws(() => checkPodNamespaces({ ...newPodSpec('p'), share: ['net'], hostIPC: true }), { name: 'InputError', field: 'hostIPC' });
  t.equal(namespaceOption('--pid', 'host'), 'host');
  t.equal(namespaceOption('--ipc', 'private'), undefined);
  t.throws(() => namespaceOption('--pid', 'container:x'), { name: 'InputError', field: '--pid' });
});

t.test('--time-offset: the clocks and seconds, as /proc/self/timens_offsets takes them', async (t) => {
  t.same(timeOffsetsOption('monotonic=86400,boottime=-5'), { monotonic: 86400, boottime: -5 });
  t.equal(timensOffsetsText({ monotonic: 86400 }), 'monotonic 86400 0\nboottime 0 0\n');
  for (const bad of ['realtime=1', 'monotonic', 'monotonic=1.5', `boottime=${2 ** 41}`]) {
    t.throws(() => timeOffsetsOption(bad), { name: 'InputError', field: '--time-offset' }, bad);
  }
  const infra = infraRequest(c, { hostname: 'p', stdio: [0, 1, 2], timeOffsets: { boottime: 60 } });
  t.equal(infra.timeOffsets, 'monotonic 0 0\nboottime 60 0\n');
});

t.test("a pod with a time namespace: each container and each exec joins the infra's", async (t) => {
  const launch: ContainerLaunch = {
    name: 'c',
    path: '/bin/true',
    argv: ['true'],
    env: [],
    cwd: '/',
    share: ['net', 'pid'],
    timeNamespace: true,
    hostname: 'p',
  };
  const req = containerRequest(c, { pid: 10, pidfd: 3 }, launch, [0, 1, 2]);
  t.equal(req.joinNamespaces![0].type, c.CLONE_NEWNET | c.CLONE_NEWPID | c.CLONE_NEWTIME);
  const without = containerRequest(c, { pid: 10, pidfd: 3 }, { ...launch, timeNamespace: undefined }, [0, 1, 2]);
  t.equal(without.joinNamespaces![0].type & c.CLONE_NEWTIME, 0);
  const exec = execRequest(
    c,
    { pid: 11, pidfd: 4 },
    { argv: ['sh'], path: 'sh', env: [], cwd: '/', stdio: [0, 1, 2], tty: false, timeNamespace: true },
  );
  t.ok(exec.joinNamespaces![0].type & c.CLONE_NEWTIME, 'exec joins it');
  t.match(exec.joinNamespaces![0].label, /\+time\)$/);
});

t.test('--share cgroup: the infra makes a cgroup namespace, each container joins it instead of making its own', async (t) => {
  const launch: ContainerLaunch = {
    name: 'c',
    path: '/bin/true',
    argv: ['true'],
    env: [],
    cwd: '/',
    share: ['net', 'cgroup'],
    hostname: 'p',
  };
  const cgroups = { into: { fd: 5, label: 'ctr-c' }, joins: [] };
  const req = containerRequest(c, { pid: 10, pidfd: 3 }, launch, [0, 1, 2], cgroups);
  t.equal(req.joinNamespaces![0].type, c.CLONE_NEWNET | c.CLONE_NEWCGROUP);
  t.equal(req.newCgroupNamespace, false);
  const own = containerRequest(c, { pid: 10, pidfd: 3 }, { ...launch, share: ['net'] }, [0, 1, 2], cgroups);
  t.equal(own.joinNamespaces![0].type, c.CLONE_NEWNET);
  t.equal(own.newCgroupNamespace, true, 'by default its own, rooted at its cgroup');
  t.equal(infraRequest(c, { hostname: 'p', stdio: [0, 1, 2], cgroupNamespace: true }).newCgroupNamespace, true);
  t.equal(infraRequest(c, { hostname: 'p', stdio: [0, 1, 2] }).newCgroupNamespace, undefined);
  const spec = newPodSpec('p');
  applyNamespaceOptions(spec, {});
  t.same(spec.share, ['net', 'ipc', 'uts', 'pid'], 'not shared unless asked');
});

t.test('joining: ns:PATH and pod:NAME options, the infra joining instead of making, and what contradicts them', async (t) => {
  const spec = newPodSpec('p');
  applyNetworkOptions(spec, 'ns:/run/netns/x', []);
  applyNamespaceOptions(spec, { ipc: 'pod:other', uts: 'ns:/proc/1/ns/uts' });
  t.same(spec.joinNamespaces, { net: { path: '/run/netns/x' }, ipc: { pod: 'other' }, uts: { path: '/proc/1/ns/uts' } });
  t.same(spec.network, { mode: 'pod' }, 'a joined network is still the pod mode: its ports are forwarded into it');
  t.throws(() => namespaceOption('--ipc', 'pod:Bad_Name'), { name: 'InputError', field: '--ipc' });
  t.throws(() => checkPodNamespaces({ ...spec, network: { mode: 'cni' } }), { name: 'InputError', problem: /no CNI network/ });
  t.throws(() => checkPodNamespaces({ ...spec, share: ['net', 'uts'] }), { name: 'InputError', field: '--ipc pod:other' });
  t.throws(() => checkPodNamespaces({ ...newPodSpec('p'), hostIPC: true, joinNamespaces: { ipc: { pod: 'o' } } }), {
    name: 'InputError',
    problem: /contradicts/,
  });
  const joins = [
    { fd: 7, type: c.CLONE_NEWNET, label: 'ns:/run/netns/x (net)' },
    { fd: 8, type: c.CLONE_NEWUTS, label: 'pod:o (uts)' },
  ];
  const req = infraRequest(c, { hostname: 'p', stdio: [0, 1, 2], joins });
  t.same(req.joinNamespaces, joins);
  t.equal(req.newNamespaces! & (c.CLONE_NEWNET | c.CLONE_NEWUTS), 0, 'no new net or uts namespace');
  t.ok(req.newNamespaces! & c.CLONE_NEWPID && req.newNamespaces! & c.CLONE_NEWIPC, 'new pid and ipc');
  t.same([req.hostname, req.loopbackUp], [undefined, false], "the joined namespaces' hostname and lo are left alone");
});
