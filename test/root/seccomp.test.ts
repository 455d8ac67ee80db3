// seccomp, read from the kernel: Seccomp in /proc/PID/status, and what the filter answers to
// system calls made by number (perl's syscall), so that no libc wrapper stands in between.
import t, { type Test } from 'tap';
import { mkdirSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { cleanup, tempDir } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/proc.js';
import { testState, type TestState } from '../helpers/state.js';
import { NO_BUSYBOX, busyboxRoot, haveBusybox } from '../helpers/busybox.js';
import { SECCOMP_PROFILE_DIR } from '../../src/pod/seccomp.js';

const skip = !isRoot ? NOT_ROOT : !haveBusybox ? NO_BUSYBOX : undefined;
if (skip) t.plan(0, skip);

// System call numbers (asm/unistd.h); x86_64 and aarch64 share clone3's.
const NR = {
  x64: { keyctl: 250, unshare: 272, clone3: 435 },
  arm64: { keyctl: 219, unshare: 97, clone3: 435 },
}[process.arch as 'x64' | 'arm64'];

/** A perl line that makes one system call and prints NAME=ERRNO (0: it succeeded). */
const call = (name: string, nr: number, ...args: number[]) =>
  `perl -e '$r = syscall(${[nr, ...args].join(', ')}); print "${name}=", ($r < 0 ? $!+0 : 0), "\\n"'`;
// keyctl(KEYCTL_GET_KEYRING_ID, 0): EINVAL from the kernel itself; unshare(CLONE_NEWUSER);
// clone3 with a NULL argument: EFAULT from the kernel itself.
const PROBE = [
  'grep "^Seccomp:" /proc/self/status',
  call('keyctl', NR.keyctl, 0, 0),
  call('unshare', NR.unshare, 0x10000000),
  call('clone3', NR.clone3, 0, 0),
].join('; ');
const EPERM = 1;
const ENOSYS = 38;

/** NAME=VALUE and Seccomp lines a run printed, as a record. */
function results(out: string): Record<string, string> {
  return Object.fromEntries([...out.matchAll(/(Seccomp|keyctl|unshare|clone3|mkdir)[=:]\s*(\d+)/g)].map((m) => [m[1], m[2]]));
}

async function run(s: TestState, args: string[], script: string): Promise<Record<string, string>> {
  const r = await s.cli(['run', ...args, '--', 'sh', '-c', script]);
  if (r.code !== 0) throw new Error(`run ${args.join(' ')}: ${r.code} ${r.stderr}`);
  return results(r.stdout);
}

/** A profile file in tspod's profile directory, removed after the test; its path relative to it. */
function profileInDir(t: Test, profile: object): string {
  // The directories it makes (/etc/tspod, its seccomp) go too, unless something else is in them.
  const made = mkdirSync(SECCOMP_PROFILE_DIR, { recursive: true });
  const name = `tspod-test-${process.pid}-${Math.random().toString(36).slice(2)}.json`;
  cleanup(t, `profile ${name}`, () => {
    rmSync(join(SECCOMP_PROFILE_DIR, name), { force: true });
    for (let dir = SECCOMP_PROFILE_DIR; made && dir.startsWith(made); dir = dirname(dir)) {
      if (readdirSync(dir).length) break;
      rmdirSync(dir);
    }
  });
  writeFileSync(join(SECCOMP_PROFILE_DIR, name), JSON.stringify(profile));
  return name;
}

const NO_MKDIR = {
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM }],
};

t.test('a default container runs under RuntimeDefault: keyctl and a user namespace denied with EPERM, clone3 with ENOSYS', async (t) => {
  const s = testState(t);
  t.same(await run(s, [], PROBE), { Seccomp: '2', keyctl: `${EPERM}`, unshare: `${EPERM}`, clone3: `${ENOSYS}` });
  const root = busyboxRoot(tempDir(t, 'rootfs'));
  t.same(await run(s, ['--rootfs', root], 'grep "^Seccomp:" /proc/self/status'), { Seccomp: '2' }, 'with a root of its own too');
  // With no_new_privs the filter is loaded last, after the capabilities are cut.
  t.same(await run(s, ['--security-opt', 'no-new-privileges'], PROBE), { Seccomp: '2', keyctl: '1', unshare: '1', clone3: '38' });
});

t.test('Unconfined and privileged: no filter, the same calls reach the kernel', async (t) => {
  const s = testState(t);
  for (const how of [['--security-opt', 'seccomp=unconfined'], ['--privileged']]) {
    const r = await run(s, how, PROBE);
    t.equal(r.Seccomp, '0', `${how.join(' ')}: no filter`);
    t.not(r.keyctl, `${EPERM}`, `${how.join(' ')}: keyctl answered by the kernel (errno ${r.keyctl})`);
    t.not(r.clone3, `${ENOSYS}`, `${how.join(' ')}: clone3 answered by the kernel (errno ${r.clone3})`);
  }
});

