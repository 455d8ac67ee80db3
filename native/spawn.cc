// The parent side of the spawn path: turns the JS request into a SpawnPlan, clones, and waits
// on the report pipe until the new program has been exec'd (EOF) or a step failed (a report).
// Types are checked here; what to ask for (flags, mounts, paths) is decided in TypeScript.
#include "spawn.h"
#include "args.h"
#include "errors.h"

#include <cerrno>
#include <climits>
#include <cmath>
#include <csignal>
#include <fcntl.h>
#include <linux/sched.h>
#include <optional>
#include <pthread.h>
#include <string>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace tspod {
namespace {

// Owns the strings a file-system step points to; an absent one stays nullptr in the step.
struct FsStepStrings
{
  std::optional<std::string> source, fstype, data, source_beneath;
  std::string target;
  // For in-root steps that create a name: target split into its parent and its last name.
  std::optional<std::string> parent, base;
};

// Owns the strings and arrays a SpawnPlan points into.
struct PlanStorage
{
  std::vector<std::string> strings;
  std::vector<char *> argv, envp;
  std::vector<const char *> candidates;
  std::vector<int> stdio;
  std::vector<NsJoin> joins;
  std::vector<std::string> join_labels;
  std::vector<CgroupJoin> cgroups;
  std::vector<std::string> cgroup_labels;
  std::string into_cgroup_label;
  std::vector<FsStep> fs;
  std::vector<FsStepStrings> fs_strings; // one per step, in the same order
  std::vector<uint32_t> groups;
  std::vector<uint8_t> seccomp;
  std::vector<std::string> sysctl_strings; // path, value, path, value, ...
  std::vector<Sysctl> sysctls;
  std::string file, cwd, hostname, time_offsets, user_ns_label;
};

const std::string kFn = "spawn";

[[noreturn]] void
TypeError (Napi::Env env, const std::string &what)
{
  throw Napi::TypeError::New (env, kFn + ": " + what);
}

const char *
CStr (const std::optional<std::string> &s)
{
  return s ? s->c_str () : nullptr;
}

// A field that may be absent (undefined or null); else a string without NUL.
std::optional<std::string>
OptionalString (Napi::Env env, const Napi::Object &o, const char *key, const std::string &where = "")
{
  Napi::Value v = o.Get (key);
  if (v.IsUndefined () || v.IsNull ())
    return std::nullopt;
  return StringValue (env, v, kFn, where + key);
}

// An integer field that may be absent (undefined): then `dflt`.
int64_t
OptionalInt (Napi::Env env, const Napi::Value &v, const std::string &what, int64_t dflt, int64_t min = INT_MIN,
             int64_t max = INT_MAX)
{
  return v.IsUndefined () ? dflt : IntValue (env, v, kFn, what, min, max);
}

bool
Bool (const Napi::Object &o, const char *key)
{
  return o.Get (key).ToBoolean ().Value ();
}

Napi::Array
Array (Napi::Env env, const Napi::Object &o, const std::string &key, bool required)
{
  return ArrayValue (env, o, kFn, key, required);
}

void
StringList (Napi::Env env, const Napi::Object &o, const char *key, PlanStorage &st, std::vector<size_t> &indexes)
{
  Napi::Array a = Array (env, o, key, true);
  for (uint32_t i = 0; i < a.Length (); i++)
    {
      indexes.push_back (st.strings.size ());
      st.strings.push_back (StringValue (env, a.Get (i), kFn, std::string (key) + "[" + std::to_string (i) + "]"));
    }
}

// One step of `fs`: its operation and numbers into the FsStep, its strings into `strings`.
FsStep
FsStepOf (Napi::Env env, const Napi::Value &value, const std::string &where, FsStepStrings &strings)
{
  static const char *const ops[]
      = { "mount", "mkdir", "mknod", "symlink", "touch", "openRoot", "pivot", "chdir", "mask", "readonly", "idmap" };
  if (! value.IsObject ())
    TypeError (env, where + " must be an object");
  Napi::Object f = value.As<Napi::Object> ();
  FsStep step = {};
  std::string op = StringValue (env, f.Get ("op"), kFn, where + ".op");
  step.op = -1;
  for (int k = 0; k < (int) (sizeof ops / sizeof *ops); k++)
    if (op == ops[k])
      step.op = k;
  if (step.op < 0)
    TypeError (env, where + ".op: unknown operation " + op);
  step.in_root = Bool (f, "inRoot");
  step.flags = (unsigned long) OptionalInt (env, f.Get ("flags"), where + ".flags", 0, 0, UINT_MAX);
  step.mode = (uint32_t) OptionalInt (env, f.Get ("mode"), where + ".mode", 0755, 0, UINT_MAX);
  step.major = (uint32_t) OptionalInt (env, f.Get ("major"), where + ".major", 0, 0, UINT_MAX);
  step.minor = (uint32_t) OptionalInt (env, f.Get ("minor"), where + ".minor", 0, 0, UINT_MAX);
  std::optional<std::string> target = OptionalString (env, f, "target", where + ".");
  if (! target)
    TypeError (env, where + ".target must be a string");
  strings.target = *target;
  strings.source = OptionalString (env, f, "source", where + ".");
  strings.fstype = OptionalString (env, f, "fstype", where + ".");
  strings.data = OptionalString (env, f, "data", where + ".");
  strings.source_beneath = OptionalString (env, f, "sourceBeneath", where + ".");
  if (strings.source_beneath && (step.op != FS_MOUNT || ! strings.source))
    TypeError (env, where + ".sourceBeneath needs a mount with a source");
  if (step.op == FS_IDMAP && (! strings.source || step.in_root))
    TypeError (env, where + ": an idmap step needs a source and host paths");
  // An in-root step that creates a name does it in its parent, resolved in the root.
  if (step.in_root && step.op != FS_MOUNT)
    {
      size_t slash = strings.target.find_last_of ('/');
      std::string parent = slash == std::string::npos ? "." : strings.target.substr (0, slash);
      std::string base = strings.target.substr (slash == std::string::npos ? 0 : slash + 1);
      if (base.empty () || base == "." || base == "..")
        TypeError (env, where + ".target must end in a name");
      strings.parent = parent.empty () ? "/" : parent;
      strings.base = base;
    }
  return step;
}

// capabilities.NAME: a list of capability numbers (0 to 63) as a mask.
uint64_t
CapSet (Napi::Env env, const Napi::Object &caps, const char *name)
{
  Napi::Array list = Array (env, caps, name, true);
  uint64_t mask = 0;
  for (uint32_t i = 0; i < list.Length (); i++)
    mask |= (uint64_t) 1 << IntValue (env, list.Get (i), kFn,
                                      std::string ("capabilities.") + name + "[" + std::to_string (i) + "]", 0, 63);
  return mask;
}

// Reads the request into storage and points the plan at it. No pointer into storage is taken
// until every vector has its final size.
void
BuildPlan (Napi::Env env, const Napi::Object &req, PlanStorage &st, SpawnPlan &plan)
{
  std::vector<size_t> argv_ix, env_ix, search_ix;
  Napi::Value path = req.Get ("path");
  if (! path.IsString ())
    TypeError (env, "path must be a string");
  st.file = path.As<Napi::String> ().Utf8Value ();
  if (st.file.empty () || st.file.find ('\0') != std::string::npos)
    TypeError (env, "path must be a non-empty string without NUL");
  StringList (env, req, "argv", st, argv_ix);
  StringList (env, req, "env", st, env_ix);
  if (argv_ix.empty ())
    TypeError (env, "argv must hold at least the program name");
  if (st.file.find ('/') == std::string::npos)
    {
      StringList (env, req, "searchPath", st, search_ix);
      for (size_t &ix : search_ix)
        {
          std::string dir = st.strings[ix].empty () ? "." : st.strings[ix];
          st.strings.push_back (dir + "/" + st.file);
          ix = st.strings.size () - 1;
        }
    }
  else
    {
      st.strings.push_back (st.file);
      search_ix.push_back (st.strings.size () - 1);
    }

  std::optional<std::string> cwd = OptionalString (env, req, "cwd");
  std::optional<std::string> hostname = OptionalString (env, req, "hostname");
  st.cwd = cwd.value_or ("");
  st.hostname = hostname.value_or ("");
  plan.cwd = cwd ? st.cwd.c_str () : nullptr;
  plan.hostname = hostname ? st.hostname.c_str () : nullptr;

  Napi::Array stdio = Array (env, req, "stdio", true);
  if (stdio.Length () > 16)
    TypeError (env, "stdio may name at most 16 fds");
  for (uint32_t i = 0; i < stdio.Length (); i++)
    st.stdio.push_back ((int) IntValue (env, stdio.Get (i), kFn, "stdio[" + std::to_string (i) + "]", 0));

  Napi::Array joins = Array (env, req, "joinNamespaces", false);
  for (uint32_t i = 0; i < joins.Length (); i++)
    {
      std::string where = "joinNamespaces[" + std::to_string (i) + "]";
      if (! joins.Get (i).IsObject ())
        TypeError (env, where + " must be an object");
      Napi::Object j = joins.Get (i).As<Napi::Object> ();
      NsJoin join;
      join.fd = (int) IntValue (env, j.Get ("fd"), kFn, where + ".fd", 0);
      join.type = (int) OptionalInt (env, j.Get ("type"), where + ".type", 0);
      st.join_labels.push_back (
          OptionalString (env, j, "label", where + ".").value_or ("fd " + std::to_string (join.fd)));
      st.joins.push_back (join);
    }

  Napi::Array cgroups = Array (env, req, "joinCgroups", false);
  if (cgroups.Length () > 16)
    TypeError (env, "joinCgroups may name at most 16 cgroups");
  for (uint32_t i = 0; i < cgroups.Length (); i++)
    {
      std::string where = "joinCgroups[" + std::to_string (i) + "]";
      if (! cgroups.Get (i).IsObject ())
        TypeError (env, where + " must be an object");
      Napi::Object c = cgroups.Get (i).As<Napi::Object> ();
      CgroupJoin join;
      join.fd = (int) IntValue (env, c.Get ("fd"), kFn, where + ".fd", 0);
      st.cgroup_labels.push_back (
          OptionalString (env, c, "label", where + ".").value_or ("fd " + std::to_string (join.fd)));
      st.cgroups.push_back (join);
    }

  Napi::Array fs = Array (env, req, "fs", false);
  st.fs_strings.resize (fs.Length ());
  for (uint32_t i = 0; i < fs.Length (); i++)
    st.fs.push_back (FsStepOf (env, fs.Get (i), "fs[" + std::to_string (i) + "]", st.fs_strings[i]));

  Napi::Array sysctls = Array (env, req, "sysctls", false);
  for (uint32_t i = 0; i < sysctls.Length (); i++)
    {
      std::string where = "sysctls[" + std::to_string (i) + "]";
      if (! sysctls.Get (i).IsObject ())
        TypeError (env, where + " must be an object");
      Napi::Object o = sysctls.Get (i).As<Napi::Object> ();
      st.sysctl_strings.push_back (StringValue (env, o.Get ("path"), kFn, where + ".path"));
      st.sysctl_strings.push_back (StringValue (env, o.Get ("value"), kFn, where + ".value"));
    }

  Napi::Value user = req.Get ("user");
  if (! user.IsUndefined () && ! user.IsNull ())
    {
      if (! user.IsObject ())
        TypeError (env, "user must be an object");
      Napi::Object u = user.As<Napi::Object> ();
      plan.set_user = true;
      plan.uid = (uint32_t) IntValue (env, u.Get ("uid"), kFn, "user.uid", 0, UINT_MAX - 1);
      plan.gid = (uint32_t) IntValue (env, u.Get ("gid"), kFn, "user.gid", 0, UINT_MAX - 1);
      Napi::Array groups = Array (env, u, "groups", false);
      for (uint32_t i = 0; i < groups.Length (); i++)
        st.groups.push_back (
            (uint32_t) IntValue (env, groups.Get (i), kFn, "user.groups[" + std::to_string (i) + "]", 0, UINT_MAX - 1));
    }

  Napi::Value caps = req.Get ("capabilities");
  if (! caps.IsUndefined () && ! caps.IsNull ())
    {
      if (! caps.IsObject ())
        TypeError (env, "capabilities must be an object");
      Napi::Object c = caps.As<Napi::Object> ();
      plan.set_caps = true;
      plan.cap_bounding = CapSet (env, c, "bounding");
      plan.cap_effective = CapSet (env, c, "effective");
      plan.cap_permitted = CapSet (env, c, "permitted");
      plan.cap_inheritable = CapSet (env, c, "inheritable");
      plan.cap_ambient = CapSet (env, c, "ambient");
    }
  plan.no_new_privs = Bool (req, "noNewPrivileges");
  std::optional<std::string> offsets = OptionalString (env, req, "timeOffsets");
  st.time_offsets = offsets.value_or ("");
  plan.time_offsets = offsets ? st.time_offsets.c_str () : nullptr;

  Napi::Value seccomp = req.Get ("seccomp");
  if (! seccomp.IsUndefined () && ! seccomp.IsNull ())
    {
      if (! seccomp.IsObject () || ! seccomp.As<Napi::Object> ().Get ("program").IsBuffer ())
        TypeError (env, "seccomp must be { program: Buffer, flags }");
      Napi::Object o = seccomp.As<Napi::Object> ();
      Napi::Buffer<uint8_t> program = o.Get ("program").As<Napi::Buffer<uint8_t>> ();
      // The kernel's limit: BPF_MAXINSNS (4096) instructions of 8 bytes.
      if (program.Length () == 0 || program.Length () % 8 != 0 || program.Length () > 4096 * 8)
        TypeError (env, "seccomp.program must hold 1 to 4096 instructions of 8 bytes");
      st.seccomp.assign (program.Data (), program.Data () + program.Length ());
      plan.seccomp_len = (unsigned short) (program.Length () / 8);
      plan.seccomp_flags = (unsigned int) OptionalInt (env, o.Get ("flags"), "seccomp.flags", 0, 0);
    }

  plan.new_namespaces = (int) OptionalInt (env, req.Get ("newNamespaces"), "newNamespaces", 0);
  plan.new_cgroup_namespace = Bool (req, "newCgroupNamespace");
  plan.into_cgroup = -1;
  Napi::Value into = req.Get ("intoCgroup");
  if (! into.IsUndefined () && ! into.IsNull ())
    {
      if (! into.IsObject ())
        TypeError (env, "intoCgroup must be an object");
      Napi::Object o = into.As<Napi::Object> ();
      plan.into_cgroup = (int) IntValue (env, o.Get ("fd"), kFn, "intoCgroup.fd", 0);
      st.into_cgroup_label
          = OptionalString (env, o, "label", "intoCgroup.").value_or ("fd " + std::to_string (plan.into_cgroup));
    }
  plan.user_ns = -1;
  Napi::Value userns = req.Get ("userNamespace");
  if (! userns.IsUndefined () && ! userns.IsNull ())
    {
      if (! userns.IsObject ())
        TypeError (env, "userNamespace must be an object");
      Napi::Object o = userns.As<Napi::Object> ();
      plan.user_ns = (int) IntValue (env, o.Get ("fd"), kFn, "userNamespace.fd", 0);
      plan.user_ns_root = (uint32_t) IntValue (env, o.Get ("hostRoot"), kFn, "userNamespace.hostRoot", 0, UINT_MAX - 1);
      st.user_ns_label
          = OptionalString (env, o, "label", "userNamespace.").value_or ("fd " + std::to_string (plan.user_ns));
    }
  for (const FsStep &f : st.fs)
    if (f.op == FS_IDMAP && plan.user_ns < 0)
      TypeError (env, "an idmap step needs userNamespace");
  plan.loopback_up = Bool (req, "loopbackUp");
  plan.parent_death_signal = (int) OptionalInt (env, req.Get ("parentDeathSignal"), "parentDeathSignal", 0, 0, 64);
  plan.new_session = Bool (req, "newSession");
  plan.new_process_group = Bool (req, "newProcessGroup");
  plan.controlling_terminal = Bool (req, "controllingTerminal");

  // Every vector is final: now take pointers.
  for (size_t ix : argv_ix)
    st.argv.push_back (st.strings[ix].data ());
  st.argv.push_back (nullptr);
  for (size_t ix : env_ix)
    st.envp.push_back (st.strings[ix].data ());
  st.envp.push_back (nullptr);
  for (size_t ix : search_ix)
    st.candidates.push_back (st.strings[ix].c_str ());
  for (size_t i = 0; i < st.joins.size (); i++)
    st.joins[i].label = st.join_labels[i].c_str ();
  for (size_t i = 0; i < st.cgroups.size (); i++)
    st.cgroups[i].label = st.cgroup_labels[i].c_str ();
  for (size_t i = 0; i < st.fs.size (); i++)
    {
      FsStep &f = st.fs[i];
      const FsStepStrings &s = st.fs_strings[i];
      f.target = s.target.c_str ();
      f.source = CStr (s.source);
      f.fstype = CStr (s.fstype);
      f.data = CStr (s.data);
      f.parent = CStr (s.parent);
      f.base = CStr (s.base);
      f.source_beneath = CStr (s.source_beneath);
    }

  plan.seccomp = st.seccomp.empty () ? nullptr : st.seccomp.data ();
  for (size_t i = 0; i < st.sysctl_strings.size (); i += 2)
    st.sysctls.push_back (
        { st.sysctl_strings[i].c_str (), st.sysctl_strings[i + 1].c_str (), st.sysctl_strings[i + 1].size () });
  plan.sysctls = st.sysctls.data ();
  plan.nsysctls = (int) st.sysctls.size ();
  plan.argv = st.argv.data ();
  plan.envp = st.envp.data ();
  plan.candidates = st.candidates.data ();
  plan.ncandidates = (int) st.candidates.size ();
  plan.file = st.file.c_str ();
  plan.stdio = st.stdio.data ();
  plan.nstdio = (int) st.stdio.size ();
  plan.joins = st.joins.data ();
  plan.njoins = (int) st.joins.size ();
  plan.intermediate = plan.njoins > 0 || plan.time_offsets;
  plan.intermediate_own_memory = plan.time_offsets != nullptr;
  for (const NsJoin &j : st.joins)
    {
      if (j.type & CLONE_NEWTIME)
        plan.intermediate_own_memory = true;
      if ((j.type == CLONE_NEWUSER || (j.type & CLONE_NEWCGROUP)) && plan.into_cgroup >= 0)
        plan.into_cgroup_early = true;
    }
  plan.cgroups = st.cgroups.data ();
  plan.ncgroups = (int) st.cgroups.size ();
  plan.into_cgroup_label = st.into_cgroup_label.c_str ();
  plan.user_ns_label = st.user_ns_label.c_str ();
  plan.fs = st.fs.data ();
  plan.nfs = (int) st.fs.size ();
  plan.groups = st.groups.data ();
  plan.ngroups = (int) st.groups.size ();
}

// Our own pidfd, opened once: the child polls it to see whether we died before its prctl.
int
SelfPidfd ()
{
  static int fd = (int) syscall (SYS_pidfd_open, getpid (), 0);
  return fd;
}

// Turns a child's report into the error Node code expects, naming the step's object.
Napi::Error
ChildError (Napi::Env env, const SpawnPlan &plan, const ChildReport &r)
{
  const char *path = nullptr;
  std::string buf;
  switch (r.step)
    {
    case STEP_SETNS: path = plan.joins[r.index].label; break;
    case STEP_CGROUP: path = plan.cgroups[r.index].label; break;
    case STEP_INTO_CGROUP: path = plan.into_cgroup_label; break;
    case STEP_FS:
      path
          = plan.fs[r.index].op == FS_IDMAP && r.call != IDMAP_MOVE ? plan.fs[r.index].source : plan.fs[r.index].target;
      break;
    case STEP_SYSCTL_OPEN:
    case STEP_SYSCTL: path = plan.sysctls[r.index].path; break;
    case STEP_TIMENS_OFFSETS: path = "/proc/self/timens_offsets"; break;
    case STEP_USERNS: path = plan.user_ns_label; break;
    case STEP_CHDIR: path = plan.cwd; break;
    case STEP_SETHOSTNAME: path = plan.hostname; break;
    case STEP_LO_IOCTL: path = "lo"; break;
    case STEP_EXECVE: path = r.index >= 0 ? plan.candidates[r.index] : plan.file; break;
    case STEP_DUP:
      buf = "stdio[" + std::to_string (r.index) + "]";
      path = buf.c_str ();
      break;
    case STEP_SETCTTY: path = "TIOCSCTTY"; break;
    }
  const char *syscall = r.step == STEP_FS ? FsOpSyscall (plan.fs[r.index].op, r.call) : StepSyscall (r.step);
  Napi::Error e = ErrnoError (env, r.err, syscall, path);
  e.Value ().Set ("childStep", Napi::Boolean::New (env, true));
  return e;
}

// Two stacks for the children that share our memory: the first process, and the final one that
// an intermediate clones. Each sits above a guard page, so an overflow faults instead of
// writing into Node's memory.
class ChildStacks
{
public:
  static constexpr size_t kStack = 128 * 1024; // a multiple of every page size

