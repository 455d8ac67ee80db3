// The parent side of the spawn path: turns the JS request into a SpawnPlan, clones, and waits
// on the report pipe until the new program has been exec'd (EOF) or a step failed (a report).
// Types are checked here; what to ask for (flags, mounts, paths) is decided in TypeScript.
#include "spawn.h"
#include "errors.h"

#include <cerrno>
#include <climits>
#include <cmath>
#include <csignal>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <string>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace tspod {
namespace {

// Owns the strings and arrays a SpawnPlan points into.
struct PlanStorage
{
  std::vector<std::string> strings;
  std::vector<char *> argv, envp;
  std::vector<const char *> candidates;
  std::vector<int> stdio;
  std::vector<NsJoin> joins;
  std::vector<std::string> join_labels;
  std::vector<FsStep> fs;
  std::vector<std::string> fs_strings; // source, target, fstype, data, parent, base, sourceBeneath per step
  std::vector<bool> fs_has;            // which of those seven are set
  std::vector<uint32_t> groups;
  std::string file, cwd, hostname;
};

Napi::Value
Get (const Napi::Object &o, const char *key)
{
  return o.Get (key);
}

[[noreturn]] void
TypeError (Napi::Env env, const std::string &what)
{
  throw Napi::TypeError::New (env, "spawn: " + what);
}

std::string
String (Napi::Env env, const Napi::Object &o, const char *key)
{
  Napi::Value v = Get (o, key);
  if (! v.IsString ())
    TypeError (env, std::string (key) + " must be a string");
  return v.As<Napi::String> ().Utf8Value ();
}

bool
OptionalString (Napi::Env env, const Napi::Object &o, const char *key, std::string *out)
{
  Napi::Value v = Get (o, key);
  if (v.IsUndefined () || v.IsNull ())
    return false;
  if (! v.IsString ())
    TypeError (env, std::string (key) + " must be a string");
  *out = v.As<Napi::String> ().Utf8Value ();
  if (out->find ('\0') != std::string::npos)
    TypeError (env, std::string (key) + " must not contain NUL");
  return true;
}

int64_t
Integer (Napi::Env env, const Napi::Value &v, const std::string &what, int64_t dflt, bool required, int64_t min = INT_MIN,
         int64_t max = INT_MAX)
{
  if (v.IsUndefined () && ! required)
    return dflt;
  if (! v.IsNumber ())
    TypeError (env, what + " must be a number");
  double d = v.As<Napi::Number> ().DoubleValue ();
  if (! std::isfinite (d) || d != std::trunc (d) || d < (double) min || d > (double) max)
    throw Napi::RangeError::New (env, "spawn: " + what + " must be an integer from " + std::to_string (min) + " to "
                                          + std::to_string (max));
  return (int64_t) d;
}

bool
Bool (const Napi::Object &o, const char *key)
{
  return o.Get (key).ToBoolean ().Value ();
}

Napi::Array
Array (Napi::Env env, const Napi::Object &o, const char *key, bool required)
{
  Napi::Value v = Get (o, key);
  if ((v.IsUndefined () || v.IsNull ()) && ! required)
    return Napi::Array::New (env, 0);
  if (! v.IsArray ())
    TypeError (env, std::string (key) + " must be an array");
  return v.As<Napi::Array> ();
}

void
StringList (Napi::Env env, const Napi::Object &o, const char *key, PlanStorage &st,
            std::vector<size_t> &indexes)
{
  Napi::Array a = Array (env, o, key, true);
  for (uint32_t i = 0; i < a.Length (); i++)
    {
      Napi::Value v = a.Get (i);
      if (! v.IsString ())
        TypeError (env, std::string (key) + "[" + std::to_string (i) + "] must be a string");
      std::string s = v.As<Napi::String> ().Utf8Value ();
      if (s.find ('\0') != std::string::npos)
        TypeError (env, std::string (key) + "[" + std::to_string (i) + "] must not contain NUL");
      indexes.push_back (st.strings.size ());
      st.strings.push_back (std::move (s));
    }
}

// Reads the request into storage and points the plan at it. No pointer into storage is taken
// until every vector has its final size.
void
BuildPlan (Napi::Env env, const Napi::Object &req, PlanStorage &st, SpawnPlan &plan)
{
  std::vector<size_t> argv_ix, env_ix, search_ix;
  st.file = String (env, req, "path");
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

  plan.cwd = OptionalString (env, req, "cwd", &st.cwd) ? st.cwd.c_str () : nullptr;
  plan.hostname = OptionalString (env, req, "hostname", &st.hostname) ? st.hostname.c_str () : nullptr;

  Napi::Array stdio = Array (env, req, "stdio", true);
  if (stdio.Length () > 16)
    TypeError (env, "stdio may name at most 16 fds");
  for (uint32_t i = 0; i < stdio.Length (); i++)
    st.stdio.push_back ((int) Integer (env, stdio.Get (i), "stdio[" + std::to_string (i) + "]", 0, true, 0));

  Napi::Array joins = Array (env, req, "joinNamespaces", false);
  for (uint32_t i = 0; i < joins.Length (); i++)
    {
      std::string where = "joinNamespaces[" + std::to_string (i) + "]";
      if (! joins.Get (i).IsObject ())
        TypeError (env, where + " must be an object");
      Napi::Object j = joins.Get (i).As<Napi::Object> ();
      NsJoin join;
      join.fd = (int) Integer (env, j.Get ("fd"), where + ".fd", 0, true, 0);
      join.type = (int) Integer (env, j.Get ("type"), where + ".type", 0, false);
      std::string label;
      if (! OptionalString (env, j, "label", &label))
        label = "fd " + std::to_string (join.fd);
      st.join_labels.push_back (label);
      st.joins.push_back (join);
    }

  static const char *const ops[] = { "mount", "mkdir", "mknod", "symlink", "touch", "openRoot", "pivot" };
  Napi::Array fs = Array (env, req, "fs", false);
  for (uint32_t i = 0; i < fs.Length (); i++)
    {
      std::string where = "fs[" + std::to_string (i) + "]";
      if (! fs.Get (i).IsObject ())
        TypeError (env, where + " must be an object");
      Napi::Object f = fs.Get (i).As<Napi::Object> ();
      FsStep step = {};
      std::string op = String (env, f, "op");
      step.op = -1;
      for (int k = 0; k < (int) (sizeof ops / sizeof *ops); k++)
        if (op == ops[k])
          step.op = k;
      if (step.op < 0)
        TypeError (env, where + ".op: unknown operation " + op);
      step.in_root = Bool (f, "inRoot");
      step.flags = (unsigned long) Integer (env, f.Get ("flags"), where + ".flags", 0, false, 0, UINT_MAX);
      step.mode = (uint32_t) Integer (env, f.Get ("mode"), where + ".mode", 0755, false, 0, UINT_MAX);
      step.major = (uint32_t) Integer (env, f.Get ("major"), where + ".major", 0, false, 0, UINT_MAX);
      step.minor = (uint32_t) Integer (env, f.Get ("minor"), where + ".minor", 0, false, 0, UINT_MAX);
      std::string target;
      if (! OptionalString (env, f, "target", &target))
        TypeError (env, where + ".target must be a string");
      // An in-root step that creates a name does it in its parent, resolved in the root.
      std::string parent, base;
      bool split = step.in_root && step.op != FS_MOUNT;
      if (split)
        {
          size_t slash = target.find_last_of ('/');
          parent = slash == std::string::npos ? "." : target.substr (0, slash);
          base = target.substr (slash == std::string::npos ? 0 : slash + 1);
          if (parent.empty ())
            parent = "/";
          if (base.empty () || base == "." || base == "..")
            TypeError (env, where + ".target must end in a name");
        }
      std::string fields[4];
      bool has[4];
      const char *keys[] = { "source", "fstype", "data", "sourceBeneath" };
      for (int k = 0; k < 4; k++)
        has[k] = OptionalString (env, f, keys[k], &fields[k]);
      if (has[3] && (step.op != FS_MOUNT || ! has[0]))
        TypeError (env, where + ".sourceBeneath needs a mount with a source");
      for (const auto &[value, present] : { std::pair{ fields[0], has[0] }, std::pair{ target, true }, std::pair{ fields[1], has[1] },
                                            std::pair{ fields[2], has[2] }, std::pair{ parent, split }, std::pair{ base, split },
                                            std::pair{ fields[3], has[3] } })
        {
          st.fs_strings.push_back (value);
          st.fs_has.push_back (present);
        }
      st.fs.push_back (step);
    }

  Napi::Value user = req.Get ("user");
  if (! user.IsUndefined () && ! user.IsNull ())
    {
      if (! user.IsObject ())
        TypeError (env, "user must be an object");
      Napi::Object u = user.As<Napi::Object> ();
      plan.set_user = true;
      plan.uid = (uint32_t) Integer (env, u.Get ("uid"), "user.uid", 0, true, 0, UINT_MAX - 1);
      plan.gid = (uint32_t) Integer (env, u.Get ("gid"), "user.gid", 0, true, 0, UINT_MAX - 1);
      Napi::Array groups = Array (env, u, "groups", false);
      for (uint32_t i = 0; i < groups.Length (); i++)
        st.groups.push_back ((uint32_t) Integer (env, groups.Get (i), "user.groups[" + std::to_string (i) + "]", 0, true, 0, UINT_MAX - 1));
    }

  plan.new_namespaces = (int) Integer (env, req.Get ("newNamespaces"), "newNamespaces", 0, false);
  plan.loopback_up = Bool (req, "loopbackUp");
  plan.parent_death_signal = (int) Integer (env, req.Get ("parentDeathSignal"), "parentDeathSignal", 0, false, 0, 64);
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
  for (size_t i = 0; i < st.fs.size (); i++)
    {
      FsStep &f = st.fs[i];
      const char **fields[] = { &f.source, &f.target, &f.fstype, &f.data, &f.parent, &f.base, &f.source_beneath };
      for (int k = 0; k < 7; k++)
        *fields[k] = st.fs_has[i * 7 + k] ? st.fs_strings[i * 7 + k].c_str () : nullptr;
    }

  plan.argv = st.argv.data ();
  plan.envp = st.envp.data ();
  plan.candidates = st.candidates.data ();
  plan.ncandidates = (int) st.candidates.size ();
  plan.file = st.file.c_str ();
  plan.stdio = st.stdio.data ();
  plan.nstdio = (int) st.stdio.size ();
  plan.joins = st.joins.data ();
  plan.njoins = (int) st.joins.size ();
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
    case STEP_SETNS:
      path = plan.joins[r.index].label;
      break;
    case STEP_FS:
      path = plan.fs[r.index].target;
      break;
    case STEP_CHDIR:
      path = plan.cwd;
      break;
    case STEP_SETHOSTNAME:
      path = plan.hostname;
      break;
    case STEP_LO_IOCTL:
      path = "lo";
      break;
    case STEP_EXECVE:
      path = r.index >= 0 ? plan.candidates[r.index] : plan.file;
      break;
    case STEP_DUP:
      buf = "stdio[" + std::to_string (r.index) + "]";
      path = buf.c_str ();
      break;
    case STEP_SETCTTY:
      path = "TIOCSCTTY";
      break;
    }
  const char *syscall = r.step == STEP_FS ? FsOpSyscall (plan.fs[r.index].op) : StepSyscall (r.step);
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
  void *Top (int i) const { return (char *) base_ + (i + 1) * (guard_ + kStack); }

private:
  size_t Length () const { return 2 * (guard_ + kStack); }
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

  bool joining = plan.njoins > 0;
  int pidfd = -1;
  plan.final_stack = stacks.Top (1);
  pid_t pid = joining ? CloneVfork (0, nullptr, RunIntermediateStage, plan, stacks.Top (0))
                      : CloneVfork (plan.new_namespaces, &pidfd, RunFinalStage, plan, stacks.Top (0));
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
        throw Napi::Error::New (env, std::string ("spawn ") + plan.file + ": the intermediate process ended before it reported");
      throw ChildError (env, plan, error);
    }

  Napi::Object result = Napi::Object::New (env);
  result.Set ("pid", Napi::Number::New (env, final_pid));
  result.Set ("pidfd", Napi::Number::New (env, pidfd));
  return result;
}

} // namespace tspod
