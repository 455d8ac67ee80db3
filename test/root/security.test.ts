// Least privilege, read from the kernel: the capability sets and no_new_privs in
// /proc/PID/status of containers, of tspod exec's commands and of the infra; runc's masked paths
// and a read-only /proc/sys, and what privileged, procMount: Unmasked, drop/add and a non-root
// user change; the pod's groups and runAsNonRoot.
import t from 'tap';
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { tempDir } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/proc.js';
import { testState, type TestState } from '../helpers/state.js';
import { NO_BUSYBOX, busyboxRoot, haveBusybox } from '../helpers/busybox.js';
import { CAPABILITIES, DEFAULT_CAPABILITIES, MASKED_PATHS } from '../../src/pod/security.js';

const skip = !isRoot ? NOT_ROOT : !haveBusybox ? NO_BUSYBOX : undefined;
if (skip) t.plan(0, skip);

/** What this process may give: a container never gets more (the child cuts to it). */
const own = BigInt(`0x${/^CapBnd:\s+([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]}`);
const mask = (names: readonly string[]) =>
  names.reduce((m, n) => m | (1n << BigInt((CAPABILITIES as readonly string[]).indexOf(n))), 0n) & own;
const hex = (m: bigint) => m.toString(16).padStart(16, '0');
const DEFAULT = hex(mask(DEFAULT_CAPABILITIES));
const NONE = hex(0n);

/** How many bytes of its first one a file gives: 0 or 1. */
function firstByte(file: string): number {
  const fd = openSync(file, 'r');
  try {
    return readSync(fd, Buffer.alloc(1), 0, 1, null);
  } finally {
    closeSync(fd);
  }
}

const STATUS = 'grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):" /proc/self/status';

/** The status lines a foreground run printed, as a record: { CapEff: '...', ... }. */
function statusOf(out: string): Record<string, string> {
  return Object.fromEntries([...out.matchAll(/(Cap\w+|NoNewPrivs):\s+(\S+)/g)].map((m) => [m[1], m[2]]));
}

async function run(s: TestState, args: string[], script: string): Promise<string> {
  const r = await s.cli(['run', ...args, '--', 'sh', '-c', script]);
  if (r.code !== 0) throw new Error(`run ${args.join(' ')}: ${r.code} ${r.stderr}`);
  return r.stdout;
}

t.test("a default container: containerd's capability set as bounding, permitted and effective, none inheritable or ambient", async (t) => {
  const s = testState(t);
  t.same(statusOf(await run(s, [], STATUS)), {
    CapInh: NONE,
    CapPrm: DEFAULT,
    CapEff: DEFAULT,
    CapBnd: DEFAULT,
    CapAmb: NONE,
    NoNewPrivs: '0',
  });
  t.same(statusOf(await run(s, ['--rootfs', busyboxRoot(tempDir(t, 'rootfs'))], STATUS)).CapEff, DEFAULT, 'with a root of its own too');
});

t.test('drop ALL: no capability at all; add: one more; privileged: every one this host gives', async (t) => {
  const s = testState(t);
  const dropped = statusOf(await run(s, ['--cap-drop', 'ALL'], STATUS));
  t.same([dropped.CapEff, dropped.CapBnd], [NONE, NONE]);
  const added = statusOf(await run(s, ['--cap-add', 'NET_ADMIN', '--cap-drop', 'CHOWN'], STATUS));
  const changed = hex(mask([...DEFAULT_CAPABILITIES.filter((c) => c !== 'CHOWN'), 'NET_ADMIN']));
  t.same([added.CapEff, added.CapBnd], [changed, changed]);
  const allBut = statusOf(await run(s, ['--cap-add', 'ALL', '--cap-drop', 'SYS_ADMIN'], STATUS));
  t.equal(allBut.CapEff, hex(own & ~mask(['SYS_ADMIN'])), 'a drop wins over add ALL');
  const both = statusOf(await run(s, ['--cap-add', 'NET_ADMIN', '--cap-drop', 'NET_ADMIN'], STATUS));
  t.equal(both.CapEff, DEFAULT, 'and over an add of the same one');
  const privileged = statusOf(await run(s, ['--privileged'], STATUS));
  t.same([privileged.CapEff, privileged.CapBnd], [hex(own), hex(own)]);
  const root = busyboxRoot(tempDir(t, 'rootfs'));
  t.equal(statusOf(await run(s, ['--privileged', '--rootfs', root], STATUS)).CapEff, hex(own), 'with a root of its own too');
  t.notOk(existsSync('/dev/termination-log'), "its /dev is its own: nothing was made in the host's");
});