  explicit ChildStacks (Napi::Env env) : guard_ ((size_t) sysconf (_SC_PAGESIZE))
  {
    base_ = mmap (nullptr, Length (), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base_ == MAP_FAILED)
      ThrowErrno (env, errno, "mmap");
    for (int i = 0; i < 2; i++)
      mprotect ((char *) base_ + i * (guard_ + kStack), guard_, PROT_NONE);
  }
  ~ChildStacks () { munmap (base_, Length ()); }
  ChildStacks (const ChildStacks &) = delete;
  ChildStacks &operator= (const ChildStacks &) = delete;

  // Stacks grow down: a child starts at the top of its region.
  void *
  Top (int i) const
  {
    return (char *) base_ + (i + 1) * (guard_ + kStack);
  }

private:
  size_t
  Length () const
  {
    return 2 * (guard_ + kStack);
  }
  size_t guard_;
  void *base_;
};

void
ReapNow (pid_t pid)
{
  while (waitpid (pid, nullptr, __WALL) < 0 && errno == EINTR)
    ;
}

} // namespace

Napi::Value
Spawn (const Napi::CallbackInfo &info)
{
  Napi::Env env = info.Env ();
  if (! info[0].IsObject ())
    TypeError (env, "the request must be an object");
  PlanStorage st;
  SpawnPlan plan = {};
  BuildPlan (env, info[0].As<Napi::Object> (), st, plan);
  plan.parent_pidfd = plan.parent_death_signal ? SelfPidfd () : -1;

  ChildStacks stacks (env);
  int pipefd[2];
  if (pipe2 (pipefd, O_CLOEXEC) < 0)
    ThrowErrno (env, errno, "pipe2");
  // Keep the report fd clear of the child's stdio numbers 0..15, which dup2 will overwrite.
  if (pipefd[1] < 16)
    {
      int high = fcntl (pipefd[1], F_DUPFD_CLOEXEC, 16);
      int err = errno;
      close (pipefd[1]);
      if (high < 0)
        {
          close (pipefd[0]);
          ThrowErrno (env, err, "fcntl");
        }
      pipefd[1] = high;
    }
  plan.report_fd = pipefd[1];

  // No signal handler of Node's may run in the child: block all around the clone.
  sigset_t all, old;
  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &old);

  bool joining = plan.intermediate;
  int pidfd = -1;
  plan.final_stack = stacks.Top (1);
  plan.final_stack_size = ChildStacks::kStack;
  pid_t pid = joining ? CloneVfork (plan.intermediate_own_memory ? 0 : CLONE_VM, nullptr, RunIntermediateStage, plan,
                                    stacks.Top (0))
                      : CloneFinal (plan.new_namespaces, &pidfd, plan, stacks.Top (0), ChildStacks::kStack);
  int clone_err = errno;
  pthread_sigmask (SIG_SETMASK, &old, nullptr);
  close (pipefd[1]);
  if (pid < 0)
    {
      close (pipefd[0]);
      ThrowErrno (env, clone_err, "clone");
    }

  ChildReport error = {};
  pid_t final_pid = joining ? -1 : pid;
  for (;;)
    {
      ChildReport r;
      ssize_t n = read (pipefd[0], &r, sizeof r);
      if (n < 0 && errno == EINTR)
        continue;
      if (n != (ssize_t) sizeof r)
        break; // EOF: exec'd (or killed before it could report)
      if (r.kind == REPORT_PID)
        final_pid = (pid_t) r.pid;
      else if (r.kind == REPORT_ERROR && error.kind == 0)
        error = r;
    }
  close (pipefd[0]);

  if (joining)
    ReapNow (pid); // the intermediate
  if (error.kind == 0 && joining && final_pid > 0)
    {
      // Safe from pid reuse: the process is our unreaped child.
      pidfd = (int) syscall (SYS_pidfd_open, final_pid, 0);
      if (pidfd < 0)
        {
          int err = errno;
          kill (final_pid, SIGKILL);
          ReapNow (final_pid);
          ThrowErrno (env, err, "pidfd_open");
        }
    }
  if (error.kind != 0 || final_pid <= 0)
    {
      if (final_pid > 0)
        ReapNow (final_pid);
      if (pidfd >= 0)
        close (pidfd);
      if (error.kind == 0)
        throw Napi::Error::New (env, std::string ("spawn ") + plan.file
                                         + ": the intermediate process ended before it reported");
      throw ChildError (env, plan, error);
    }

  Napi::Object result = Napi::Object::New (env);
  result.Set ("pid", Napi::Number::New (env, final_pid));
  result.Set ("pidfd", Napi::Number::New (env, pidfd));
  return result;
}

} // namespace tspod
