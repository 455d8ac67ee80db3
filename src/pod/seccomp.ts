// A container's seccomp filter: which profile applies (Kubernetes' seccompProfile, podman's
// --security-opt seccomp=), containerd's RuntimeDefault allow-list, and profile files in the
// OCI/Docker JSON format, read and checked here. Policy only: native/seccomp.cc compiles the
// filter with libseccomp, the child loads it.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { isAbsolute, join, normalize } from 'node:path';
import { InputError } from '../errors.js';
import type { SeccompFilter, SeccompRule } from '../native/binding.js';
import type { SeccompProfile, SecurityContext } from './spec.js';

/** Where a Localhost profile's relative path is looked up (the kubelet's is <root-dir>/seccomp). */
export const SECCOMP_PROFILE_DIR = '/etc/tspod/seccomp';

/** The profile a container runs under; none: unconfined. */
export type SeccompPolicy = { type: 'RuntimeDefault' } | { type: 'Localhost'; file: string };

/**
 * tspod's default is RuntimeDefault, as podman's and Kubernetes' restricted profile are. A
 * privileged container runs unconfined, as in Docker, podman and containerd.
 */
export function seccompPolicy(sc: SecurityContext | undefined): SeccompPolicy | undefined {
  if (sc?.privileged) return undefined;
  const p = sc?.seccompProfile ?? { type: 'RuntimeDefault' };
  if (p.type === 'Unconfined') return undefined;
  if (p.type === 'RuntimeDefault') return { type: 'RuntimeDefault' };
  return { type: 'Localhost', file: profileFile(p.localhostProfile!) };
}

function profileFile(path: string): string {
  return isAbsolute(path) ? path : join(SECCOMP_PROFILE_DIR, path);
}

/** A securityContext.seccompProfile as a manifest gives it (`path` names the field). */
export function seccompProfileField(v: Record<string, unknown>, path: string): SeccompProfile {
  const type = v.type;
  if (type !== 'RuntimeDefault' && type !== 'Unconfined' && type !== 'Localhost') {
    throw new InputError(`${path}.type`, `must be RuntimeDefault, Unconfined or Localhost, not ${JSON.stringify(type)}`);
  }
  const lp = v.localhostProfile;
  if (type !== 'Localhost') {
    if (lp !== undefined) throw new InputError(`${path}.localhostProfile`, 'is only for type Localhost');
    return { type };
  }
  if (typeof lp !== 'string' || lp === '') throw new InputError(`${path}.localhostProfile`, 'is required for type Localhost');
  return { type, localhostProfile: localhostProfile(lp, `${path}.localhostProfile`) };
}

/**
 * A Localhost profile's path: relative to SECCOMP_PROFILE_DIR and below it, as Kubernetes asks;
 * tspod also takes an absolute path (podman's --security-opt seccomp=PATH).
 */
export function localhostProfile(path: string, where: string): string {
  if (path.includes('\0') || normalize(path).split('/').includes('..')) {
    throw new InputError(where, `"${path}" must not go up a directory (..)`);
  }
  return path;
}

// --- RuntimeDefault ----------------------------------------------------------------------------

// containerd's allow-list for RuntimeDefault (contrib/seccomp, as of containerd 1.7), which is
// Docker's default profile: every system call a program needs and no container should be denied.
const ALLOWED = `
accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32
clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2
dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64
fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64
fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs
fstatfs64 fsync ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat getcpu getcwd
getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32
getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32
getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt
get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init
inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit io_uring_enter io_uring_register
io_uring_setup ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown
lchown32 lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr
lstat lstat64 madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock
mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv
msgsnd msync munlock munlockall munmap nanosleep newfstatat _newselect open openat openat2 pause
pidfd_open pidfd_send_signal pipe pipe2 poll ppoll ppoll_time64 prctl pread64 preadv preadv2
prlimit64 process_mrelease pselect6 pselect6_time64 ptrace pwrite64 pwritev pwritev2 read readahead
readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages
removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending
rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64
rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max
sched_get_priority_min sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64
sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select semctl
semget semop semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid
setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority
setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit
set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32 setxattr shmat
shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn socket socketcall
socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs
sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime
utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev`;