t.test('a non-root user: the set bounds it, only what is added by name is effective (kept across execve as ambient)', async (t) => {
  const s = testState(t);
  t.same(statusOf(await run(s, ['--user', '1000'], STATUS)), {
    CapInh: NONE,
    CapPrm: NONE,
    CapEff: NONE,
    CapBnd: DEFAULT,
    CapAmb: NONE,
    NoNewPrivs: '0',
  });
  const bind = hex(mask(['NET_BIND_SERVICE']));
  const added = statusOf(await run(s, ['--user', '1000', '--cap-add', 'NET_BIND_SERVICE'], STATUS));
  t.same([added.CapEff, added.CapPrm, added.CapAmb], [bind, bind, bind]);
  const all = statusOf(await run(s, ['--user', '1000', '--cap-add', 'ALL'], STATUS));
  t.same([all.CapEff, all.CapAmb, all.CapBnd], [NONE, NONE, hex(own)], 'ALL bounds it, but gives it nothing to use');
});

t.test('no_new_privs: allowPrivilegeEscalation false sets it, in a manifest and with --security-opt', async (t) => {
  const s = testState(t);
  t.equal(statusOf(await run(s, ['--security-opt', 'no-new-privileges'], STATUS)).NoNewPrivs, '1');
  const file = join(tempDir(t, 'nnp'), 'pod.yaml');
  writeFileSync(
    file,
    `apiVersion: v1\nkind: Pod\nmetadata: {name: nnp}\nspec:\n  restartPolicy: Never\n  containers:\n` +
      `  - {name: c, command: [sh, -c, '${STATUS}'], securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}\n`,
  );
  const r = await s.cli(['run', '-f', file]);
  t.equal(r.code, 0, r.stderr);
  t.same([statusOf(r.stdout).NoNewPrivs, statusOf(r.stdout).CapEff], ['1', NONE]);
});

t.test("the infra has no capability and no_new_privs; tspod exec gets its container's sets", async (t) => {
  const s = testState(t);
  const r = await s.cli(['run', '-d', '--name', 'caps', '--cap-drop', 'ALL', '--cap-add', 'KILL', '--', 'sleep', '1000']);
  t.equal(r.code, 0, r.stderr);
  const rec = s.store.read('caps')!;
  const infra = readFileSync(`/proc/${rec.infra!.process.pid}/status`, 'utf8');
  t.match(infra, new RegExp(`^CapBnd:\\s+${NONE}$`, 'm'));
  t.match(infra, new RegExp(`^CapEff:\\s+${NONE}$`, 'm'));
  t.match(infra, /^NoNewPrivs:\s+1$/m);
  const exec = await s.cli(['exec', 'caps', 'caps', '--', 'sh', '-c', STATUS]);
  t.equal(exec.code, 0, exec.stderr);
  t.same([statusOf(exec.stdout).CapEff, statusOf(exec.stdout).CapBnd], [hex(mask(['KILL'])), hex(mask(['KILL']))]);
});

t.test("runc's masked paths and a read-only /proc/sys, in containers with a root of their own and on the host's file system", async (t) => {
  const s = testState(t);
  // Those this kernel has, with something in them here (so that empty proves the mask); the
  // others are passed over.
  // A byte is enough: /proc/kcore's size is the kernel's whole address space.
  const size = (p: string) => (statSync(p).isDirectory() ? readdirSync(p).length : firstByte(p));
  const present = MASKED_PATHS.filter((p) => existsSync(p) && size(p) > 0);
  const dirs = present.filter((p) => statSync(p).isDirectory());
  const files = present.filter((p) => !dirs.includes(p));
  t.ok(present.length > 0, `this kernel has some of them: ${present.join(' ')}`);
  const script = [
    ...files.map((f) => `echo "${f} $(head -c 1 ${f} | wc -c)"`),
    ...dirs.map((d) => `echo "${d} $(ls -A ${d} | wc -l)"`),
    'echo x > /proc/sys/kernel/domainname 2>/dev/null && echo sys-writable || echo sys-read-only',
  ].join('; ');
  // The pod's own UTS namespace's domainname: writable only where /proc/sys is.
  const expect = [...files.map((f) => `${f} 0`), ...dirs.map((d) => `${d} 0`), 'sys-read-only'];
  const lines = (out: string) =>
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => l.replace(/^\S+ \| /, ''));
  t.same(lines(await run(s, [], script)), expect, 'on the host file system: empty, and read-only');
  const root = busyboxRoot(tempDir(t, 'rootfs'));
  t.same(lines(await run(s, ['--rootfs', root], script)), expect, 'with a root of its own: the same');
  for (const how of [['--security-opt', 'unmask=ALL'], ['--privileged']]) {
    const unmasked = lines(await run(s, how, script));
    t.equal(unmasked.at(-1), 'sys-writable', `${how.join(' ')}: /proc/sys is writable`);
    // Directories list their entries again (a file may still be closed to it: kcore needs SYS_RAWIO).
    t.ok(
      dirs.every((d) => unmasked.some((l) => l.startsWith(`${d} `) && l !== `${d} 0`)),
      `${how.join(' ')}: the masked directories have their entries again`,
    );
  }
});

