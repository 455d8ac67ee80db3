// seccomp policy as pod/seccomp.ts works it out: containerd's RuntimeDefault for the container's
// capabilities and architecture, profile files in the OCI and Docker formats and their errors,
// which profile applies; and the real addon compiling them (no root needed).
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/cleanup.js';
import { loadBinding } from '../../src/native/binding.js';
import { podFromManifest } from '../../src/pod/manifest.js';
import { SECCOMP_PROFILE_DIR, profileFilter, runtimeDefaultFilter, seccompPolicy } from '../../src/pod/seccomp.js';
import { CAPABILITIES, DEFAULT_CAPABILITIES } from '../../src/pod/security.js';
import { applyContainerOptions } from '../../src/cli/options.js';
import { compileSeccomp } from '../../src/runtime/seccomp.js';
import type { PodSpec } from '../../src/pod/spec.js';

const binding = loadBinding();
const names = (f: { rules: { names: string[] }[] }) => f.rules.flatMap((r) => r.names);
const ctx = { capabilities: [...DEFAULT_CAPABILITIES], arch: 'x64', kernel: '6.1.0-27-amd64' };

t.test("RuntimeDefault: containerd's list for the architecture, and what the capabilities add", async (t) => {
  const x64 = runtimeDefaultFilter(DEFAULT_CAPABILITIES, 'x64');
  t.same(x64.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  t.same([x64.defaultAction, x64.defaultErrnoRet], ['SCMP_ACT_ERRNO', 1], 'anything else: EPERM');
  t.ok(names(x64).includes('arch_prctl'));
  t.notOk(names(x64).includes('set_tls'));
  for (const denied of ['keyctl', 'add_key', 'mount', 'unshare', 'setns', 'bpf', 'reboot', 'init_module', 'kexec_load']) {
    t.notOk(names(x64).includes(denied), `${denied} is not allowed`);
  }
  t.same(x64.rules.find((r) => r.names.includes('clone'))!.args, [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]);
  t.same(
    x64.rules.find((r) => r.names.includes('clone3')),
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, args: [] },
  );
  const arm = runtimeDefaultFilter(DEFAULT_CAPABILITIES, 'arm64');
  t.same(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  t.ok(names(arm).includes('set_tls'));
  t.notOk(names(arm).includes('arch_prctl'));
  const admin = runtimeDefaultFilter([...DEFAULT_CAPABILITIES, 'SYS_ADMIN'], 'x64');
  t.ok(
    ['mount', 'unshare', 'setns', 'clone3'].every((n) => names(admin).includes(n)),
    'SYS_ADMIN: mount, unshare, setns, clone3',
  );
  t.notOk(
    admin.rules.some((r) => r.args.length && r.names.includes('clone')),
    'SYS_ADMIN: clone with any flags',
  );
  t.ok(names(runtimeDefaultFilter(['SYS_PTRACE'], 'x64')).includes('process_vm_readv'));
  t.throws(() => runtimeDefaultFilter([], 's390x'), { name: 'InputError' });
});

t.test('every name RuntimeDefault allows is a system call libseccomp knows, on both architectures', async (t) => {
  for (const arch of ['x64', 'arm64']) {
    const f = runtimeDefaultFilter(CAPABILITIES, arch);
    const unknown = names(f).filter((n) => {
      try {
        // For that architecture's ABIs: a name it lacks is still one libseccomp knows.
        binding.compileSeccomp({ ...f, rules: [{ names: [n], action: 'SCMP_ACT_ALLOW', args: [] }], skipUnknown: false });
        return false;
      } catch {
        return true;
      }
    });
    t.same(unknown, [], arch);
  }
});

t.test("which profile applies: RuntimeDefault unless asked; privileged and Unconfined: none; Localhost's file", async (t) => {
  t.same(seccompPolicy(undefined), { type: 'RuntimeDefault' });
  t.equal(seccompPolicy({ privileged: true }), undefined);
  t.equal(seccompPolicy({ seccompProfile: { type: 'Unconfined' } }), undefined);
  t.same(seccompPolicy({ seccompProfile: { type: 'Localhost', localhostProfile: 'a/b.json' } }), {
    type: 'Localhost',
    file: join(SECCOMP_PROFILE_DIR, 'a/b.json'),
  });
  t.same(seccompPolicy({ seccompProfile: { type: 'Localhost', localhostProfile: '/srv/p.json' } }), {
    type: 'Localhost',
    file: '/srv/p.json',
  });
});

t.test("a manifest's seccompProfile: the pod's is each container's default, a container's own wins; bad ones named", async (t) => {
  const pod = (sc: string, own = '') =>
    podFromManifest({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: {
        securityContext: JSON.parse(sc),
        containers: [
          { name: 'a', command: ['true'] },
          { name: 'b', command: ['true'], ...(own ? { securityContext: JSON.parse(own) } : {}) },
        ],
      },
    });
  const p = pod('{"seccompProfile": {"type": "Unconfined"}}', '{"seccompProfile": {"type": "RuntimeDefault"}}');
  t.same(
    p.containers.map((c) => c.securityContext?.seccompProfile?.type),
    ['Unconfined', 'RuntimeDefault'],
  );
  const bad: [string, string][] = [
    ['{"seccompProfile": {"type": "Localhost"}}', 'spec.securityContext.seccompProfile.localhostProfile'],
    ['{"seccompProfile": {"type": "Localhost", "localhostProfile": "../x.json"}}', 'spec.securityContext.seccompProfile.localhostProfile'],
    [
      '{"seccompProfile": {"type": "RuntimeDefault", "localhostProfile": "x.json"}}',
      'spec.securityContext.seccompProfile.localhostProfile',
    ],
    ['{"seccompProfile": {"type": "Default"}}', 'spec.securityContext.seccompProfile.type'],
    ['{"seccompProfile": {"type": "Unconfined", "extra": 1}}', 'spec.securityContext.seccompProfile.extra'],
  ];
  for (const [sc, field] of bad) t.throws(() => pod(sc), { name: 'InputError', field }, sc);
});

t.test('--security-opt seccomp=PATH is a Localhost profile by absolute path; seccomp=unconfined', async (t) => {
  const spec = (opt: string) => {
    const s = { containers: [{ name: 'c', command: ['true'], args: [], env: [] }] } as unknown as PodSpec;
    applyContainerOptions(s, { securityOpt: [opt] });
    return s.containers[0].securityContext?.seccompProfile;
  };
  t.same(spec('seccomp=p.json'), { type: 'Localhost', localhostProfile: join(process.cwd(), 'p.json') });
  t.same(spec('seccomp=unconfined'), { type: 'Unconfined' });
  t.throws(() => spec('seccomp=../p.json'), { name: 'InputError', field: '--security-opt seccomp' });
});

t.test("Docker's format: archMap, a single name, includes and excludes by capability, architecture and kernel", async (t) => {
  const f = profileFilter(
    {
      defaultAction: 'SCMP_ACT_ERRNO',
      archMap: [
        { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
        { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
      ],
      syscalls: [
        { names: ['read'], action: 'SCMP_ACT_ALLOW' },
        { name: 'write', action: 'SCMP_ACT_ALLOW', comment: 'old style' },
        { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_PTRACE'] } },
        { names: ['chown'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_CHOWN'], arches: ['amd64'] } },
        { names: ['set_tls'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm64'] } },
        { names: ['futex_waitv'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '5.16' } },
        { names: ['bpf'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '6.2' } },
        { names: ['kill'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_KILL'] } },
        { names: ['getpid'], action: 'SCMP_ACT_ERRNO', comment: 'what the default does: left out' },
      ],
    },
    'p.json',
    ctx,
  );
  t.same(f.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], "this machine's entry of archMap");
  t.same(names(f), ['read', 'write', 'chown', 'futex_waitv']);
  t.same(
    f.rules.map((r) => r.where),
    ['syscalls[0]', 'syscalls[1]', 'syscalls[3]', 'syscalls[5]'],
  );
});

t.test('two comparisons of one argument are alternatives: a rule each, as runc reads them', async (t) => {
  const cmp = (value: number) => ({ index: 0, value, op: 'SCMP_CMP_EQ' });
  const f = profileFilter(
    {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [cmp(0), cmp(8)] },
        { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [cmp(1), { index: 1, value: 2, op: 'SCMP_CMP_NE' }] },
      ],
    },
    'p.json',
    ctx,
  );
  t.same(
    f.rules.map((r) => r.args.map((a) => `${a.index}:${a.value}`)),
    [['0:0'], ['0:8'], ['0:1', '1:2']],
  );
});

t.test("a profile's errors name the file and the field", async (t) => {
  const rule = (more: object) => ({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', ...more }] });
  const bad: [unknown, string, RegExp][] = [
    [[], 'profile', /must be a JSON object/],
    [{}, 'defaultAction', /is required/],
    [{ defaultAction: 'SCMP_ACT_NOTIFY' }, 'defaultAction', /needs a seccomp agent/],
    [{ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock' }, 'listenerPath', /seccomp agent/],
    [{ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_NEW_LISTENER'] }, 'flags[0]', /must be one of/],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ action: 'SCMP_ACT_ERRNO' }] }, 'syscalls[0].names', /at least one/],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'] }] }, 'syscalls[0].action', /is required/],
    [rule({ args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }] }), 'syscalls[0].args[0].index', /from 0 to 5/],
    [rule({ args: [{ index: 0, value: 2 ** 60, op: 'SCMP_CMP_EQ' }] }), 'syscalls[0].args[0].value', /integer/],
    [rule({ args: [{ index: 0, value: 1, op: 'EQ' }] }), 'syscalls[0].args[0].op', /must be one of/],
    [rule({ includes: { minKernel: 'six' } }), 'syscalls[0].includes.minKernel', /not a kernel version/],
  ]; // prettier-ignore
  for (const [doc, field, problem] of bad) {
    t.throws(() => profileFilter(doc, 'p.json', ctx), { name: 'InputError', field, file: 'p.json', problem }, field);
  }
});

t.test('compiled by libseccomp: a program of whole instructions, once per filter; an unknown name is named', async (t) => {
  const dir = tempDir(t, 'seccomp-unit');
  const file = join(dir, 'p.json');
  writeFileSync(file, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] }));
  const source = { policy: { type: 'Localhost' as const, file }, capabilities: [] };
  const a = compileSeccomp(binding, source);
  t.ok(a.program.length > 0 && a.program.length % 8 === 0, `${a.program.length / 8} instructions`);
  t.equal(compileSeccomp(binding, source), a, 'the same filter again: the program compiled before');
  writeFileSync(
    file,
    JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdri'], action: 'SCMP_ACT_ERRNO' }] }),
  );
  t.throws(() => compileSeccomp(binding, source), {
    name: 'InputError',
    field: 'syscalls[0].names',
    file,
    problem: '"mkdri" is not a system call libseccomp knows',
  });
  const flags = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'] });
  writeFileSync(file, flags);
  t.equal(compileSeccomp(binding, source).flags, 2 | 4, "the kernel's flag bits");
  const rd = compileSeccomp(binding, { policy: { type: 'RuntimeDefault' }, capabilities: [...DEFAULT_CAPABILITIES] });
  t.ok(rd.program.length / 8 > 100, `RuntimeDefault: ${rd.program.length / 8} instructions`);
});