/** The architectures a filter covers on this machine's, and the system calls only they have. */
const ARCHES: Record<string, { architectures: string[]; only: string[] }> = {
  x64: { architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], only: ['arch_prctl', 'modify_ldt'] },
  arm64: {
    architectures: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
    only: ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'],
  },
};

/** System calls that a capability makes useful, allowed when the container holds it. */
const BY_CAPABILITY: Record<string, string[]> = {
  DAC_READ_SEARCH: ['open_by_handle_at'],
  SYS_ADMIN: [
    'bpf', 'clone', 'clone3', 'fanotify_init', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'lookup_dcookie', 'mount',
    'mount_setattr', 'move_mount', 'name_to_handle_at', 'open_tree', 'perf_event_open', 'quotactl', 'quotactl_fd',
    'setdomainname', 'sethostname', 'setns', 'syslog', 'umount', 'umount2', 'unshare',
  ], // prettier-ignore
  SYS_BOOT: ['reboot'],
  SYS_CHROOT: ['chroot'],
  SYS_MODULE: ['delete_module', 'init_module', 'finit_module'],
  SYS_PACCT: ['acct'],
  SYS_PTRACE: ['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev', 'ptrace'],
  SYS_RAWIO: ['iopl', 'ioperm'],
  SYS_TIME: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'],
  SYS_TTY_CONFIG: ['vhangup'],
  SYSLOG: ['syslog'],
  BPF: ['bpf'],
  PERFMON: ['perf_event_open'],
};

// clone's flags that make namespaces; without SYS_ADMIN a clone asking for one is denied.
const CLONE_NAMESPACE_FLAGS = 0x7e020000;

const allow = (names: string[], args: SeccompRule['args'] = []): SeccompRule => ({ names, action: 'SCMP_ACT_ALLOW', args });

/** The RuntimeDefault filter for a container with these capabilities, on this architecture. */
export function runtimeDefaultFilter(capabilities: readonly string[], arch: string = process.arch): SeccompFilter {
  const a = ARCHES[arch];
  if (!a) throw new InputError('seccompProfile', `RuntimeDefault has no system call list for the architecture ${arch}`);
  const rules: SeccompRule[] = [allow(ALLOWED.trim().split(/\s+/)), allow(a.only)];
  // personality(2) only as programs use it: PER_LINUX (0), PER_LINUX32 (8), UNAME26 (0x20000),
  // both, and 0xffffffff, which only reads the current one.
  for (const value of [0x0, 0x8, 0x20000, 0x20008, 0xffffffff])
    rules.push(allow(['personality'], [{ index: 0, value, valueTwo: 0, op: 'SCMP_CMP_EQ' }]));
  for (const cap of capabilities) if (BY_CAPABILITY[cap]) rules.push(allow(BY_CAPABILITY[cap]));
  if (!capabilities.includes('SYS_ADMIN')) {
    rules.push(allow(['clone'], [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]));
    // ENOSYS, not EPERM: glibc then falls back to clone, whose flags the rule above can see.
    rules.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, args: [] });
  }
  // A name this machine's libseccomp is too old to know is left out (denied), as runc does.
  return { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, architectures: a.architectures, flags: [], rules, skipUnknown: true };
}

// --- Profile files -----------------------------------------------------------------------------

const ACTIONS = [
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_LOG',
];
const OPS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'];
const FLAGS = ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'];
const PROFILE_FIELDS = [
  'defaultAction',
  'defaultErrnoRet',
  'architectures',
  'archMap',
  'flags',
  'listenerPath',
  'listenerMetadata',
  'syscalls',
];
const RULE_FIELDS = ['names', 'name', 'action', 'errnoRet', 'args', 'comment', 'includes', 'excludes'];
/** Docker's includes/excludes name architectures as Go does. */
const GO_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };
/** A profile's filter: each rule keeps the field it came from. */
export type ProfileFilter = Omit<SeccompFilter, 'rules'> & { rules: (SeccompRule & { where: string })[] };

