// Pods in user namespaces of their own (hostUsers: false, --userns auto), checked through the
// kernel's own views: /proc/PID/uid_map, the owners stat(2) shows inside and on the host, the
// namespace inodes of the infra and the containers. On a kernel (or a file system) without
// idmapped mounts, the same pod is refused with one line naming the feature.
import t, { type Test } from 'tap';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { tempDir } from '../helpers/cleanup.js';
import { nsInode } from '../helpers/proc.js';
import { testState, type TestState } from '../helpers/state.js';
import { NO_BUSYBOX, busyboxMembers, haveBusybox } from '../helpers/busybox.js';
import { buildImage, writeOciLayoutDir, writeTar } from '../helpers/image-builder.js';

const skip = !isRoot ? NOT_ROOT : !haveBusybox ? NO_BUSYBOX : undefined;
if (skip) t.plan(0, skip);

const POD_IDS = 65536;
const START = 3_000_000_000;
/** Two pods' worth: the third is refused until one is removed. */
const RANGE = `${START}:${2 * POD_IDS}`;

const [major, minor] = release()
  .split('.')
  .map((x) => parseInt(x, 10));
const atLeast = (a: number, b: number) => major > a || (major === a && minor >= b);

/** A state directory and an image store of the test's own, with a busybox image (a file of uid 1000 in it). */
async function withImage(t: Test): Promise<TestState> {
  const images = tempDir(t, 'userns-images');
  const s = testState(t, { TSPOD_IMAGE_ROOT: images, TSPOD_USERNS_RANGE: RANGE });
  const layer = writeTar([
    ...busyboxMembers(),
    { path: 'home/', type: 'dir' },
    { path: 'home/app', body: 'app\n', uid: 1000, gid: 1000 },
    // A directory of another user's, where the emptyDir's mount point is made.
    { path: 'srv/', type: 'dir', mode: 0o755, uid: 1000, gid: 1000 },
  ]);
  const file = writeOciLayoutDir(join(tempDir(t, 'userns-src'), 'layout'), buildImage({ layers: [layer], config: { Env: ['PATH=/bin'] } }));
  const r = await s.cli(['image', 'import', file, '--name', 'bb:1']);
  if (r.code !== 0) throw new Error(r.stderr);
  return s;
}

/** Whether this kernel takes idmapped mounts of overlayfs layers on the file system of the tests' image stores. */
const tmpfs = statfsSync(tmpdir()).type === 0x01021994;
const idmapped = atLeast(5, 19) && (!tmpfs || atLeast(6, 3));
const NO_IDMAP = idmapped ? false : `Linux ${release()} has no idmapped overlay layers on ${tmpdir()} (its refusal is tested below)`;

/** A detached pod from a manifest: an image container, an emptyDir and a hostPath holding a root-only file. */
async function runPod(t: Test, s: TestState, name: string): Promise<{ code: number | null; stderr: string; secret: string }> {
  const dir = tempDir(t, 'userns-pod');
  const secret = join(dir, 'host', 'secret');
  mkdirSync(join(dir, 'host'));
  writeFileSync(secret, 'root only\n');
  chmodSync(secret, 0o600);
  const manifest = join(dir, 'pod.yaml');
  writeFileSync(
    manifest,
    [
      'apiVersion: v1',
      'kind: Pod',
      `metadata: {name: ${name}}`,
      'spec:',
      '  hostUsers: false',
      '  volumes:',
      '  - {name: scratch, emptyDir: {}}',
      `  - {name: host, hostPath: {path: ${join(dir, 'host')}}}`,
      '  containers:',
      '  - name: c',
      '    image: bb:1',
      '    command: [sleep, "1000"]',
      '    volumeMounts: [{name: scratch, mountPath: /srv/scratch}, {name: host, mountPath: /host}]',
      '',
    ].join('\n'),
  );
  const r = await s.cli(['run', '-d', '-f', manifest]);
  return { code: r.code, stderr: r.stderr, secret };
}

const infraPid = (s: TestState, pod: string) => s.store.need(pod).infra!.process.pid;
const containerPid = (s: TestState, pod: string) => s.store.need(pod).containers[0].process!.pid;