t.test('SYS_ADMIN added: RuntimeDefault allows what it is for (unshare, clone3)', async (t) => {
  const s = testState(t);
  const r = await run(s, ['--cap-add', 'SYS_ADMIN'], PROBE);
  t.same([r.Seccomp, r.keyctl, r.unshare], ['2', `${EPERM}`, '0'], 'unshare of a user namespace succeeds; keyctl stays denied');
  t.not(r.clone3, `${ENOSYS}`, 'clone3 reaches the kernel');
});

t.test("a Localhost profile that denies mkdir: EPERM in that container, restarted or exec'd into, not in its neighbour", async (t) => {
  const s = testState(t);
  const profile = profileInDir(t, NO_MKDIR);
  const dir = tempDir(t, 'seccomp');
  const file = join(dir, 'pod.yaml');
  // Each container's own process tries first (a new directory name at every start), then waits.
  const localhost = `{type: Localhost, localhostProfile: ${profile}}`;
  const tryMkdir = (c: string) => `[sh, -c, 'mkdir ${dir}/${c}-$$$$ 2>/dev/null; echo mkdir=$$?; exec sleep 1000']`;
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: sc}',
      'spec:',
      '  containers:',
      `  - {name: denied, command: ${tryMkdir('denied')}, securityContext: {seccompProfile: ${localhost}}}`,
      `  - {name: free, command: ${tryMkdir('free')}}`,
      '',
    ].join('\n'),
  );
  const r = await s.cli(['run', '-d', '-f', file]);
  t.equal(r.code, 0, r.stderr);
  const logged = (c: string, lines: number) =>
    waitFor(`${c}'s ${lines} line(s)`, async () => {
      const out = (await s.cli(['logs', 'sc', c])).stdout.split('\n').filter(Boolean);
      return out.length >= lines ? out : undefined;
    });
  t.same(await logged('denied', 1), ['mkdir=1'], "denied: its own process's mkdir fails");
  t.same(await logged('free', 1), ['mkdir=0'], 'its neighbour (RuntimeDefault) makes the directory');
  t.equal((await s.cli(['restart', 'sc', 'denied'])).code, 0);
  t.same(await logged('denied', 2), ['mkdir=1', 'mkdir=1'], 'restarted: its new process is denied too');
  const exec = (c: string, path: string) =>
    s.cli(['exec', 'sc', c, '--', 'sh', '-c', `mkdir ${path} 2>/dev/null; echo mkdir=$?; grep "^Seccomp:" /proc/self/status`]);
  t.same(results((await exec('denied', join(dir, 'a'))).stdout), { mkdir: '1', Seccomp: '2' }, 'exec in denied: mkdir fails');
  t.same(results((await exec('free', join(dir, 'b'))).stdout), { mkdir: '0', Seccomp: '2' }, 'exec in its neighbour: it works');
  // The errno itself: a shell reports only a status.
  const errno = await s.cli(['exec', 'sc', 'denied', '--', 'perl', '-e', `mkdir("${join(dir, 'c')}") or print "mkdir=", $!+0, "\\n"`]);
  t.same(results(errno.stdout), { mkdir: `${EPERM}` }, 'EPERM');
});

t.test('bad seccomp input: one line naming the file and field, nothing created', async (t) => {
  const s = testState(t);
  const dir = tempDir(t, 'bad-seccomp');
  const cases: [string, string, RegExp][] = [
    ['not JSON', '{"defaultAction": ', /not-JSON\.json: is not valid JSON/],
    [
      'unknown syscall',
      JSON.stringify({ ...NO_MKDIR, syscalls: [{ names: ['mkdir', 'mkdri'], action: 'SCMP_ACT_ERRNO' }] }),
      /syscalls\[0\]\.names: "mkdri" is not a system call/,
    ],
    ['unknown action', JSON.stringify({ defaultAction: 'SCMP_ACT_MAYBE' }), /defaultAction: must be one of SCMP_ACT_ALLOW/],
    ['unknown field', JSON.stringify({ ...NO_MKDIR, syscall: [] }), /syscall: is not a field of a seccomp profile/],
  ]; // prettier-ignore
  for (const [what, text, error] of cases) {
    const file = join(dir, `${what.replaceAll(' ', '-')}.json`);
    writeFileSync(file, text);
    const r = await s.cli(['run', '-d', '--name', 'bad', '--security-opt', `seccomp=${file}`, '--', 'true']);
    t.equal(r.code, 125, what);
    t.match(r.stderr, error, what);
    t.match(r.stderr, file, `${what}: names the file`);
    t.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line`);
  }
  const manifest = join(dir, 'pod.yaml');
  writeFileSync(
    manifest,
    'apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers:\n' +
      "  - {name: c, command: ['true'], securityContext: {seccompProfile: {type: Localhost, localhostProfile: ../../etc/passwd}}}\n",
  );
  const up = await s.cli(['run', '-d', '-f', manifest]);
  t.match(up.stderr, /spec\.containers\[0\]\.securityContext\.seccompProfile\.localhostProfile: "..\/..\/etc\/passwd" must not go up/);
  await waitFor('no pod', () => s.store.names().length === 0 || undefined);
  t.same(s.store.names(), [], 'nothing created');
});
