// A pod's user namespace as the TypeScript decides it: the id range setting and its allocation,
// the fields and options that ask for it, what it cannot go with, the idmapped root file system
// steps, and the errors that name the kernel feature.
import t from 'tap';
import { tmpdir } from 'node:os';
import { FakeBinding } from '../helpers/fake-binding.js';
import { applyNamespaceOptions } from '../../src/cli/options.js';
import { rootfsSteps } from '../../src/fs/rootfs.js';
import { createPodFromBody } from '../../src/monitor/api.js';
import { podFromManifest } from '../../src/pod/manifest.js';
import { newPodSpec, type PodSpec } from '../../src/pod/spec.js';
import {
  DEFAULT_USERNS_RANGE,
  POD_IDS,
  allocateIdRange,
  checkUserNamespace,
  hostId,
  idMapText,
  joinedIdRange,
  usernsRangeOption,
} from '../../src/pod/userns.js';
import { checkIdmappedMounts, createPodUserNamespace } from '../../src/runtime/userns.js';

const c = new FakeBinding().constants;
const errnoError = (code: string, syscall: string) => Object.assign(new Error(`${code}: ${syscall}`), { code, syscall });

t.test('TSPOD_USERNS_RANGE: START:COUNT, at least one pod of ids, inside 32 bits; unset is the default', async (t) => {
  t.same(usernsRangeOption(undefined, 'X'), DEFAULT_USERNS_RANGE);
  t.same(usernsRangeOption('100000:655360', 'X'), { hostId: 100000, size: 655360 });
  for (const bad of ['100000', '0:65536', '100000:65535', '4294901760:65536', '-1:65536', 'a:b', '1e6:65536']) {
    t.throws(() => usernsRangeOption(bad, 'TSPOD_USERNS_RANGE'), { name: 'InputError', field: 'TSPOD_USERNS_RANGE' }, bad);
  }
  t.equal(idMapText({ hostId: 100000, size: POD_IDS }), '0 100000 65536\n', 'the text of uid_map and gid_map');
});

t.test('allocation: the first whole slot no live range overlaps; none left is an error naming the setting', async (t) => {
  const range = { hostId: 1_000_000, size: 3 * POD_IDS };
  t.same(allocateIdRange(range, []), { hostId: 1_000_000, size: POD_IDS });
  t.same(allocateIdRange(range, [{ hostId: 1_000_000, size: POD_IDS }]), { hostId: 1_065_536, size: POD_IDS });
  // A range from an earlier setting that straddles two slots holds both.
  t.same(allocateIdRange(range, [{ hostId: 1_000_001, size: POD_IDS }]), { hostId: 1_131_072, size: POD_IDS });
  t.same(
    allocateIdRange(range, [
      { hostId: 1_000_000, size: POD_IDS },
      { hostId: 1_131_072, size: POD_IDS },
    ]),
    { hostId: 1_065_536, size: POD_IDS },
    'a freed slot between two held ones is found',
  );
  const full = [0, 1, 2].map((i) => ({ hostId: 1_000_000 + i * POD_IDS, size: POD_IDS }));
  t.throws(() => allocateIdRange(range, full), {
    name: 'InputError',
    field: 'hostUsers',
    problem: /no free range of 65536 ids left in TSPOD_USERNS_RANGE 1000000:196608 \(3 of them/,
  });
  t.equal(hostId({ userNamespace: { hostId: 1_000_000, size: POD_IDS } }, 5), 1_000_005);
  t.equal(hostId({}, 5), 5, 'without a user namespace an id is the host id');
});

t.test('asked for by hostUsers: false (manifest, API body) and --userns auto; other values are errors', async (t) => {
  const manifest = (spec: object) =>
    podFromManifest({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'x' }], ...spec } });
  t.equal(manifest({ hostUsers: false }).hostUsers, false);
  t.equal(manifest({ hostUsers: true }).hostUsers, undefined, "true is the default: the host's");
  t.throws(() => manifest({ hostUsers: 'no' }), { name: 'InputError', field: 'spec.hostUsers' });

  const spec = newPodSpec('p');
  applyNamespaceOptions(spec, { userns: 'auto' });
  t.equal(spec.hostUsers, false);
  const host = newPodSpec('p');
  applyNamespaceOptions(host, { userns: 'host' });
  t.equal(host.hostUsers, undefined);
  t.throws(() => applyNamespaceOptions(newPodSpec('p'), { userns: 'keep-id' }), { name: 'InputError', field: '--userns' });

  const body = { spec: { name: 'p', hostUsers: false, containers: [{ name: 'c', command: ['true'] }] } };
  t.equal((await createPodFromBody(body)).spec.hostUsers, false);
  await t.rejects(
    createPodFromBody({ spec: { ...body.spec, userNamespace: { hostId: 0, size: POD_IDS } } }),
    {
      name: 'InputError',
      field: 'spec.userNamespace',
    },
    "the range is tspod's to assign, never the caller's",
  );
});