/** What a profile's rules depend on: the container's capabilities, the machine, the kernel. */
export interface ProfileContext {
  capabilities: readonly string[];
  arch?: string;
  kernel?: string;
}

/** A profile file (JSON, at most 1 MiB) read and checked; errors name the file and the field. */
export function profileFileFilter(file: string, ctx: ProfileContext): SeccompFilter {
  return profileTextFilter(readProfile(file), file, ctx);
}

/** A profile file's text (at most 1 MiB). */
export function readProfile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new InputError(file, `cannot read the seccomp profile: ${e.code ?? e.message}`);
  }
  if (text.length > 1024 * 1024) throw new InputError(file, 'is over 1 MiB: not a seccomp profile');
  return text;
}

/** A profile's text (JSON) as the filter for a container in `ctx`; `file` names it in errors. */
export function profileTextFilter(text: string, file: string, ctx: ProfileContext): SeccompFilter {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InputError(file, `is not valid JSON: ${(err as Error).message}`);
  }
  return profileFilter(doc, file, ctx);
}

const fail = (file: string, field: string, problem: string): never => {
  throw new InputError(field, problem, file);
};

function object(v: unknown, file: string, field: string, known: string[]): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(file, field || 'profile', 'must be a JSON object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!known.includes(k)) fail(file, field ? `${field}.${k}` : k, 'is not a field of a seccomp profile');
  return o;
}

function strings(v: unknown, file: string, field: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) fail(file, field, 'must be a list of strings');
  return v as string[];
}

function integer(v: unknown, file: string, field: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) fail(file, field, `must be an integer from 0 to ${max}`);
  return v as number;
}

function action(v: unknown, file: string, field: string): string {
  if (v === 'SCMP_ACT_NOTIFY') fail(file, field, 'SCMP_ACT_NOTIFY needs a seccomp agent, which tspod does not run');
  if (typeof v !== 'string' || !ACTIONS.includes(v)) fail(file, field, `must be one of ${ACTIONS.join(', ')}`);
  // The same action by its older name: compared with the default as one.
  return v === 'SCMP_ACT_KILL' ? 'SCMP_ACT_KILL_THREAD' : (v as string);
}

/** Linux's version as numbers, for Docker's minKernel. */
function kernelAtLeast(kernel: string, min: string, file: string, field: string): boolean {
  const want = /^(\d+)\.(\d+)$/.exec(min);
  if (!want) fail(file, field, `"${min}" is not a kernel version (MAJOR.MINOR)`);
  const [maj, mnr] = kernel.split('.').map((n) => parseInt(n, 10));
  return maj > Number(want![1]) || (maj === Number(want![1]) && mnr >= Number(want![2]));
}

/** Docker's includes (all must hold) and excludes (none may) of one rule. */
function ruleApplies(r: Record<string, unknown>, file: string, field: string, ctx: Required<ProfileContext>): boolean {
  const goArch = GO_ARCH[ctx.arch] ?? ctx.arch;
  const test = (key: 'includes' | 'excludes') => {
    if (r[key] === undefined) return [];
    const o = object(r[key], file, `${field}.${key}`, ['caps', 'arches', 'minKernel']);
    const caps = strings(o.caps, file, `${field}.${key}.caps`).map((c) => c.replace(/^CAP_/, ''));
    const arches = strings(o.arches, file, `${field}.${key}.arches`);
    const held: boolean[] = [];
    if (caps.length)
      held.push(key === 'includes' ? caps.every((c) => ctx.capabilities.includes(c)) : caps.some((c) => ctx.capabilities.includes(c)));
    if (arches.length) held.push(arches.includes(goArch));
    if (o.minKernel !== undefined) {
      if (typeof o.minKernel !== 'string') fail(file, `${field}.${key}.minKernel`, 'must be a string');
      held.push(kernelAtLeast(ctx.kernel, o.minKernel as string, file, `${field}.${key}.minKernel`));
    }
    return held;
  };
  return test('includes').every(Boolean) && !test('excludes').some(Boolean);
}