t.test('bad security input: one line naming the field or option, nothing created', async (t) => {
  const s = testState(t);
  const file = join(tempDir(t, 'bad'), 'pod.yaml');
  const cases: [string, RegExp][] = [
    [
      '{capabilities: {add: [NET_ADMINN]}}',
      /spec\.containers\[0\]\.securityContext\.capabilities\.add\[0\]: "NET_ADMINN" is not a Linux capability/,
    ],
    [
      '{privileged: true, allowPrivilegeEscalation: false}',
      /securityContext\.allowPrivilegeEscalation: cannot be false for a container that is privileged/,
    ],
    ['{procMount: Hidden}', /securityContext\.procMount: must be Default or Unmasked/],
  ];
  for (const [sc, error] of cases) {
    writeFileSync(
      file,
      `apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers:\n  - {name: c, command: ["true"], securityContext: ${sc}}\n`,
    );
    const r = await s.cli(['run', '-d', '-f', file]);
    t.equal(r.code, 125, sc);
    t.match(r.stderr, error);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
  const opt = await s.cli(['run', '--security-opt', 'label=disable', '--', 'true']);
  t.equal(
    opt.stderr,
    'tspod: --security-opt: "label=disable" is not one tspod takes (no-new-privileges, unmask=ALL, seccomp=PATH|unconfined)\n',
  );
  await waitFor('no pod', () => s.store.names().length === 0 || undefined);
});

t.test("the pod's groups: fsGroup and supplementalGroups join the user's, fsGroup owns the emptyDir and what is made in it", async (t) => {
  const s = testState(t);
  const root = busyboxRoot(tempDir(t, 'rootfs'));
  const file = join(tempDir(t, 'groups'), 'pod.yaml');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Pod
metadata: {name: groups}
spec:
  restartPolicy: Never
  securityContext: {runAsUser: 1000, runAsGroup: 1000, fsGroup: 2000, supplementalGroups: [3000], runAsNonRoot: true}
  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: c
    rootfs: ${root}
    command: [sh, -c, 'id -u; id -G; stat -c "%g %a" /data; touch /data/f && stat -c %g /data/f']
    volumeMounts: [{name: data, mountPath: /data}]
`,
  );
  const r = await s.cli(['run', '-f', file]);
  t.equal(r.code, 0, r.stderr);
  const [uid, groups, volume, made] = r.stdout.split('\n').map((l) => l.replace(/^\S+\s*\| /, ''));
  t.equal(uid, '1000', 'runAsUser, and runAsNonRoot lets it run');
  t.same(
    groups.split(' ').filter((g) => ['1000', '2000', '3000'].includes(g)),
    ['1000', '2000', '3000'],
    'its groups: its own, fsGroup and supplementalGroups',
  );
  t.equal(volume, '2000 2777', "the emptyDir is fsGroup's, setgid");
  t.equal(made, '2000', 'a file made in it is of that group');
});

t.test('runAsNonRoot: a container that would run as root is refused, naming the field, and nothing is created', async (t) => {
  const s = testState(t);
  const file = join(tempDir(t, 'nonroot'), 'pod.yaml');
  for (const sc of ['{runAsNonRoot: true}', '{runAsNonRoot: true, runAsUser: 0}']) {
    writeFileSync(
      file,
      `apiVersion: v1\nkind: Pod\nmetadata: {name: rooty}\nspec:\n  securityContext: ${sc}\n` +
        `  containers:\n  - {name: c, command: [sleep, "1000"]}\n`,
    );
    const r = await s.cli(['run', '-d', '-f', file]);
    t.equal(r.code, 125, sc);
    t.match(r.stderr, /^tspod: spec\.containers\[0\]\.securityContext\.runAsNonRoot: the container would run as root \(uid 0\)/);
    t.same(s.store.names(), [], 'no pod');
  }
});
