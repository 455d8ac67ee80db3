// The spawn path: one process created in new namespaces and/or joined to existing ones.
//
// Everything the child needs is laid out in a SpawnPlan before the clone, because after it the
// child runs in Node's own memory (CLONE_VM) on a stack of its own, while the calling thread
// sleeps (CLONE_VFORK) and Node's other threads go on: it may only make system calls and write
// to its own stack (no malloc, no locks, no JS) until execve. child.cc holds that side;
// spawn.cc the parent's.
#pragma once

#include <cstdint>
#include <sys/types.h>

namespace tspod {

// A cgroup the process moves itself into first: an fd of the cgroup's cgroup.procs, opened for
// writing by the parent (one per hierarchy: the v2 tree, and v1 controllers on a hybrid host).
struct CgroupJoin
{
  int fd;
  const char *label; // the file's path, for errors
};

struct NsJoin
{
  int fd;            // a namespace fd, or a pidfd (then type may hold several CLONE_NEW* bits)
  int type;          // CLONE_NEW* for setns(); 0 accepts any type of namespace fd
  const char *label; // what the fd is, for errors ("/proc/42/ns/net")
};

// One step of setting up the process's view of the file system, done in order in its own
// mount namespace. A step "in root" names its path inside the root opened by FS_OPEN_ROOT and is
// resolved there with openat2(RESOLVE_IN_ROOT): a symlink in a container's root file system can
// never lead a mount or a mkdir out onto the host.
enum FsOp : int32_t
{
  FS_MOUNT,     // mount(source, target, fstype, flags, data)
  FS_MKDIR,     // mkdir(target, mode); an existing one is fine
  FS_MKNOD,     // mknod(target, mode, makedev(major, minor))
  FS_SYMLINK,   // symlink(source, target)
  FS_TOUCH,     // mknod(target, S_IFREG) unless it exists: a file to bind-mount onto
  FS_OPEN_ROOT, // the directory later in-root steps resolve in
  FS_PIVOT,     // pivot_root into target; the old root is detached
  FS_CHDIR,     // chdir(target): relative paths of later steps (an overlay's lowerdirs) start there
  FS_MASK,      // hide target: /dev/null bound onto a file, an empty read-only tmpfs onto a directory
  FS_READONLY,  // bind target onto itself (recursively) and make that read-only
  FS_IDMAP,     // a copy of source's mount, idmapped through the plan's user namespace, onto target
  // FS_MASK and FS_READONLY pass over a target that is not there (a kernel without /proc/scsi).
};

struct FsStep
{
  int32_t op;
  bool in_root;
  const char *source, *target, *fstype, *data;
  // For in-root steps that create something: target split into its parent and last name.
  const char *parent, *base;
  // A mount's source is this path beneath `source`, resolved at mount time (a volume's subPath).
  const char *source_beneath;
  unsigned long flags;
  uint32_t mode, major, minor;
};

// A file under /proc/sys and what to write there.
struct Sysctl
{
  const char *path;
  const char *value;
  size_t len;
};

struct SpawnPlan
{
  char *const *argv;
  char *const *envp;
  const char *const *candidates; // full paths to try with execve, in order
  int ncandidates;
  const char *file; // what the caller asked to run (for a failed PATH search)
  const char *cwd;  // nullptr: keep the current directory
  const int *stdio; // parent fds that become the child's 0..nstdio-1
  int nstdio;
  const NsJoin *joins;
  int njoins;
  // /proc/self/timens_offsets for a new time namespace (nullptr: none). Only children enter a
  // time namespace made by unshare, so a spawn with one goes through the intermediate stage.
  const char *time_offsets;
  // The first process setns()es (and makes the time namespace), then clones the final one.
  bool intermediate;
  // ... with a copy of our memory instead of ours: the kernel refuses to move a process that
  // shares its memory into a time namespace (EUSERS), whether by setns or at its clone.
  bool intermediate_own_memory;
  const CgroupJoin *cgroups; // written by the spawn's first process (the intermediate, if any)
  int ncgroups;
  // A cgroup directory the final process is created in (clone3 CLONE_INTO_CGROUP), -1: none.
  int into_cgroup;
  const char *into_cgroup_label;
  // ... moved into by the intermediate instead, before it joins a user namespace (once in one,
  // the kernel checks the cgroup's files with that namespace's ids, which it does not map) or a
  // cgroup namespace (whose root, another cgroup, the target is not under).
  bool into_cgroup_early;
  bool new_cgroup_namespace; // unshare(CLONE_NEWCGROUP) once in the cgroups: rooted there
  int new_namespaces;        // CLONE_NEW* flags of the clone that makes the process
  const char *hostname;      // nullptr: leave the UTS name alone
  bool loopback_up;
  const FsStep *fs;
  int nfs;
  const Sysctl *sysctls; // written after lo is up, in the new namespaces
  int nsysctls;
  // A user namespace (an nsfs fd, -1: none) entered once the file system is set up, before the
  // identity and capabilities are taken there; FS_IDMAP steps map through it.
  int user_ns;
  const char *user_ns_label;
  uint32_t user_ns_root; // its root's host id: what mkdir, touch and symlink steps create is its
  // Identity to take after the file system is set up (set_user false: stay root).
  bool set_user;
  uint32_t uid, gid;
  const uint32_t *groups;
  int ngroups;
  // Capabilities (set_caps false: left as they are). The bounding set is cut before the identity
  // changes; the others are set after it, with PR_SET_KEEPCAPS across it.
  bool set_caps;
  uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
  bool no_new_privs; // prctl(PR_SET_NO_NEW_PRIVS) last before execve
  // A compiled seccomp filter (struct sock_filter[], seccomp_len instructions), 0: none.
  const void *seccomp;
  unsigned short seccomp_len;
  unsigned int seccomp_flags;
  int parent_death_signal; // 0: none
  int parent_pidfd;        // our own pidfd, to notice a parent that died before prctl
  bool new_session;
  bool new_process_group;
  bool controlling_terminal; // make stdio 0 (a terminal) the new session's controlling one
  int report_fd;             // write end of the report pipe (O_CLOEXEC)
  void *final_stack;         // top of the stack the intermediate gives the final process
  size_t final_stack_size;
};

// The child's steps, as they are named in errors (syscall) and reports.
enum ChildStep : int32_t
{
  STEP_SETNS,
  STEP_CLONE,
  STEP_SETSID,
  STEP_SETPGID,
  STEP_PRCTL,
  STEP_SETHOSTNAME,
  STEP_LO_SOCKET,
  STEP_LO_IOCTL,
  STEP_FS, // the syscall and path come from plan.fs[index]
  STEP_SETGROUPS,
  STEP_SETGID,
  STEP_SETUID,
  STEP_CHDIR,
  STEP_DUP,
  STEP_SETCTTY,
  STEP_CLOSE_FDS,
  STEP_SIGNALS,
  STEP_EXECVE,
  STEP_CGROUP, // write(2) of "0" to plan.cgroups[index]
  STEP_UNSHARE_CGROUP,
  STEP_INTO_CGROUP, // openat + write of cgroup.procs in plan.into_cgroup (clone3 missing)
  STEP_CAPBSET,     // prctl(PR_CAPBSET_DROP); index: the capability
  STEP_KEEPCAPS,    // prctl(PR_SET_KEEPCAPS)
  STEP_CAPSET,
  STEP_AMBIENT,        // prctl(PR_CAP_AMBIENT_RAISE); index: the capability
  STEP_NO_NEW_PRIVS,   // prctl(PR_SET_NO_NEW_PRIVS)
  STEP_SECCOMP,        // seccomp(SECCOMP_SET_MODE_FILTER)
  STEP_SYSCTL_OPEN,    // open of plan.sysctls[index].path
  STEP_SYSCTL,         // write to it
  STEP_TIMENS,         // unshare(CLONE_NEWTIME)
  STEP_TIMENS_OFFSETS, // write of /proc/self/timens_offsets
  STEP_USERNS,         // setns into plan.user_ns
};

const char *StepSyscall (int32_t step);
// An FS_IDMAP step makes three calls: `call` says which one failed.
enum IdmapCall : int32_t
{
  IDMAP_OPEN_TREE,
  IDMAP_SETATTR,
  IDMAP_MOVE,
};
const char *FsOpSyscall (int32_t op, int32_t call);

// The report protocol on the O_CLOEXEC pipe from the child(ren) to the parent. EOF without an
// error report means the process reached execve and the kernel closed the pipe there.
enum ReportKind : int32_t
{
  REPORT_PID = 1, // the intermediate made the final process: pid, as the host sees it
  REPORT_ERROR,   // a step failed: step, err (errno), index (which join/mount/candidate, or -1)
};

struct ChildReport
{
  int32_t kind;
  int32_t step;
  int32_t err;
  int32_t index;
  int32_t call; // for an FS_IDMAP step: the IdmapCall that failed
  int64_t pid;
};

// Runs in the cloned child: never returns.
[[noreturn]] void RunFinalStage (const SpawnPlan &plan);
// Clones the final process (into plan.into_cgroup when there is one) running RunFinalStage.
pid_t CloneFinal (int flags, int *pidfd_out, const SpawnPlan &plan, void *stack_top, size_t stack_size);
// Runs in the cloned intermediate of a joining spawn: joins, clones the final process as a
// sibling (CLONE_PARENT), reports its pid, exits.
[[noreturn]] void RunIntermediateStage (const SpawnPlan &plan);

// Starts `fn (plan)` in a child on `stack_top`, until it execs or exits; the calling thread
// sleeps until then (CLONE_VFORK). With CLONE_VM in `flags` the child shares our memory, as
// posix_spawn's does; without, it has a copy.
pid_t CloneVfork (int flags, int *pidfd_out, [[noreturn]] void (*fn) (const SpawnPlan &), const SpawnPlan &plan,
                  void *stack_top);

} // namespace tspod