const OWNERS = "hostUsers: false: the pod has its own ids, and files keep their owners inside and are the range's outside";
t.test(OWNERS, { skip: NO_IDMAP }, async (t) => {
  const s = await withImage(t);
  const { code, stderr, secret } = await runPod(t, s, 'u1');
  t.equal(code, 0, stderr);
  const range = s.store.need('u1').spec.userNamespace!;
  t.same(range, { hostId: START, size: POD_IDS }, "the record keeps the pod's range");
  t.match((await s.cli(['inspect', 'u1'])).stdout, `; user namespace: host ids ${START}-${START + POD_IDS - 1}\n`, 'inspect shows it');

  const exec = async (script: string) => {
    const r = await s.cli(['exec', 'u1', 'c', '--', 'sh', '-c', script]);
    t.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };
  t.same((await exec('cat /proc/self/uid_map')).split(/\s+/), ['0', String(START), String(POD_IDS)], "uid_map inside is the pod's range");
  t.equal(
    readFileSync(`/proc/${containerPid(s, 'u1')}/gid_map`, 'utf8')
      .trim()
      .split(/\s+/)
      .join(' '),
    `0 ${START} ${POD_IDS}`,
  );
  t.equal(await exec('id -u; id -g'), '0\n0', 'exec runs as root inside');
  t.equal(statSync(`/proc/${containerPid(s, 'u1')}`).uid, START, 'that root is the first id of the range on the host');

  // The image's files, seen through idmapped layers: root's as root's, uid 1000's as 1000's.
  t.equal(await exec('stat -c "%u:%g" /bin/busybox /home/app'), '0:0\n1000:1000', "the image's owners, inside");
  t.equal(await exec('touch /made /srv/scratch/made && mkdir /srv/scratch/d && stat -c "%u:%g" /made /srv/scratch/made'), '0:0\n0:0');
  t.equal(await exec('stat -c "%u:%g" /srv /srv/scratch'), '1000:1000\n0:0', "a mount point made in a directory of uid 1000's");
  const podDir = s.store.paths.pod('u1');
  t.equal(statSync(`${podDir}/containers/c/upper/made`).uid, START, "a file made in the root file system is the range's on the host");
  t.equal(statSync(`${podDir}/volumes/scratch/made`).gid, START, 'and in the emptyDir, uid and gid');
  t.equal(statSync(`${podDir}/volumes/scratch/d`).uid, START);

  // A host file of root's, through a hostPath volume: root inside is nobody to it.
  const r = await s.cli(['exec', 'u1', 'c', '--', 'cat', '/host/secret']);
  t.not(r.code, 0, 'reading it fails');
  t.match(r.stderr, /Permission denied/);
  t.equal(readFileSync(secret, 'utf8'), 'root only\n');

  // One user namespace for the pod: the infra's, which owns the pod's network namespace too.
  const infra = infraPid(s, 'u1');
  t.equal(nsInode(containerPid(s, 'u1'), 'user'), nsInode(infra, 'user'), "the container is in the infra's user namespace");
  t.not(nsInode(infra, 'user'), nsInode('self', 'user'), "which is not the host's");
  t.equal(nsInode(containerPid(s, 'u1'), 'net'), nsInode(infra, 'net'));
  t.equal(statSync(`/proc/${infra}`).uid, START, 'pause runs as the namespace root');
});

t.test('two live pods never share a range; the third is refused while they live, and gets one after rm', async (t) => {
  const s = testState(t, { TSPOD_USERNS_RANGE: RANGE });
  for (const name of ['ra', 'rb']) {
    const r = await s.cli(['pod', 'create', name, '--userns', 'auto']);
    t.equal(r.code, 0, r.stderr);
  }
  const a = s.store.need('ra').spec.userNamespace!;
  const b = s.store.need('rb').spec.userNamespace!;
  t.not(a.hostId, b.hostId, 'the two pods have different ranges');
  t.ok(a.hostId + a.size <= b.hostId || b.hostId + b.size <= a.hostId, 'that do not overlap');
  t.equal(
    readFileSync(`/proc/${infraPid(s, 'ra')}/uid_map`, 'utf8')
      .trim()
      .split(/\s+/)[1],
    String(a.hostId),
  );
  t.equal(
    readFileSync(`/proc/${infraPid(s, 'rb')}/uid_map`, 'utf8')
      .trim()
      .split(/\s+/)[1],
    String(b.hostId),
  );

  const full = await s.cli(['pod', 'create', 'rc', '--userns', 'auto']);
  t.equal(full.code, 125);
  t.match(full.stderr, /^tspod: hostUsers: false: no free range of 65536 ids left in TSPOD_USERNS_RANGE 3000000000:131072 .*\n$/);
  t.notOk(existsSync(s.store.paths.pod('rc')), 'nothing of it is left');

  t.equal((await s.cli(['rm', '-f', 'ra'])).code, 0);
  const again = await s.cli(['pod', 'create', 'rc', '--userns', 'auto']);
  t.equal(again.code, 0, again.stderr);
  t.same(s.store.need('rc').spec.userNamespace, a, "after rm, the removed pod's range is the new pod's");
});