t.test('a joined user namespace: --userns ns:PATH or pod:NAME, its range read from its maps', async (t) => {
  const spec = newPodSpec('p');
  applyNamespaceOptions(spec, { userns: 'pod:other' });
  t.same([spec.hostUsers, spec.joinNamespaces], [false, { user: { pod: 'other' } }]);
  const byPath = newPodSpec('p');
  applyNamespaceOptions(byPath, { userns: 'ns:/proc/42/ns/user' });
  t.same(byPath.joinNamespaces, { user: { path: '/proc/42/ns/user' } });
  t.throws(() => applyNamespaceOptions(newPodSpec('p'), { userns: 'ns:relative' }), { name: 'InputError', field: '--userns' });
  t.throws(() => checkUserNamespace({ ...newPodSpec('p'), joinNamespaces: { user: { pod: 'x' } } }), {
    name: 'InputError',
    field: 'joinNamespaces.user',
  });
  t.doesNotThrow(() => checkUserNamespace({ ...newPodSpec('p'), hostUsers: false, joinNamespaces: { user: { pod: 'x' } } }));

  const line = '         0 3000000000      65536\n';
  t.same(joinedIdRange({ uid: line, gid: line }, '--userns'), { hostId: 3_000_000_000, size: POD_IDS });
  for (const [uid, gid] of [
    ['         1 3000000000      65536\n', '         1 3000000000      65536\n'],
    [line, '         0 3000065536      65536\n'],
    [`${line}     65536 100000 10\n`, line],
    ['', ''],
  ]) {
    t.throws(() => joinedIdRange({ uid, gid }, '--userns ns:/x'), {
      name: 'InputError',
      field: '--userns ns:/x',
      problem: /is not one range from 0, the same as its gid_map/,
    });
  }
});

t.test("refused with the host's namespaces or joined ones, as Kubernetes refuses them", async (t) => {
  const spec = (more: Partial<PodSpec>): PodSpec => ({ ...newPodSpec('p'), hostUsers: false, ...more });
  t.doesNotThrow(() => checkUserNamespace(spec({})));
  t.doesNotThrow(() => checkUserNamespace({ ...spec({}), hostUsers: undefined, hostPID: true }), 'only with hostUsers: false');
  t.throws(() => checkUserNamespace(spec({ network: { mode: 'host' } })), {
    name: 'InputError',
    field: 'hostUsers',
    problem: /hostNetwork/,
  });
  t.throws(() => checkUserNamespace(spec({ hostPID: true, hostIPC: true })), {
    name: 'InputError',
    field: 'hostUsers',
    problem: /hostPID, hostIPC/,
  });
  t.throws(() => checkUserNamespace(spec({ joinNamespaces: { uts: { pod: 'q' } } })), {
    name: 'InputError',
    field: 'hostUsers',
    problem: /joined namespaces \(uts\)/,
  });
});

t.test("in a user namespace, the root file system's layers are idmapped and /dev is the namespace root's", async (t) => {
  const plan = {
    root: '/r',
    source: { links: '/l', count: 2, upper: '/u', work: '/w' },
    readOnly: false,
    shm: '/s',
    etc: '/e',
    binds: [],
  };
  const steps = rootfsSteps(c, { ...plan, owner: 200000 });
  t.same(
    steps.slice(1, 4),
    [
      { op: 'chdir', target: '/l' },
      { op: 'idmap', source: '0', target: '0' },
      { op: 'idmap', source: '1', target: '1' },
    ],
    'each layer, through its link, covered by an idmapped copy before the overlay is mounted',
  );
  t.match(steps[4], { op: 'mount', fstype: 'overlay', data: 'lowerdir=1:0,upperdir=/u,workdir=/w' });
  t.match(
    steps.find((s) => s.target === '/dev' && s.op === 'mount'),
    { data: 'mode=755,size=65536k,uid=200000,gid=200000' },
  );
  t.match(
    steps.find((s) => s.target === '/dev/pts' && s.op === 'mount'),
    { data: 'newinstance,ptmxmode=0666,mode=0620' },
    "no tty group of the host's: a terminal is the group of the namespace's process that opens it",
  );
  t.notOk(
    rootfsSteps(c, plan).some((s) => s.op === 'idmap'),
    'none without a user namespace',
  );
  const dir = rootfsSteps(c, { ...plan, source: { dir: '/tree' }, owner: 200000 });
  t.same(dir[1], { op: 'idmap', source: '/tree', target: '/r' }, 'a directory root is an idmapped copy of its mount');
});

t.test('the kernel feature is named: user namespaces, overlayfs over idmapped layers, idmapped mounts of a file system', async (t) => {
  const b = new FakeBinding();
  b.createUserNamespace = () => {
    throw errnoError('ENOSPC', 'clone');
  };
  t.throws(() => createPodUserNamespace(b, { hostId: 1, size: POD_IDS }), {
    message: /^hostUsers: false: no user namespace for the pod: clone ENOSPC: user.max_user_namespaces is reached$/,
  });
  t.throws(() => checkIdmappedMounts(b, 3, [], true, '5.15.0-91-generic'), {
    name: 'InputError',
    field: 'hostUsers',
    problem: 'false needs overlayfs over idmapped layers (Linux 5.19); this kernel is 5.15.0-91-generic',
  });
  t.doesNotThrow(() => checkIdmappedMounts(b, 3, [], false, '5.15.0-91-generic'), 'a directory root needs no overlayfs');
  b.probeIdmappedMount = () => {
    throw errnoError('EINVAL', 'mount_setattr');
  };
  t.throws(() => checkIdmappedMounts(b, 3, [{ path: tmpdir(), what: 'the layer of image x' }], true, '6.1.0-28-amd64'), {
    name: 'InputError',
    field: 'hostUsers',
    problem: new RegExp(
      `^false needs idmapped mounts of the layer of image x ${tmpdir()}, and \\S+ on Linux 6.1.0-28-amd64 ` +
        'refuses them \\(mount_setattr: EINVAL',
    ),
  });
});
