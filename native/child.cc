// The child side of the spawn path. Everything here runs between the clone and execve in
// Node's own memory, on a stack of its own: only system calls, no allocation, no locks. A
// failing step is written to the report pipe as {step, errno, index} and the process _exits;
// the parent turns it into a Node-style error.
#include "spawn.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef ST_NOSYMFOLLOW
#  define ST_NOSYMFOLLOW 0x2000 // the kernel's statfs flag; Debian 12's glibc headers lack it
#endif

namespace tspod {

const char *
StepSyscall (int32_t step)
{
  switch (step)
    {
    case STEP_SETNS: return "setns";
    case STEP_CLONE: return "clone";
    case STEP_SETSID: return "setsid";
    case STEP_SETPGID: return "setpgid";
    case STEP_PRCTL: return "prctl";
    case STEP_SETHOSTNAME: return "sethostname";
    case STEP_LO_SOCKET: return "socket";
    case STEP_LO_IOCTL: return "ioctl";
    case STEP_FS: return "mount";
    case STEP_SETGROUPS: return "setgroups";
    case STEP_SETGID: return "setresgid";
    case STEP_SETUID: return "setresuid";
    case STEP_CHDIR: return "chdir";
    case STEP_DUP: return "dup2";
    case STEP_SETCTTY: return "ioctl";
    case STEP_CLOSE_FDS: return "close_range";
    case STEP_SIGNALS: return "rt_sigaction";
    case STEP_EXECVE: return "execve";
    case STEP_CGROUP: return "write";
    case STEP_UNSHARE_CGROUP: return "unshare";
    case STEP_INTO_CGROUP: return "write";
    case STEP_CAPBSET: return "prctl";
    case STEP_KEEPCAPS: return "prctl";
    case STEP_CAPSET: return "capset";
    case STEP_AMBIENT: return "prctl";
    case STEP_NO_NEW_PRIVS: return "prctl";
    case STEP_SECCOMP: return "seccomp";
    case STEP_SYSCTL_OPEN: return "open";
    case STEP_SYSCTL: return "write";
    case STEP_TIMENS: return "unshare";
    case STEP_TIMENS_OFFSETS: return "write";
    case STEP_USERNS: return "setns";
    }
  return "spawn";
}

const char *
FsOpSyscall (int32_t op, int32_t call)
{
  if (op == FS_IDMAP)
    return call == IDMAP_OPEN_TREE ? "open_tree" : call == IDMAP_SETATTR ? "mount_setattr" : "move_mount";
  switch (op)
    {
    case FS_MOUNT: return "mount";
    case FS_MKDIR: return "mkdir";
    case FS_MKNOD: return "mknod";
    case FS_SYMLINK: return "symlink";
    case FS_TOUCH: return "mknod";
    case FS_OPEN_ROOT: return "open";
    case FS_PIVOT: return "pivot_root";
    case FS_CHDIR: return "chdir";
    case FS_MASK: return "mount";
    case FS_READONLY: return "mount";
    }
  return "mount";
}

namespace {

struct CloneStart
{
  void (*fn) (const SpawnPlan &);
  const SpawnPlan *plan;
};

int
CloneEntry (void *arg)
{
  // The struct lives on the caller's stack, which is intact: the caller sleeps (vfork).
  const CloneStart *start = (const CloneStart *) arg;
  start->fn (*start->plan);
  return 127; // not reached: every stage ends in execve or _exit
}

} // namespace

// Why not fork: fork copies the page tables of all of Node's memory, and its cost grows with
// the heap (0.6-0.8 ms more per process from a 40 MB Node than from a small C program, here;
// 3-4 ms more with 60 MB touched). With CLONE_VM nothing is copied; the child only makes
// system calls and writes to its own stack until execve gives it a memory of its own.
pid_t
CloneVfork (int flags, int *pidfd_out, void (*fn) (const SpawnPlan &), const SpawnPlan &plan, void *stack_top)
{
  CloneStart start = { fn, &plan };
  // With CLONE_PARENT the kernel takes the caller's own exit signal (SIGCHLD) instead.
  flags |= CLONE_VFORK | SIGCHLD | (pidfd_out ? CLONE_PIDFD : 0);
  return clone (CloneEntry, stack_top, flags, &start, pidfd_out);
}

namespace {

// clone3 with CLONE_VM starts the child on the stack it is given with nothing to return into:
// its first instructions must be ours, so the call is made here in assembly. The child calls
// fn (plan) at once and never comes back (every stage ends in execve or _exit).
long
RawClone3 (struct clone_args *args, void (*fn) (const SpawnPlan &), const SpawnPlan *plan)
{
#if defined(__x86_64__)
  long ret;
  register void (*r12) (const SpawnPlan &) __asm__("r12") = fn;
  register const SpawnPlan *r13 __asm__("r13") = plan;
  __asm__ volatile("syscall\n\t"
                   "test %%rax, %%rax\n\t"
                   "jnz 1f\n\t"
                   "xor %%ebp, %%ebp\n\t"
                   "mov %%r13, %%rdi\n\t"
                   "call *%%r12\n\t"
                   "mov $60, %%eax\n\t"
                   "mov $127, %%edi\n\t"
                   "syscall\n\t"
                   "1:\n\t"
                   : "=a"(ret)
                   : "a"((long) SYS_clone3), "D"(args), "S"(sizeof *args), "r"(r12), "r"(r13)
                   : "rcx", "r11", "memory");
  return ret;
#elif defined(__aarch64__)
  register long x0 __asm__("x0") = (long) args;
  register long x1 __asm__("x1") = (long) sizeof *args;
  register long x8 __asm__("x8") = SYS_clone3;
  register void (*x19) (const SpawnPlan &) __asm__("x19") = fn;
  register const SpawnPlan *x20 __asm__("x20") = plan;
  __asm__ volatile("svc #0\n\t"
                   "cbnz x0, 1f\n\t"
                   "mov x29, xzr\n\t"
                   "mov x0, x20\n\t"
                   "blr x19\n\t"
                   "mov x0, #127\n\t"
                   "mov x8, #93\n\t"
                   "svc #0\n\t"
                   "1:\n\t"
                   : "+r"(x0)
                   : "r"(x1), "r"(x8), "r"(x19), "r"(x20)
                   : "memory");
  return x0;
#else
  (void) args, (void) fn, (void) plan;
  return -ENOSYS;
#endif
}

[[noreturn]] void RunFinalStageInCgroup (const SpawnPlan &plan);

void
Report (int fd, int32_t kind, int32_t step, int32_t err, int32_t index, int64_t pid, int32_t call = 0)
{
  ChildReport r = { kind, step, err, index, call, pid };
  // Reports are far below PIPE_BUF, so each write is atomic even with two writers.
  while (write (fd, &r, sizeof r) < 0 && errno == EINTR)
    ;
}

[[noreturn]] void
Fail (const SpawnPlan &plan, ChildStep step, int index = -1, int32_t call = 0)
{
  Report (plan.report_fd, REPORT_ERROR, step, errno, index, 0, call);
  _exit (127);
}

// Node ignores SIGPIPE and libuv catches several signals: a handler running here would write
// into the parent's libuv signal pipe, and SIG_IGN would survive execve. Reset all of them
// (signals stay blocked until just before execve). The raw call also reaches 32 and 33,
// which glibc's wrapper refuses.
void
ResetSignals (const SpawnPlan &plan)
{
  struct
  {
    unsigned long handler, flags, restorer, mask;
  } dfl = { (unsigned long) SIG_DFL, 0, 0, 0 };
  for (int sig = 1; sig < 65; sig++)
    if (sig != SIGKILL && sig != SIGSTOP && syscall (SYS_rt_sigaction, sig, &dfl, nullptr, sizeof dfl.mask) < 0)
      Fail (plan, STEP_SIGNALS, sig);
}

void
BringLoopbackUp (const SpawnPlan &plan)
{
  // A new network namespace has lo down: 127.0.0.1 gives ENETUNREACH until it is up.
  int s = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    Fail (plan, STEP_LO_SOCKET);
  struct ifreq ifr;
  memset (&ifr, 0, sizeof ifr);
  memcpy (ifr.ifr_name, "lo", 3);
  if (ioctl (s, SIOCGIFFLAGS, &ifr) < 0)
    Fail (plan, STEP_LO_IOCTL);
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl (s, SIOCSIFFLAGS, &ifr) < 0)
    Fail (plan, STEP_LO_IOCTL);
  close (s);
}

// Sets FD_CLOEXEC on every fd from `first` up, so only the stdio the plan names reaches the
// program. CLOSE_RANGE_CLOEXEC is Linux 5.11+; before that, walk /proc/self/fd.
void
CloseOnExecFrom (const SpawnPlan &plan, int first)
{
  if (syscall (SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
    return;
  int dir = open ("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0)
    Fail (plan, STEP_CLOSE_FDS);
  char buf[4096];
  long n;
  // A seccomp profile may deny what this needs: then the spawn fails rather than leak an fd.
  while ((n = syscall (SYS_getdents64, dir, buf, sizeof buf)) > 0)
    for (long off = 0; off < n;)
      {
        struct dirent64 *d = (struct dirent64 *) (buf + off);
        off += d->d_reclen;
        int fd = 0;
        const char *p = d->d_name;
        if (*p < '0' || *p > '9')
          continue;
        for (; *p >= '0' && *p <= '9'; p++)
          fd = fd * 10 + (*p - '0');
        if (fd >= first && fd != dir && fcntl (fd, F_SETFD, FD_CLOEXEC) < 0)
          Fail (plan, STEP_CLOSE_FDS);
      }
  if (n < 0)
    Fail (plan, STEP_CLOSE_FDS);
  close (dir);
}

// Puts the plan's stdio fds at 0..n-1. Each goes first to a spare number above the range, so
// one source cannot be overwritten by the dup2 of another (stdio {1, 0} swaps, say).
void
SetUpStdio (const SpawnPlan &plan)
{
  int moved[16];
  for (int i = 0; i < plan.nstdio; i++)
    if ((moved[i] = fcntl (plan.stdio[i], F_DUPFD_CLOEXEC, plan.nstdio)) < 0)
      Fail (plan, STEP_DUP, i);
  for (int i = 0; i < plan.nstdio; i++)
    if (dup2 (moved[i], i) < 0) // the copy at i has FD_CLOEXEC clear
      Fail (plan, STEP_DUP, i);
  CloseOnExecFrom (plan, plan.nstdio);
}

// openat2 with RESOLVE_IN_ROOT: `path` as if `root` were "/", symlinks and ".." included.
int
OpenInRoot (int root, const char *path, int flags)
{
  struct open_how how;
  memset (&how, 0, sizeof how);
  how.flags = (uint64_t) (flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return (int) syscall (SYS_openat2, root, path, &how, sizeof how);
}

// "/proc/self/fd/N": how mount(2) is handed a target that was resolved to an fd.
void
FdPath (int fd, char *buf)
{
  const char prefix[] = "/proc/self/fd/";
  char digits[12];
  int n = 0;
  do
    digits[n++] = (char) ('0' + fd % 10);
  while ((fd /= 10) > 0);
  memcpy (buf, prefix, sizeof prefix - 1);
  char *p = buf + sizeof prefix - 1;
  while (n)
    *p++ = digits[--n];
  *p = '\0';
}

// A path beneath `base` that resolves inside it, or -1 (EXDEV for a way out, ELOOP for a
// /proc magic link): a volume's subPath is resolved here, at every start, never in advance,
// since the containers that share the volume can plant a symlink in it at any time.
int
OpenBeneath (const char *base, const char *path)
{
  int dir = open (base, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0)
    return -1;
  struct open_how how;
  memset (&how, 0, sizeof how);
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  int fd = (int) syscall (SYS_openat2, dir, path, &how, sizeof how);
  int err = errno;
  close (dir);
  errno = err;
  return fd;
}

// A bind remount sets nosuid, nodev, noexec and nosymfollow anew from its own flags (the atime
// flags it keeps when given none): the ones the mount has now are added to `flags`, so a
// read-only volume from a nosuid mount stays nosuid. -1 with errno when statfs fails: the step
// fails rather than silently dropping them.
int
KeepMountFlags (const FsStep &st, const char *path, unsigned long *flags)
{
  *flags = st.flags;
  if (! (st.flags & MS_REMOUNT) || ! (st.flags & MS_BIND))
    return 0;
  struct statfs sf;
  // ENOSYS: a file system without statfs (rare), which has nothing of these to keep.
  if (statfs (path, &sf) < 0)
    return errno == ENOSYS ? 0 : -1;
  static const struct
  {
    unsigned long st, ms;
  } map[] = {
    { ST_NOSUID, MS_NOSUID }, { ST_NODEV, MS_NODEV }, { ST_NOEXEC, MS_NOEXEC }, { ST_NOSYMFOLLOW, MS_NOSYMFOLLOW }
  };
  for (const auto &m : map)
    if (sf.f_flags & m.st)
      *flags |= m.ms;
  return 0;
}

// /dev/null, opened without following a symlink and checked to be the null device (1:3); -1
// with errno (ENODEV when it is something else).
int
OpenDevNull ()
{
  int fd = open ("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -1;
  struct stat sb;
  int err = fstat (fd, &sb) < 0 ? errno : (! S_ISCHR (sb.st_mode) || sb.st_rdev != makedev (1, 3)) ? ENODEV : 0;
  if (err == 0)
    return fd;
  close (fd);
  errno = err;
  return -1;
}

// An idmapped copy of the mount at `source` (Linux 5.12), put onto `target`: files owned by id N
// on disk are seen as the host's id that N maps to in `userns` (its root's for 0). Both paths
// are the host's, symlinks followed; the copy never reaches the host, in our mount namespace.
int
IdmapMount (const char *source, const char *target, int userns, int32_t *call)
{
  *call = IDMAP_OPEN_TREE;
  int tree = (int) syscall (SYS_open_tree, AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0)
    return -1;
  struct mount_attr attr;
  memset (&attr, 0, sizeof attr);
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = (uint64_t) userns;
  *call = IDMAP_SETATTR;
  int rc = (int) syscall (SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr);
  if (rc == 0)
    {
      *call = IDMAP_MOVE;
      rc = (int) syscall (SYS_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS);
    }
  int err = errno;
  close (tree);
  errno = err;
  return rc;
}

// Linux's capability sets as capset(2) takes them (version 3: two 32-bit words per set).
struct CapHeader
{
  uint32_t version;
  int pid;
};
struct CapData
{
  uint32_t effective, permitted, inheritable;
};
constexpr uint32_t kCapVersion3 = 0x20080522;

// A step that creates a name (mkdir, touch, symlink), made as `owner` (a host uid and gid; -1:
// as we are): the owner of what it makes, and the one an idmapped mount's mapping applies to
// (the host's root, which it does not map, gets EOVERFLOW there). Only the file-system ids
// change. A file-system uid other than 0 drops the file capabilities (DAC_OVERRIDE, FOWNER, ...)
// from the effective set: they are raised again, so a mount point in a directory of the image's
// other users is still made; back to 0, the kernel gives them back itself.
int
CreateAs (int64_t owner, int (*create) (const FsStep &, int, const char *), const FsStep &st, int dir, const char *name)
{
  if (owner < 0)
    return create (st, dir, name);
  syscall (SYS_setfsgid, (gid_t) owner);
  syscall (SYS_setfsuid, (uid_t) owner);
  CapHeader header = { kCapVersion3, 0 };
  CapData data[2];
  if (syscall (SYS_capget, &header, data) == 0)
    {
      for (CapData &d : data)
        d.effective = d.permitted;
      syscall (SYS_capset, &header, data);
    }
  int rc = create (st, dir, name);
  int err = errno;
  syscall (SYS_setfsuid, 0);
  syscall (SYS_setfsgid, 0);
  errno = err;
  return rc;
}

int
MkdirStep (const FsStep &st, int dir, const char *name)
{
  int rc = mkdirat (dir, name, st.mode);
  return rc < 0 && errno == EEXIST ? 0 : rc;
}

int
SymlinkStep (const FsStep &st, int dir, const char *name)
{
  return symlinkat (st.source, dir, name);
}

// A file to mount onto, made if missing; what is there is never opened: a FIFO would block this
// child, and with it Node's thread (vfork).
int
TouchStep (const FsStep &st, int dir, const char *name)
{
  int rc = mknodat (dir, name, S_IFREG | st.mode, 0);
  return rc < 0 && errno == EEXIST ? 0 : rc;
}

// One step; -1 with errno set on failure (and, for FS_IDMAP, *call the call that failed).
int
RunFsStep (const FsStep &st, int *root, const SpawnPlan &plan, int32_t *call)
{
  int64_t owner = plan.user_ns >= 0 ? (int64_t) plan.user_ns_root : -1;
  int dir = AT_FDCWD, fd = -1, src = -1, rc = 0;
  const char *name = st.target;
  const char *source = st.source;
  char fdpath[32], srcpath[32];
  if (st.in_root && st.op != FS_MOUNT)
    {
      // Resolve the parent inside the root; the last name is created (or opened) there.
      dir = OpenInRoot (*root, st.parent, O_PATH | O_DIRECTORY);
      if (dir < 0)
        return -1;
      name = st.base;
    }
  switch (st.op)
    {
    case FS_MOUNT:
      if (st.source_beneath)
        {
          if ((src = OpenBeneath (st.source, st.source_beneath)) < 0)
            {
              rc = -1;
              break;
            }
          FdPath (src, srcpath);
          source = srcpath;
        }
      if (st.in_root)
        {
          if ((fd = OpenInRoot (*root, st.target, O_PATH)) < 0)
            {
              rc = -1;
              break;
            }
          FdPath (fd, fdpath);
        }
      {
        const char *target = st.in_root ? fdpath : st.target;
        unsigned long flags;
        rc = KeepMountFlags (st, target, &flags) < 0 ? -1 : mount (source, target, st.fstype, flags, st.data);
      }
      break;
    case FS_MKDIR: rc = CreateAs (owner, MkdirStep, st, dir, name); break;
    // As the host's root: a device node needs CAP_MKNOD, which a file-system id other than 0 drops.
    case FS_MKNOD: rc = mknodat (dir, name, st.mode, makedev (st.major, st.minor)); break;
    case FS_SYMLINK: rc = CreateAs (owner, SymlinkStep, st, dir, name); break;
    case FS_TOUCH: rc = CreateAs (owner, TouchStep, st, dir, name); break;
    case FS_OPEN_ROOT:
      if (*root >= 0)
        close (*root);
      *root = open (st.target, O_PATH | O_DIRECTORY | O_CLOEXEC);
      rc = *root < 0 ? -1 : 0;
      break;
    case FS_CHDIR: rc = chdir (st.target); break;
    case FS_MASK:
      // runc's way: /dev/null over a file; a directory gets an empty read-only tmpfs instead. The
      // container's /dev/null is checked first (CVE-2025-31133): a symlink or another file put
      // there would be bound over the masked path instead.
      if ((src = OpenDevNull ()) < 0)
        {
          rc = -1;
          break;
        }
      FdPath (src, srcpath);
      rc = mount (srcpath, st.target, nullptr, MS_BIND, nullptr);
      if (rc < 0 && errno == ENOTDIR)
        rc = mount ("tmpfs", st.target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
      if (rc < 0 && errno == ENOENT)
        rc = 0;
      break;
    case FS_READONLY:
      rc = mount (st.target, st.target, nullptr, MS_BIND | MS_REC, nullptr);
      if (rc < 0 && errno == ENOENT)
        {
          rc = 0;
          break;
        }
      if (rc == 0)
        {
          unsigned long flags;
          FsStep ro = st;
          ro.flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
          rc = KeepMountFlags (ro, st.target, &flags) < 0 ? -1 : mount (nullptr, st.target, nullptr, flags, nullptr);
        }
      break;
    case FS_IDMAP: rc = IdmapMount (st.source, st.target, plan.user_ns, call); break;
    case FS_PIVOT:
      // pivot_root(".", "."): the old root ends up stacked on the new one, and is detached.
      if (chdir (st.target) < 0 || syscall (SYS_pivot_root, ".", ".") < 0 || umount2 (".", MNT_DETACH) < 0
          || chdir ("/") < 0)
        rc = -1;
      break;
    }
  int err = errno;
  if (fd >= 0)
    close (fd);
  if (src >= 0)
    close (src);
  if (dir >= 0)
    close (dir);
  errno = err;
  return rc;
}

// The raw system calls: glibc's wrappers, in a process with threads, take a lock and signal
// every thread to change credentials too (setxid), and those are Node's threads here.
void
SetUser (const SpawnPlan &plan)
{
  if (syscall (SYS_setgroups, (size_t) plan.ngroups, (const gid_t *) plan.groups) < 0)
    Fail (plan, STEP_SETGROUPS);
  if (syscall (SYS_setresgid, plan.gid, plan.gid, plan.gid) < 0)
    Fail (plan, STEP_SETGID);
  if (syscall (SYS_setresuid, plan.uid, plan.uid, plan.uid) < 0)
    Fail (plan, STEP_SETUID);
}

// The bounding set is cut while the process is still root (it needs CAP_SETPCAP): whatever runs
// later, setuid programs included, can never get back a capability that is not in it.
void
DropBoundingSet (const SpawnPlan &plan)
{
  for (int cap = 0; cap < 64; cap++)
    {
      if (plan.cap_bounding & ((uint64_t) 1 << cap))
        continue;
      if (prctl (PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
        {
          if (errno == EINVAL) // past the kernel's last capability
            break;
          Fail (plan, STEP_CAPBSET, cap);
        }
    }
}

// After the identity is taken: setresuid to a non-zero uid empties the effective set (and,
// without PR_SET_KEEPCAPS, the permitted one), so the sets are given now. Ambient capabilities
// are what a non-root program keeps across execve.
// A set asked for is cut to what this process has (tspod run by a service whose own bounding set
// is smaller, say): capset cannot add to the permitted set, and ambient needs permitted and
// inheritable.
void
SetCapabilities (const SpawnPlan &plan)
{
  CapHeader header = { kCapVersion3, 0 };
  CapData data[2];
  if (syscall (SYS_capget, &header, data) < 0)
    Fail (plan, STEP_CAPSET);
  uint64_t have = (uint64_t) data[0].permitted | ((uint64_t) data[1].permitted << 32);
  uint64_t permitted = plan.cap_permitted & have;
  uint64_t inheritable = plan.cap_inheritable & permitted;
  for (int i = 0; i < 2; i++)
    {
      data[i].effective = (uint32_t) ((plan.cap_effective & permitted) >> (32 * i));
      data[i].permitted = (uint32_t) (permitted >> (32 * i));
      data[i].inheritable = (uint32_t) (inheritable >> (32 * i));
    }
  header.version = kCapVersion3;
  if (syscall (SYS_capset, &header, data) < 0)
    Fail (plan, STEP_CAPSET);
  for (int cap = 0; cap < 64; cap++)
    if ((plan.cap_ambient & inheritable & ((uint64_t) 1 << cap))
        && prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
      Fail (plan, STEP_AMBIENT, cap);
}

// Loading a filter needs CAP_SYS_ADMIN or no_new_privs; every system call after it must be one
// the filter allows.
void
LoadSeccomp (const SpawnPlan &plan)
{
  struct sock_fprog prog = { plan.seccomp_len, (struct sock_filter *) plan.seccomp };
  if (syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, plan.seccomp_flags, &prog) < 0)
    Fail (plan, STEP_SECCOMP);
}

// Before anything else of the process's, so that everything it does (and every process it
// forks) is counted, limited and killed with its cgroup. "0" means the writing process itself.
void
JoinCgroups (const SpawnPlan &plan)
{
  for (int i = 0; i < plan.ncgroups; i++)
    if (write (plan.cgroups[i].fd, "0", 1) != 1)
      Fail (plan, STEP_CGROUP, i);
}

bool
SkippableExecError (int err)
{
  // As execvp: a candidate that is not there, or not reachable, lets the search go on.
  return err == ENOENT || err == ENOTDIR || err == ESTALE || err == ENODEV || err == ETIMEDOUT;
}

} // namespace

namespace {

void
MoveIntoCgroup (const SpawnPlan &plan)
{
  int fd = openat (plan.into_cgroup, "cgroup.procs", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write (fd, "0", 1) != 1)
    Fail (plan, STEP_INTO_CGROUP);
  close (fd);
}

} // namespace

void
RunFinalStage (const SpawnPlan &plan)
{
  // Not created in its cgroup (clone3 is missing, or filtered by a seccomp profile): it moves
  // itself there first.
  if (plan.into_cgroup >= 0 && ! plan.into_cgroup_early)
    MoveIntoCgroup (plan);
  RunFinalStageInCgroup (plan);
}

namespace {

void
RunFinalStageInCgroup (const SpawnPlan &plan)
{
  // An intermediate has joined the cgroups already (the clone inherited them).
  if (! plan.intermediate)
    JoinCgroups (plan);
  // After the join: a new cgroup namespace is rooted at the cgroup the process is in.
  if (plan.new_cgroup_namespace && unshare (CLONE_NEWCGROUP) < 0)
    Fail (plan, STEP_UNSHARE_CGROUP);

  ResetSignals (plan);

  if (plan.new_session && setsid () < 0)
    Fail (plan, STEP_SETSID);
  if (plan.new_process_group && ! plan.new_session && setpgid (0, 0) < 0)
    Fail (plan, STEP_SETPGID);

  if (plan.hostname && sethostname (plan.hostname, strlen (plan.hostname)) < 0)
    Fail (plan, STEP_SETHOSTNAME);
  if (plan.loopback_up)
    BringLoopbackUp (plan);
  // A namespaced sysctl's file belongs to the namespace of whoever opens it: ours, now.
  for (int i = 0; i < plan.nsysctls; i++)
    {
      int fd = open (plan.sysctls[i].path, O_WRONLY | O_CLOEXEC);
      if (fd < 0)
        Fail (plan, STEP_SYSCTL_OPEN, i);
      if (write (fd, plan.sysctls[i].value, plan.sysctls[i].len) != (ssize_t) plan.sysctls[i].len)
        Fail (plan, STEP_SYSCTL, i);
      close (fd);
    }

  // The steps' modes are meant as given (a 0666 /dev/null), not filtered by our umask.
  mode_t mask = umask (0);
  int root = -1;
  for (int i = 0; i < plan.nfs; i++)
    {
      int32_t call = 0;
      if (RunFsStep (plan.fs[i], &root, plan, &call) < 0)
        Fail (plan, STEP_FS, i, call);
    }
  if (root >= 0)
    close (root);
  umask (mask);

  // Mounted as the host's root, the file system is the container's to see, not to change: its
  // mount namespace stays owned by the host's user namespace. From here on, ids and
  // capabilities are the pod's user namespace's.
  if (plan.user_ns >= 0 && setns (plan.user_ns, CLONE_NEWUSER) < 0)
    Fail (plan, STEP_USERNS);

  // After the mounts (which need root), and before chdir, so the directory is checked with
  // the permissions of the user that will run there.
  // As runc: without no_new_privs the filter goes in while the process still holds
  // CAP_SYS_ADMIN, before the identity and capabilities change; with it, last before execve.
  if (plan.seccomp && ! plan.no_new_privs)
    LoadSeccomp (plan);
  if (plan.set_caps)
    {
      DropBoundingSet (plan);
      // Across a change to a non-zero uid, the permitted set is kept for SetCapabilities.
      if (plan.set_user && prctl (PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        Fail (plan, STEP_KEEPCAPS);
    }
  if (plan.set_user)
    SetUser (plan);
  if (plan.set_caps)
    {
      if (plan.set_user && prctl (PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        Fail (plan, STEP_KEEPCAPS);
      SetCapabilities (plan);
    }
  // After SetUser: the kernel clears the parent-death signal when the uid or gid changes.
  if (plan.parent_death_signal)
    {
      if (prctl (PR_SET_PDEATHSIG, plan.parent_death_signal) < 0)
        Fail (plan, STEP_PRCTL);
      // The parent may have died before the prctl; getppid() cannot tell, since it reads 0 in a
      // new PID namespace. The parent's own pidfd becomes readable when it has exited.
      struct pollfd p = { plan.parent_pidfd, POLLIN, 0 };
      if (plan.parent_pidfd >= 0 && poll (&p, 1, 0) > 0)
        _exit (127);
    }
  if (plan.cwd && chdir (plan.cwd) < 0)
    Fail (plan, STEP_CHDIR);

  SetUpStdio (plan);

  // Only a session leader without a terminal may take one, so this comes after setsid; and
  // after the dup2s, so it is the terminal the program reads. Its own shell then gets job
  // control, and SIGHUP/SIGWINCH from the terminal reach its foreground process group.
  if (plan.controlling_terminal && ioctl (0, TIOCSCTTY, 0) < 0)
    Fail (plan, STEP_SETCTTY);

  // Last: no setuid bit or file capability of what it execs can give it more than it has.
  if (plan.no_new_privs && prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    Fail (plan, STEP_NO_NEW_PRIVS);
  if (plan.seccomp && plan.no_new_privs)
    LoadSeccomp (plan);

  sigset_t none;
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, nullptr);

  int eacces = -1;
  for (int i = 0; i < plan.ncandidates; i++)
    {
      execve (plan.candidates[i], plan.argv, plan.envp);
      if (errno == EACCES)
        eacces = i;
      else if (! SkippableExecError (errno))
        Fail (plan, STEP_EXECVE, i);
    }
  // Nothing ran. Block signals again so a late one cannot cut the report short.
  sigset_t all;
  sigfillset (&all);
  sigprocmask (SIG_SETMASK, &all, nullptr);
  if (eacces >= 0)
    {
      errno = EACCES;
      Fail (plan, STEP_EXECVE, eacces);
    }
  errno = ENOENT;
  Fail (plan, STEP_EXECVE, plan.ncandidates == 1 ? 0 : -1);
}

} // namespace

// Born in its cgroup, a process costs no migration: moving one takes the kernel's cgroup
// threadgroup lock for writing, which waits for an RCU grace period (6 ms here, when no other
// move happened just before).
pid_t
CloneFinal (int flags, int *pidfd_out, const SpawnPlan &plan, void *stack_top, size_t stack_size)
{
  if (plan.into_cgroup >= 0 && ! plan.into_cgroup_early)
    {
      struct clone_args args = {};
      args.flags = (uint64_t) (flags | CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP | (pidfd_out ? CLONE_PIDFD : 0));
      args.pidfd = (uint64_t) (uintptr_t) pidfd_out;
      // clone3 refuses one with CLONE_PARENT, where the kernel takes the caller's own.
      args.exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD;
      args.stack = (uint64_t) (uintptr_t) ((char *) stack_top - stack_size);
      args.stack_size = stack_size;
      args.cgroup = (uint64_t) plan.into_cgroup;
      long pid = RawClone3 (&args, RunFinalStageInCgroup, &plan);
      if (pid >= 0)
        return (pid_t) pid;
      if (pid != -ENOSYS)
        {
          errno = (int) -pid;
          return -1;
        }
    }
  return CloneVfork (flags | CLONE_VM, pidfd_out, RunFinalStage, plan, stack_top);
}

// Why an intermediate process, and why CLONE_PARENT:
//
// setns(CLONE_NEWPID) does not move the caller into the PID namespace; it only decides where
// the caller's *next children* are born. So joining a pod's PID namespace takes a fork after
// the setns. A plain double fork would leave the final process orphaned to the host's init and
// its exit status lost to us. With CLONE_PARENT the final process is born as the intermediate's
// sibling: a child of tspod (which can wait for it through a pidfd) that lives inside the pod's
// PID namespace (where pause, PID 1, is what the workload sees). Once the final process has
// exec'd (or failed: vfork), the intermediate reports its pid, as the host sees it, and exits;
// tspod reaps it at once.
//
// The joins happen here and not in Node because setns into a mount namespace fails with EINVAL
// in a multi-threaded process, and setns into a PID namespace would silently redirect every
// later child of Node itself.
void
RunIntermediateStage (const SpawnPlan &plan)
{
  // Before the setns: once in a container's cgroup namespace, a move into a cgroup is refused
  // unless the process is already below that namespace's root.
  JoinCgroups (plan);
  if (plan.into_cgroup_early)
    MoveIntoCgroup (plan);
  // Its clocks' offsets can be written only until a first process is in it: before the clone;
  // and before a user namespace is joined, whose root could not write them (the file is the
  // host root's: a change of ids made us undumpable).
  if (plan.time_offsets)
    {
      if (unshare (CLONE_NEWTIME) < 0)
        Fail (plan, STEP_TIMENS);
      int fd = open ("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
      size_t len = strlen (plan.time_offsets);
      if (fd < 0 || write (fd, plan.time_offsets, len) != (ssize_t) len)
        Fail (plan, STEP_TIMENS_OFFSETS);
      close (fd);
      // Before 6.1 a CLONE_VM child must be in its parent's time namespace: go in first (this
      // process has a memory of its own, so setns lets it).
      fd = open ("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
      if (fd < 0 || setns (fd, CLONE_NEWTIME) < 0)
        Fail (plan, STEP_TIMENS);
      close (fd);
    }

  for (int i = 0; i < plan.njoins; i++)
    {
      if (setns (plan.joins[i].fd, plan.joins[i].type) < 0)
        Fail (plan, STEP_SETNS, i);
      // setns into a user namespace keeps our ids, which it does not map (they read as nobody
      // there): take its root's, so what we create next is the namespace's, as nsenter -U does.
      if (plan.joins[i].type == CLONE_NEWUSER)
        {
          if (syscall (SYS_setgroups, 0, nullptr) < 0)
            Fail (plan, STEP_SETGROUPS);
          if (syscall (SYS_setresgid, 0, 0, 0) < 0)
            Fail (plan, STEP_SETGID);
          if (syscall (SYS_setresuid, 0, 0, 0) < 0)
            Fail (plan, STEP_SETUID);
        }
    }
  pid_t pid = CloneFinal (CLONE_PARENT | plan.new_namespaces, nullptr, plan, plan.final_stack, plan.final_stack_size);
  if (pid < 0)
    Fail (plan, STEP_CLONE);
  Report (plan.report_fd, REPORT_PID, 0, 0, 0, pid);
  _exit (0);
}

} // namespace tspod