t.test("--userns pod:NAME and ns:PATH join another pod's user namespace, its range with it; the host's is refused", async (t) => {
  const s = testState(t, { TSPOD_USERNS_RANGE: RANGE });
  t.equal((await s.cli(['pod', 'create', 'owner', '--userns', 'auto'])).code, 0);
  const owner = s.store.need('owner');
  const ownerNs = nsInode(owner.infra!.process.pid, 'user');
  const byPod = await s.cli(['run', '-d', '--name', 'guest', '--userns', 'pod:owner', '--', 'sleep', '1000']);
  t.equal(byPod.code, 0, byPod.stderr);
  const path = `/proc/${owner.infra!.process.pid}/ns/user`;
  const byPath = await s.cli(['pod', 'create', 'guest2', '--userns', `ns:${path}`]);
  t.equal(byPath.code, 0, byPath.stderr);
  for (const name of ['guest', 'guest2']) {
    const r = s.store.need(name);
    t.equal(nsInode(r.infra!.process.pid, 'user'), ownerNs, `${name}'s infra is in the owner's user namespace`);
    t.same(r.spec.userNamespace, owner.spec.userNamespace, `${name} has the owner's range, read from its maps`);
    t.not(nsInode(r.infra!.process.pid, 'net'), nsInode(owner.infra!.process.pid, 'net'), 'and a network namespace of its own');
  }
  t.equal(nsInode(s.store.need('guest').containers[0].process!.pid, 'user'), ownerNs, 'its container too');
  const id = await s.cli(['exec', 'guest', 'guest', '--', 'sh', '-c', 'id -u; cat /proc/self/uid_map']);
  t.match(id.stdout, new RegExp(`^0\\n\\s*0\\s+${START}\\s+${POD_IDS}\\n$`));

  const host = await s.cli(['pod', 'create', 'bad', '--userns', 'ns:/proc/self/ns/user']);
  t.equal(host.code, 125);
  t.match(host.stderr, /^tspod: --userns: ns:\/proc\/self\/ns\/user \(user\): it is the host's user namespace .*\n$/);
  const gone = await s.cli(['pod', 'create', 'bad', '--userns', 'pod:nothere']);
  t.match(gone.stderr, /^tspod: --userns: pod:nothere: no such running pod\n$/);
  t.notOk(existsSync(s.store.paths.pod('bad')), 'nothing of the refused pods is left');
});

t.test('a pod in a user namespace with clocks of its own: --userns auto with --time-offset', async (t) => {
  const s = testState(t, { TSPOD_USERNS_RANGE: RANGE });
  const r = await s.cli(['run', '--name', 'clocks', '--userns', 'auto', '--time-offset', 'boottime=86400', '--', 'cat', '/proc/uptime']);
  t.equal(r.code, 0, r.stderr);
  // The line is the container's, prefixed with its name in the foreground: "clocks | UP IDLE".
  const inside = Number(/([\d.]+) [\d.]+\s*$/.exec(r.stdout)?.[1]);
  const host = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  t.ok(inside - host > 86000, `CLOCK_BOOTTIME a day ahead in the pod (${inside} s, the host's ${host} s)`);
});

t.test('refused with one line, nothing created: --userns of another kind, with hostNetwork, or without idmapped mounts', async (t) => {
  const s = await withImage(t);
  const bad = await s.cli(['pod', 'create', 'bad1', '--userns', 'keep-id']);
  t.equal(bad.code, 125);
  t.match(bad.stderr, /^tspod: --userns: "keep-id" is not one tspod takes: auto .* or host\n$/);
  const host = await s.cli(['run', '--userns', 'auto', '--network', 'host', '--name', 'bad2', '--', 'true']);
  t.equal(host.code, 125);
  t.match(host.stderr, /^tspod: hostUsers: false cannot go with hostNetwork.*\n$/);
  if (!idmapped) {
    const r = await s.cli(['run', '--userns', 'auto', '--image', 'bb:1', '--name', 'bad3', '--', 'true']);
    t.equal(r.code, 125);
    const feature = /(overlayfs over idmapped layers \(Linux 5\.19\)|idmapped mounts of .* refuses them)/.source;
    t.match(r.stderr, new RegExp(`^tspod: hostUsers: false needs ${feature}.*\n$`));
  }
  for (const name of ['bad1', 'bad2', 'bad3']) t.notOk(existsSync(s.store.paths.pod(name)), `nothing of ${name} is left`);
});
