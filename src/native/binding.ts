// The one description of everything the addon (native/) exports, and its loader.
// The runtime takes a NativeBinding as a parameter, so its logic can be tested with a fake.
import { join } from 'node:path';

/** One namespace to enter with setns() before the process is cloned. */
export interface NamespaceJoin {
  /** A namespace fd (open('/proc/PID/ns/net')) or a pidfd. */
  fd: number;
  /** CLONE_NEW* of that namespace; with a pidfd, several OR-ed together; 0 takes any. */
  type: number;
  /** Names the fd in errors, e.g. '/proc/42/ns/net'. */
  label?: string;
}

/**
 * One step of setting up a process's view of the file system, run in order in its mount
 * namespace. With inRoot, `target` is a path inside the directory of the last openRoot step,
 * resolved there with openat2(RESOLVE_IN_ROOT), so a symlink in a container's root file system
 * cannot lead the step out of it.
 */
export type FsStep =
  /** sourceBeneath: the source is this path beneath `source`, resolved in the child (RESOLVE_BENEATH).
   *  A bind remount (MS_REMOUNT | MS_BIND) keeps the nosuid, nodev, noexec and nosymfollow
   *  flags the mount has (the kernel would reset them to the ones given; it keeps atime). */
  | {
      op: 'mount';
      source?: string | null;
      sourceBeneath?: string;
      target: string;
      fstype?: string | null;
      flags?: number;
      data?: string | null;
      inRoot?: boolean;
    }
  | { op: 'mkdir'; target: string; mode?: number; inRoot?: boolean }
  | { op: 'mknod'; target: string; mode: number; major: number; minor: number; inRoot?: boolean }
  | { op: 'symlink'; source: string; target: string; inRoot?: boolean }
  | { op: 'touch'; target: string; mode?: number; inRoot?: boolean }
  | { op: 'openRoot'; target: string }
  | { op: 'pivot'; target: string }
  /** Relative paths of later steps start here (the host's path; an overlay's lowerdirs). */
  | { op: 'chdir'; target: string }
  // runc's masked paths: /dev/null bound over a file, an empty read-only tmpfs over a directory.
  | { op: 'mask'; target: string }
  // runc's read-only paths: bound onto themselves, read-only. Both pass over a missing target.
  | { op: 'readonly'; target: string }
  /** A copy of source's mount, idmapped through the request's userNamespace (Linux 5.12), onto
   *  target: host paths, symlinks followed (an image layer through its numbered link). */
  | { op: 'idmap'; source: string; target: string };

/**
 * A process to create, in a cgroup (intoCgroup) or not. The order in the child is fixed
 * (native/child.cc): join cgroups, join namespaces (in an intermediate process that clones the final one with CLONE_PARENT), create
 * new ones (CLONE_NEW* flags), a new cgroup namespace, reset signal dispositions, new session or group, hostname, lo up,
 * file-system steps, user, parent-death signal (a change of user would clear it), cwd, stdio
 * (every other fd close-on-exec), controlling terminal, execve. spawn() returns once execve has
 * succeeded, or throws the step that failed.
 */