/**
 * A profile (OCI's LinuxSeccomp, or Docker's format with archMap, name, includes and excludes)
 * as the filter for a container in `ctx`. Each rule keeps the field it came from in `where`.
 */
export function profileFilter(doc: unknown, file: string, context: ProfileContext): ProfileFilter {
  const ctx: Required<ProfileContext> = { arch: process.arch, kernel: release(), ...context };
  const p = object(doc, file, '', PROFILE_FIELDS);
  if (p.defaultAction === undefined) fail(file, 'defaultAction', 'is required');
  const defaultAction = action(p.defaultAction, file, 'defaultAction');
  const defaultErrnoRet = p.defaultErrnoRet === undefined ? undefined : integer(p.defaultErrnoRet, file, 'defaultErrnoRet', 4095);
  if (p.listenerPath !== undefined) fail(file, 'listenerPath', 'a seccomp agent is not something tspod runs');
  const architectures = strings(p.architectures, file, 'architectures');
  if (p.archMap !== undefined) {
    if (!Array.isArray(p.archMap)) fail(file, 'archMap', 'must be a list');
    const native = ARCHES[ctx.arch]?.architectures[0];
    (p.archMap as unknown[]).forEach((m, i) => {
      const o = object(m, file, `archMap[${i}]`, ['architecture', 'subArchitectures']);
      if (typeof o.architecture !== 'string') fail(file, `archMap[${i}].architecture`, 'must be a string');
      if (o.architecture === native) architectures.push(native, ...strings(o.subArchitectures, file, `archMap[${i}].subArchitectures`));
    });
  }
  const flags = strings(p.flags, file, 'flags');
  flags.forEach((f, i) => FLAGS.includes(f) || fail(file, `flags[${i}]`, `must be one of ${FLAGS.join(', ')}`));

  const rules: (SeccompRule & { where: string })[] = [];
  if (p.syscalls !== undefined && !Array.isArray(p.syscalls)) fail(file, 'syscalls', 'must be a list');
  ((p.syscalls ?? []) as unknown[]).forEach((raw, i) => {
    const where = `syscalls[${i}]`;
    const r = object(raw, file, where, RULE_FIELDS);
    const names = [...strings(r.names, file, `${where}.names`), ...(r.name === undefined ? [] : strings([r.name], file, `${where}.name`))];
    if (!names.length) fail(file, `${where}.names`, 'must name at least one system call');
    if (r.action === undefined) fail(file, `${where}.action`, 'is required');
    const act = action(r.action, file, `${where}.action`);
    const errnoRet = r.errnoRet === undefined ? undefined : integer(r.errnoRet, file, `${where}.errnoRet`, 4095);
    if (r.args !== undefined && !Array.isArray(r.args)) fail(file, `${where}.args`, 'must be a list');
    const args = ((r.args ?? []) as unknown[]).map((a, j) => {
      const at = `${where}.args[${j}]`;
      const o = object(a, file, at, ['index', 'value', 'valueTwo', 'op']);
      if (typeof o.op !== 'string' || !OPS.includes(o.op)) fail(file, `${at}.op`, `must be one of ${OPS.join(', ')}`);
      return {
        index: integer(o.index, file, `${at}.index`, 5),
        value: integer(o.value ?? 0, file, `${at}.value`),
        valueTwo: integer(o.valueTwo ?? 0, file, `${at}.valueTwo`),
        op: o.op as string,
      };
    });
    if (!ruleApplies(r, file, where, ctx)) return;
    // libseccomp refuses a rule that does what the default does.
    if (act === defaultAction && (errnoRet ?? 1) === (defaultErrnoRet ?? 1)) return;
    const rule = { names, action: act, ...(errnoRet === undefined ? {} : { errnoRet }), where };
    // Two comparisons of one argument cannot both hold: runc reads them as alternatives, one rule each.
    const indexes = args.map((a) => a.index);
    if (new Set(indexes).size === indexes.length) rules.push({ ...rule, args });
    else for (const a of args) rules.push({ ...rule, args: [a] });
  });
  return { defaultAction, ...(defaultErrnoRet === undefined ? {} : { defaultErrnoRet }), architectures, flags, rules };
}
