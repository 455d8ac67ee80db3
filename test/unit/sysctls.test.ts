// A pod's sysctls as pod/sysctls.ts checks them: namespaced names only, Kubernetes' safe set or
// what the host allows, in namespaces the pod has and shares; their files; the fields and options.
import t from 'tap';
import { FakeBinding } from '../helpers/fake-binding.js';
import { applySysctlOptions } from '../../src/cli/options.js';
import { podFromManifest } from '../../src/pod/manifest.js';
import { newPodSpec, type PodSpec } from '../../src/pod/spec.js';
import { allowedUnsafeSysctls, canonicalName, checkSysctls, sysctlField, sysctlPath } from '../../src/pod/sysctls.js';
import { infraRequest } from '../../src/runtime/infra.js';
import { createPodFromBody } from '../../src/monitor/api.js';

const pod = (sysctls: [string, string][], more: Partial<PodSpec> = {}): PodSpec => ({
  ...newPodSpec('p'),
  sysctls: sysctls.map(([name, value]) => ({ name, value })),
  ...more,
});

t.test("names: '.' or '/' between parts, as Kubernetes takes them; the file under /proc/sys", async (t) => {
  t.equal(sysctlPath('net.ipv4.ip_local_port_range'), '/proc/sys/net/ipv4/ip_local_port_range');
  t.equal(canonicalName('net/ipv4/conf/eth0.100/forwarding'), 'net.ipv4.conf.eth0/100.forwarding');
  t.equal(sysctlPath('net/ipv4/conf/eth0.100/forwarding'), '/proc/sys/net/ipv4/conf/eth0.100/forwarding');
  t.equal(sysctlPath('net.ipv4.conf.eth0/100.forwarding'), '/proc/sys/net/ipv4/conf/eth0.100/forwarding');
});

t.test('only namespaced sysctls: a host-wide or malformed one is refused naming it', async (t) => {
  for (const name of ['net.core.somaxconn', 'kernel.shmmax', 'kernel.msgmax', 'kernel.sem', 'fs.mqueue.msg_max']) {
    t.same(sysctlField(name, '1', 'x'), { name, value: '1' }, name);
  }
  for (const name of ['vm.swappiness', 'kernel.panic', 'kernel.hostname', 'fs.file-max', 'kernel.semx']) {
    t.throws(
      () => sysctlField(name, '1', 'x'),
      { name: 'InputError', field: 'x.name', problem: /not a namespaced sysctl.*whole host/ },
      name,
    );
  }
  for (const name of ['net..ipv4', 'Net.ipv4.x', '../net/x', 'net.ipv4.', '', 7]) {
    t.throws(() => sysctlField(name, '1', 'x'), { name: 'InputError', field: 'x.name', problem: /is not a sysctl name/ }, String(name));
  }
  t.throws(() => sysctlField('net.core.somaxconn', '1\n2', 'x'), { name: 'InputError', field: 'x.value' });
  // A spec a library caller builds by hand is checked again: no name leads out of /proc/sys.
  t.throws(() => checkSysctls(pod([['net/../../sysrq-trigger', '1']]), ['net.*']), { name: 'InputError', problem: /not a sysctl name/ });
  t.throws(() => sysctlPath('net/../../sysrq-trigger'), { name: 'InputError' });
  t.throws(() => sysctlField('net.core.somaxconn', 1, 'x'), { name: 'InputError', field: 'x.value' });
});

t.test('the safe set is allowed; others only where the host allows them, by name or prefix', async (t) => {
  t.doesNotThrow(() =>
    checkSysctls(
      pod([
        ['net.ipv4.ip_unprivileged_port_start', '0'],
        ['kernel.shm_rmid_forced', '1'],
      ]),
      [],
    ),
  );
  t.throws(
    () =>
      checkSysctls(
        pod([
          ['net.ipv4.ip_forward', '0'],
          ['kernel.shmmax', '1'],
        ]),
        ['net.ipv4.ip_forward'],
      ),
    {
      name: 'InputError',
      field: 'spec.securityContext.sysctls[1].name',
      problem: /kernel\.shmmax is not one of Kubernetes' safe sysctls; the host allows it with TSPOD_ALLOWED_UNSAFE_SYSCTLS/,
    },
  );
  t.doesNotThrow(() =>
    checkSysctls(
      pod([
        ['kernel.shmmax', '1'],
        ['kernel.shmall', '1'],
      ]),
      ['kernel.shm*'],
    ),
  );
  t.doesNotThrow(() => checkSysctls(pod([['net/ipv4/ip_forward', '0']]), ['net.ipv4.ip_forward']), "a name with '/' is the same name");
  t.throws(
    () =>
      checkSysctls(
        pod([
          ['net.ipv4.tcp_syncookies', '1'],
          ['net/ipv4/tcp_syncookies', '0'],
        ]),
        [],
      ),
    {
      name: 'InputError',
      field: 'spec.securityContext.sysctls[1].name',
      problem: /given twice/,
    },
  );
});