export interface SpawnRequest {
  /** The program. Without a '/', each of searchPath is tried in turn, as execvp does. */
  path: string;
  searchPath?: string[];
  argv: string[];
  /** 'NAME=value' strings: the whole environment; nothing is inherited. */
  env: string[];
  cwd?: string;
  /** Parent fds that become the child's 0, 1, 2, ... Every other fd is closed on exec. */
  stdio: number[];
  /** CLONE_NEW* flags: namespaces the new process is created in. */
  newNamespaces?: number;
  joinNamespaces?: NamespaceJoin[];
  /**
   * Cgroups the process moves itself into before anything else: fds of their cgroup.procs,
   * open for writing (O_CLOEXEC; the caller closes them). `label` names the file in errors.
   */
  joinCgroups?: { fd: number; label: string }[];
  /**
   * A cgroup directory (an fd of it) the process is created in: clone3 CLONE_INTO_CGROUP, so it
   * never runs outside it and costs no migration; where clone3 is missing, the child moves
   * itself there first. Its errors name `label`.
   */
  intoCgroup?: { fd: number; label: string };
  /** A new cgroup namespace, rooted at the cgroup joined (unshare after the join, not at clone). */
  newCgroupNamespace?: boolean;
  /** Set in the process's UTS namespace (a new or a joined one). */
  hostname?: string;
  /** Bring lo up in the process's network namespace. */
  loopbackUp?: boolean;
  /** File-system steps, in order, in the process's mount namespace. */
  fs?: FsStep[];
  /**
   * A user namespace (an nsfs fd, O_CLOEXEC, the caller's to close) entered after the file-system
   * steps, which run as the host's root: `user` and `capabilities` are then taken in it, and
   * idmap steps map through it. (A user namespace in joinNamespaces is entered before anything
   * else instead, with its root's ids, and the new namespaces are then its own.)
   */
  /** hostRoot: the host id of its root, as which the steps that create a name (mkdir, touch,
   *  symlink) make it: the namespace's, and what an idmapped mount maps (it refuses the host's root). */
  userNamespace?: { fd: number; label: string; hostRoot: number };
  /** Identity taken after the file-system steps, before chdir: setgroups, setresgid, setresuid. */
  user?: { uid: number; gid: number; groups?: number[] };
  /**
   * Capability sets, as capability numbers (CAP_CHOWN is 0): the bounding set cut before `user`
   * is taken, the others set after it. Unset: the process keeps what its parent has.
   */
  capabilities?: CapabilitySets;
  /**
   * Files under /proc/sys written (open O_WRONLY, one write) once lo is up, before the file-system
   * steps: in the process's new namespaces, those sysctls are the namespaces' own.
   */
  sysctls?: { path: string; value: string }[];
  /**
   * A new time namespace with these clock offsets (the text of /proc/self/timens_offsets:
   * "monotonic SECS NANOS\nboottime SECS NANOS\n"): made by an intermediate process, since only
   * children enter a time namespace made by unshare. Linux 5.6.
   */
  timeOffsets?: string;
  /** prctl(PR_SET_NO_NEW_PRIVS) just before execve: execve never gives it more privileges. */
  noNewPrivileges?: boolean;
  /**
   * A seccomp filter (compileSeccomp's), loaded before the capabilities are cut (it needs
   * CAP_SYS_ADMIN), or, with noNewPrivileges, last before execve.
   */
  seccomp?: CompiledSeccomp;
  /** Signal the process gets when the thread that spawned it dies (prctl PR_SET_PDEATHSIG). */
  parentDeathSignal?: number;
  newSession?: boolean;
  newProcessGroup?: boolean;
  /**
   * Make the child's stdin, a terminal, its controlling terminal (ioctl TIOCSCTTY, after the
   * stdio is in place). Needs newSession: only a session leader can take a terminal.
   */
  controllingTerminal?: boolean;
}

export interface CapabilitySets {
  bounding: number[];
  effective: number[];
  permitted: number[];
  inheritable: number[];
  ambient: number[];
}

/**
 * A seccomp filter in the OCI profile's words (runtime-spec config-linux.md): actions
 * SCMP_ACT_*, architectures SCMP_ARCH_*, comparisons SCMP_CMP_*, flags SECCOMP_FILTER_FLAG_*.
 * A rule's other fields (where it came from) are the caller's.
 */
export interface SeccompFilter {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  flags: string[];
  rules: SeccompRule[];
  /** A system call name libseccomp does not know is left out instead of being an error. */
  skipUnknown?: boolean;
}

export interface SeccompRule {
  names: string[];
  action: string;
  /** The errno of SCMP_ACT_ERRNO, the message of SCMP_ACT_TRACE; unset: EPERM. */
  errnoRet?: number;
  args: { index: number; value: number; valueTwo: number; op: string }[];
}

/** A filter as the kernel loads it: struct sock_filter[], and seccomp(2)'s flags. */
export interface CompiledSeccomp {
  program: Buffer;
  flags: number;
}

export interface SpawnedProcess {
  /** As the host's PID namespace sees it. */
  pid: number;
  /** O_CLOEXEC; the caller owns it. */
  pidfd: number;
}

export interface ExitStatus {
  /** Exit code, when the process exited. */
  code: number | null;
  /** Signal number, when a signal ended it. */
  signal: number | null;
  coreDumped: boolean;
  /** Set when the status could not be read (waitid ECHILD: not our child). */
  error?: NodeJS.ErrnoException;
}

/** Both ends of a new pseudo-terminal. */
export interface PtyPair {
  /** O_CLOEXEC, O_NONBLOCK, O_NOCTTY: the side tspod reads and writes. */
  master: number;
  /** O_CLOEXEC, O_NOCTTY: becomes the command's stdio (and controlling terminal). */
  slave: number;
  /** The slave's name, '/dev/pts/N'. */
  path: string;
}

export interface ExitWatchHandle {
  ref(): this;
  unref(): this;
  /** Stop watching; onExit will not be called. The pidfd stays open. */
  close(): void;
}

/** A reading started by FdReader. */
export interface FdReaderHandle {
  /** Stops reading until resume(): what the fd holds waits there (its writer is slowed). */
  pause(): void;
  resume(): void;
  /** Stops for good, without onEnd. The fd stays open: it is the caller's. */
  close(): void;
}

export interface NativeConstants {
  CLONE_NEWNS: number;
  CLONE_NEWUTS: number;
  CLONE_NEWIPC: number;
  CLONE_NEWPID: number;
  CLONE_NEWNET: number;
  CLONE_NEWUSER: number;
  CLONE_NEWCGROUP: number;
  CLONE_NEWTIME: number;
  MS_RDONLY: number;
  MS_NOSUID: number;
  MS_NODEV: number;
  MS_NOEXEC: number;
  MS_REMOUNT: number;
  MS_BIND: number;
  MS_REC: number;
  MS_PRIVATE: number;
  AF_INET: number;
  AF_INET6: number;
  SOCK_STREAM: number;
  SOCK_DGRAM: number;
  S_IFCHR: number;
  S_IFBLK: number;
  S_IFIFO: number;
  MNT_DETACH: number;
  /** open(2)'s O_PATH, which Node's fs.constants lacks. */
  O_PATH: number;
}