t.test('a sysctl must be kept in a namespace the pod has of its own and its containers share', async (t) => {
  const safeNet: [string, string][] = [['net.ipv4.ip_unprivileged_port_start', '0']];
  t.throws(() => checkSysctls(pod(safeNet, { network: { mode: 'host' } }), []), {
    name: 'InputError',
    problem: /the pod is on the host's network/,
  });
  t.throws(() => checkSysctls(pod(safeNet, { share: ['ipc', 'uts', 'pid'] }), []), {
    name: 'InputError',
    problem: /kept per net namespace/,
  });
  t.throws(() => checkSysctls(pod([['kernel.shm_rmid_forced', '1']], { share: ['net'] }), []), {
    name: 'InputError',
    problem: /kept per ipc namespace/,
  });
});

t.test('TSPOD_ALLOWED_UNSAFE_SYSCTLS: namespaced names or prefixes, else one error naming the pattern', async (t) => {
  t.same(allowedUnsafeSysctls(undefined, 'E'), []);
  t.same(allowedUnsafeSysctls('kernel.msg*, net.core.somaxconn,net.*', 'E'), ['kernel.msg*', 'net.core.somaxconn', 'net.*']);
  for (const bad of ['vm.*', 'kernel.*', '*', 'net..x']) {
    t.throws(() => allowedUnsafeSysctls(bad, 'E'), { name: 'InputError', field: 'E' }, bad);
  }
});

t.test('spec.securityContext.sysctls in a manifest, and --sysctl NAME=VALUE', async (t) => {
  const manifest = (sysctls: unknown) =>
    podFromManifest({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { securityContext: { sysctls }, containers: [{ name: 'c', command: ['true'] }] },
    });
  t.same(manifest([{ name: 'kernel.shm_rmid_forced', value: '1' }]).sysctls, [{ name: 'kernel.shm_rmid_forced', value: '1' }]);
  t.throws(() => manifest([{ name: 'vm.swappiness', value: '1' }]), { name: 'InputError', field: 'spec.securityContext.sysctls[0].name' });
  t.throws(() => manifest([{ name: 'kernel.sem', value: '1', extra: 1 }]), {
    name: 'InputError',
    field: 'spec.securityContext.sysctls[0].extra',
  });
  const spec = newPodSpec('p');
  applySysctlOptions(spec, ['net.ipv4.ip_unprivileged_port_start=80', 'kernel.shmmax=65536', 'net/ipv4/ip_unprivileged_port_start=0']);
  t.same(spec.sysctls, [
    { name: 'net/ipv4/ip_unprivileged_port_start', value: '0' },
    { name: 'kernel.shmmax', value: '65536' },
  ], 'a later one of the same name wins'); // prettier-ignore
  t.throws(() => applySysctlOptions(newPodSpec('p'), ['net.core.somaxconn']), {
    name: 'InputError',
    field: '--sysctl',
    problem: /is not NAME=VALUE/,
  });
  t.throws(() => applySysctlOptions(newPodSpec('p'), ['vm.swappiness=1']), { name: 'InputError', field: '--sysctl vm.swappiness.name' });
});

t.test("the infra's spawn request names each sysctl's file and value, with new net and ipc namespaces", async (t) => {
  const b = new FakeBinding();
  const req = infraRequest(b.constants, { hostname: 'p', stdio: [0, 1, 2], sysctls: [{ name: 'net.ipv4.tcp_syncookies', value: '0' }] });
  t.same(req.sysctls, [{ path: '/proc/sys/net/ipv4/tcp_syncookies', value: '0' }]);
  t.ok(req.newNamespaces! & b.constants.CLONE_NEWNET && req.newNamespaces! & b.constants.CLONE_NEWIPC, 'in new net and ipc namespaces');
  t.equal(infraRequest(b.constants, { hostname: 'p', stdio: [0, 1, 2] }).sysctls, undefined, 'none: nothing written');
});

t.test("a pod's spec sent to the monitor's API keeps its sysctls and groups (run -d -f with options sends it so)", async (t) => {
  const spec = podFromManifest({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p' },
    spec: {
      securityContext: { sysctls: [{ name: 'net.ipv4.tcp_syncookies', value: '1' }], fsGroup: 2000, supplementalGroups: [3000] },
      containers: [{ name: 'c', command: ['true'], securityContext: { seccompProfile: { type: 'Unconfined' } } }],
    },
  });
  const { spec: back } = await createPodFromBody(JSON.parse(JSON.stringify({ spec })));
  t.same([back.sysctls, back.fsGroup, back.supplementalGroups], [spec.sysctls, 2000, [3000]]);
  t.same(back.containers[0].securityContext, { seccompProfile: { type: 'Unconfined' } });
  await t.rejects(createPodFromBody({ spec: { ...spec, sysctls: [{ name: 'vm.swappiness', value: '1' }] } }), {
    name: 'InputError',
    field: 'spec.sysctls[0].name',
  });
});