export interface NativeBinding {
  spawn(request: SpawnRequest): SpawnedProcess;
  /**
   * unshare(2), for Node's main thread only. CLONE_NEWUSER fails with EINVAL (Node is
   * multi-threaded); CLONE_NEWNS works, for the main thread alone.
   */
  unshare(flags: number): void;
  /**
   * setns(2), for Node's main thread only. net, ipc, uts and cgroup work. mnt and user fail with
   * EINVAL (their kernel checks want a single-threaded caller), time with EUSERS; pid
   * "succeeds" but sends every later child of Node, child_process's too, into that namespace.
   * That is why spawn() joins namespaces in a cloned child instead.
   */
  setns(fd: number, nstype?: number, label?: string): void;
  pidfdOpen(pid: number): number;
  pidfdSendSignal(pidfd: number, signal: number): void;
  /** [readFd, writeFd], both O_CLOEXEC. */
  pipe(): [number, number];
  /**
   * A socket (non-blocking, close-on-exec) created inside the network namespace of nsFd: the
   * main thread enters it, creates the socket, and comes back. Wrap it with net.Socket({ fd })
   * (TCP) or dgram's bind({ fd }) (UDP).
   */
  socketInNetns(nsFd: number, domain: number, type: number): number;
  /**
   * A new user namespace with these maps (each the text of /proc/PID/uid_map: "INSIDE OUTSIDE
   * COUNT" lines), as an fd (O_CLOEXEC) that keeps it alive. Made by a short-lived child: Node
   * cannot unshare one, and only a process outside it may write a map wider than its own id.
   */
  createUserNamespace(uidMap: string, gidMap: string): number;
  /** A user namespace's uid_map and gid_map as the host sees them (read by a child that enters it). */
  userNamespaceMaps(usernsFd: number): { uid: string; gid: string };
  /** Throws (open_tree or mount_setattr's errno) unless `path`'s file system takes an idmapped mount through usernsFd. */
  probeIdmappedMount(path: string, usernsFd: number): void;
  /** One datagram to a unix socket: a path, or a name in the abstract namespace written @name (sd_notify's socket). */
  sendDatagram(path: string, data: string): void;
  /** flock(2): false when `wait` is false and another holder has it. */
  flock(fd: number, exclusive: boolean, wait: boolean): boolean;
  /** mknod(2): `mode` holds the file type (S_IFCHR, ...) and the permission bits. */
  mknod(path: string, mode: number, major: number, minor: number): void;
  /** lsetxattr(2): on the path itself, never through a symlink. */
  lsetxattr(path: string, name: string, value: Buffer): void;
  /** lgetxattr(2): null when the attribute is not set. */
  lgetxattr(path: string, name: string): Buffer | null;
  /** mount(2) in this process's mount namespace (a pod's shared tmpfs); '' for no fstype/data. */
  mount(source: string, target: string, fstype: string, flags: number, data?: string): void;
  umount2(target: string, flags: number): void;
  /**
   * `path` opened read-only (O_CLOEXEC, O_NONBLOCK: a FIFO does not block) inside `dir`, with openat2's
   * RESOLVE_BENEATH: symlinks that stay inside are followed, any way out (an absolute symlink,
   * '..' above dir, a /proc magic link) is EXDEV. Linux 5.6.
   */
  openBeneath(dir: string, path: string): number;
  /**
   * A seccomp filter compiled by libseccomp. A name no architecture has is a RangeError with
   * `rule` and `nameIndex`; other errors about a rule carry `rule`.
   */
  compileSeccomp(filter: SeccompFilter): CompiledSeccomp;
  /** A new pty (open /dev/ptmx, unlock, TIOCGPTPEER for the slave). */
  openPty(): PtyPair;
  /** TIOCSWINSZ on either side of a pty; the foreground process group gets SIGWINCH. */
  setWindowSize(fd: number, cols: number, rows: number): void;
  /** Calls onExit once, when the process behind pidfd has exited; never uses SIGCHLD. */
  ExitWatch: new (pidfd: number, onExit: (status: ExitStatus) => void) => ExitWatchHandle;
  /**
   * Reads a non-blocking fd to its true end, read() giving 0 or EIO (onEnd(null)), or another
   * error (onEnd(error)); never a POLLHUP alone, which libuv's streams take for the end: a pty
   * master has one as soon as its slave closes, while output may still be buffered.
   */
  FdReader: new (fd: number, onData: (chunk: Buffer) => void, onEnd: (error: NodeJS.ErrnoException | null) => void) => FdReaderHandle;
  constants: NativeConstants;
}

const buildDir = join(__dirname, '../../build/Release/');

/** The pause program built next to the addon. */
export const bundledPausePath = buildDir + 'pause';

let loaded: NativeBinding | undefined;

export function loadBinding(): NativeBinding {
  if (loaded) return loaded;
  try {
    loaded = require(buildDir + 'tspod.node') as NativeBinding;
  } catch (err) {
    // Only a missing build is ours to explain; a dlopen failure says more as it is.
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    throw new Error(`tspod's native addon is not built (${buildDir}tspod.node): run npm ci or npm run build`);
  }
  return loaded;
}
