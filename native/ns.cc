// Thin wrappers over namespace and pidfd system calls, for the runtime and for people doing
// namespace experiments from Node. They act on the calling (main) thread of Node; see
// docs/ARCHITECTURE.md for the namespace types that cannot be joined from there.
#include "ns.h"
#include "args.h"
#include "errors.h"

#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tspod {

// unshare(flags)
Napi::Value
Unshare (const Napi::CallbackInfo &info)
{
  int flags = (int) IntArg (info, 0, "unshare", "flags");
  if (unshare (flags) < 0)
    ThrowErrno (info.Env (), errno, "unshare");
  return info.Env ().Undefined ();
}

// setns(fd, nstype, label?): label names the fd in errors ('/proc/42/ns/net').
Napi::Value
Setns (const Napi::CallbackInfo &info)
{
  int fd = (int) IntArg (info, 0, "setns", "fd", 0);
  int type = info[1].IsUndefined () ? 0 : (int) IntArg (info, 1, "setns", "nstype");
  std::string label = info[2].IsString () ? info[2].As<Napi::String> ().Utf8Value () : "";
  if (setns (fd, type) < 0)
    ThrowErrno (info.Env (), errno, "setns", label.empty () ? nullptr : label.c_str ());
  return info.Env ().Undefined ();
}

// pidfdOpen(pid): a pidfd (O_CLOEXEC) for a running process.
Napi::Value
PidfdOpen (const Napi::CallbackInfo &info)
{
  int pid = (int) IntArg (info, 0, "pidfdOpen", "pid", 1);
  int fd = (int) syscall (SYS_pidfd_open, pid, 0);
  if (fd < 0)
    {
      std::string what = "pid " + std::to_string (pid);
      ThrowErrno (info.Env (), errno, "pidfd_open", what.c_str ());
    }
  return Napi::Number::New (info.Env (), fd);
}

// pidfdSendSignal(pidfd, signo): race-free kill; ESRCH once the process has exited.
Napi::Value
PidfdSendSignal (const Napi::CallbackInfo &info)
{
  int fd = (int) IntArg (info, 0, "pidfdSendSignal", "pidfd", 0);
  int sig = (int) IntArg (info, 1, "pidfdSendSignal", "signal", 0, 64);
  if (syscall (SYS_pidfd_send_signal, fd, sig, nullptr, 0) < 0)
    ThrowErrno (info.Env (), errno, "pidfd_send_signal");
  return info.Env ().Undefined ();
}

// pipe(): [readFd, writeFd], both O_CLOEXEC, for a child's stdio or a readiness byte.
Napi::Value
Pipe (const Napi::CallbackInfo &info)
{
  int fds[2];
  if (pipe2 (fds, O_CLOEXEC) < 0)
    ThrowErrno (info.Env (), errno, "pipe2");
  Napi::Array a = Napi::Array::New (info.Env (), 2);
  a.Set (0u, fds[0]);
  a.Set (1u, fds[1]);
  return a;
}

// flock(fd, exclusive, wait): false when !wait and someone else holds it. The kernel drops the
// lock with the last fd of the open file, so a holder that dies never leaves it behind.
Napi::Value
Flock (const Napi::CallbackInfo &info)
{
  int fd = (int) IntArg (info, 0, "flock", "fd", 0);
  int op = (info[1].ToBoolean ().Value () ? LOCK_EX : LOCK_SH) | (info[2].ToBoolean ().Value () ? 0 : LOCK_NB);
  while (flock (fd, op) < 0)
    {
      if (errno == EINTR)
        continue;
      if (errno == EWOULDBLOCK)
        return Napi::Boolean::New (info.Env (), false);
      ThrowErrno (info.Env (), errno, "flock");
    }
  return Napi::Boolean::New (info.Env (), true);
}

// socketInNetns(nsFd, domain, type): a socket (SOCK_NONBLOCK | SOCK_CLOEXEC) created inside the
// network namespace nsFd refers to. A socket belongs for life to the namespace it was created
// in, so only the creation needs the setns: the main thread enters, creates, and comes back.
Napi::Value
SocketInNetns (const Napi::CallbackInfo &info)
{
  int nsfd = (int) IntArg (info, 0, "socketInNetns", "nsFd", 0);
  int domain = (int) IntArg (info, 1, "socketInNetns", "domain");
  int type = (int) IntArg (info, 2, "socketInNetns", "type");
  // Our own namespace, opened once it can be (a failure, EMFILE say, is tried again): the way back.
  static int home = -1;
  if (home < 0 && (home = open ("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
    ThrowErrno (info.Env (), errno, "open", "/proc/thread-self/ns/net");
  if (setns (nsfd, CLONE_NEWNET) < 0)
    ThrowErrno (info.Env (), errno, "setns", "network namespace");
  int fd = socket (domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int err = errno;
  // Left in the pod's namespace, every socket Node makes later would be the pod's.
  if (setns (home, CLONE_NEWNET) < 0)
    abort ();
  if (fd < 0)
    ThrowErrno (info.Env (), err, "socket");
  return Napi::Number::New (info.Env (), fd);
}

// sendDatagram(path, data): one datagram to a unix socket, bound to a path or, when the path
// starts with '@', to a name in the abstract namespace (systemd's NOTIFY_SOCKET is either).
Napi::Value
SendDatagram (const Napi::CallbackInfo &info)
{
  std::string path = StringArg (info, 0, "sendDatagram", "path");
  std::string data = StringArg (info, 1, "sendDatagram", "data");
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.empty () || path.size () >= sizeof addr.sun_path)
    throw Napi::RangeError::New (info.Env (), "sendDatagram: path must be 1 to 107 bytes");
  memcpy (addr.sun_path, path.data (), path.size ());
  if (path[0] == '@')
    addr.sun_path[0] = '\0';
  socklen_t len = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + path.size ());
  int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    ThrowErrno (info.Env (), errno, "socket");
  ssize_t n = sendto (fd, data.data (), data.size (), MSG_NOSIGNAL, (struct sockaddr *) &addr, len);
  int err = errno;
  close (fd);
  if (n < 0)
    ThrowErrno (info.Env (), err, "sendto", path.c_str ());
  return info.Env ().Undefined ();
}

namespace {

// A stack for a short-lived child that shares our memory and only makes system calls; the
// clone blocks every signal around it, so no handler of Node's can run on that stack.
class SmallChild
{
public:
  explicit SmallChild (Napi::Env env)
  {
    stack_ = mmap (nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack_ == MAP_FAILED)
      ThrowErrno (env, errno, "mmap");
  }
  ~SmallChild () { munmap (stack_, kSize); }
  SmallChild (const SmallChild &) = delete;
  SmallChild &operator= (const SmallChild &) = delete;

  // clone(fn, flags | CLONE_VM | SIGCHLD, arg); -1 with errno.
  pid_t
  Start (int (*fn) (void *), int flags, void *arg)
  {
    sigset_t all, old;
    sigfillset (&all);
    pthread_sigmask (SIG_SETMASK, &all, &old);
    pid_t pid = clone (fn, (char *) stack_ + kSize, flags | CLONE_VM | SIGCHLD, arg);
    int err = errno;
    pthread_sigmask (SIG_SETMASK, &old, nullptr);
    errno = err;
    return pid;
  }

  static void
  Reap (pid_t pid)
  {
    while (waitpid (pid, nullptr, __WALL) < 0 && errno == EINTR)
      ;
  }

private:
  static constexpr size_t kSize = 64 * 1024;
  void *stack_;
};

// The holder of a new user namespace: it waits for EOF on the pipe, then exits. It shares our
// memory, so it only makes system calls on its own stack.
struct Holder
{
  int read_fd, write_fd;
};

int
HoldUserNamespace (void *arg)
{
  const Holder *h = (const Holder *) arg;
  char c;
  close (h->write_fd); // its copy: EOF comes when ours is closed
  while (read (h->read_fd, &c, 1) < 0 && errno == EINTR)
    ;
  syscall (SYS_exit, 0);
  return 0;
}

// Writes `text` to /proc/PID/NAME; an errno error naming the file on failure.
void
WriteProcFile (Napi::Env env, pid_t pid, const char *name, const std::string &text)
{
  std::string path = "/proc/" + std::to_string (pid) + "/" + name;
  int fd = open (path.c_str (), O_WRONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : write (fd, text.data (), text.size ());
  int err = errno;
  if (fd >= 0)
    close (fd);
  if (n != (ssize_t) text.size ())
    ThrowErrno (env, n < 0 ? err : EIO, fd < 0 ? "open" : "write", path.c_str ());
}

} // namespace

// createUserNamespace(uidMap, gidMap): an fd (O_CLOEXEC) of a new user namespace with these
// maps (the text of /proc/PID/uid_map). Node cannot unshare one (it has threads), and only a
// process outside it with CAP_SETUID may write a map of more than its own id, so a child is
// cloned into it, its maps written, its namespace opened, and it exits; the fd keeps the
// namespace alive.
Napi::Value
CreateUserNamespace (const Napi::CallbackInfo &info)
{
  Napi::Env env = info.Env ();
  std::string uid_map = StringArg (info, 0, "createUserNamespace", "uidMap");
  std::string gid_map = StringArg (info, 1, "createUserNamespace", "gidMap");
  SmallChild child (env);
  int fds[2];
  if (pipe2 (fds, O_CLOEXEC) < 0)
    ThrowErrno (env, errno, "pipe2");
  Holder holder = { fds[0], fds[1] };
  pid_t pid = child.Start (HoldUserNamespace, CLONE_NEWUSER, &holder);
  int clone_err = errno;
  int nsfd = -1;
  Napi::Error error;
  if (pid < 0)
    error = ErrnoError (env, clone_err, "clone", "CLONE_NEWUSER");
  else
    try
      {
        WriteProcFile (env, pid, "uid_map", uid_map);
        WriteProcFile (env, pid, "gid_map", gid_map);
        std::string path = "/proc/" + std::to_string (pid) + "/ns/user";
        if ((nsfd = open (path.c_str (), O_RDONLY | O_CLOEXEC)) < 0)
          ThrowErrno (env, errno, "open", path.c_str ());
      }
    catch (const Napi::Error &e)
      {
        error = e;
      }
  close (fds[1]);
  if (pid > 0)
    SmallChild::Reap (pid);
  close (fds[0]);
  if (nsfd < 0)
    throw error;
  return Napi::Number::New (env, nsfd);
}

namespace {

// What ReadMaps brings back from inside a user namespace.
struct MapsReading
{
  int userns;
  int err;          // errno of the step that failed, 0: none
  const char *step; // that step's system call
  char uid[4096], gid[4096];
};

// Reads /proc/self/FILE into buf (NUL-terminated); -1 with errno.
int
ReadSelfFile (const char *path, char *buf, size_t size)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read (fd, buf, size - 1);
  int err = errno;
  close (fd);
  errno = err;
  if (n < 0)
    return -1;
  buf[n] = '\0';
  return 0;
}

// Runs in a child that shares our memory while we sleep (vfork): it enters the namespace, where
// /proc/self/uid_map shows the namespace's map as its parent namespace sees it.
int
ReadMaps (void *arg)
{
  MapsReading *r = (MapsReading *) arg;
  if (setns (r->userns, CLONE_NEWUSER) < 0)
    r->step = "setns", r->err = errno;
  else if (ReadSelfFile ("/proc/self/uid_map", r->uid, sizeof r->uid) < 0
           || ReadSelfFile ("/proc/self/gid_map", r->gid, sizeof r->gid) < 0)
    r->step = "read", r->err = errno;
  syscall (SYS_exit, 0);
  return 0;
}

} // namespace

// userNamespaceMaps(usernsFd): { uid, gid }, the text of a user namespace's uid_map and gid_map
// as the host sees them. Node cannot enter it (it has threads): a child sharing our memory does,
// and reads them.
Napi::Value
UserNamespaceMaps (const Napi::CallbackInfo &info)
{
  Napi::Env env = info.Env ();
  MapsReading r = {};
  r.userns = (int) IntArg (info, 0, "userNamespaceMaps", "usernsFd", 0);
  SmallChild child (env);
  pid_t pid = child.Start (ReadMaps, CLONE_VFORK, &r);
  if (pid < 0)
    ThrowErrno (env, errno, "clone");
  SmallChild::Reap (pid);
  if (r.err)
    ThrowErrno (env, r.err, r.step, "user namespace");
  Napi::Object maps = Napi::Object::New (env);
  maps.Set ("uid", Napi::String::New (env, r.uid));
  maps.Set ("gid", Napi::String::New (env, r.gid));
  return maps;
}

// probeIdmappedMount(path, usernsFd): whether `path`'s file system takes an idmapped mount
// (Linux 5.12; each file system from its own version): a detached copy of its mount is made
// and mapped, then dropped. Throws the errno of open_tree or mount_setattr.
Napi::Value
ProbeIdmappedMount (const Napi::CallbackInfo &info)
{
  Napi::Env env = info.Env ();
  std::string path = StringArg (info, 0, "probeIdmappedMount", "path");
  int userns = (int) IntArg (info, 1, "probeIdmappedMount", "usernsFd", 0);
  int tree = (int) syscall (SYS_open_tree, AT_FDCWD, path.c_str (), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0)
    ThrowErrno (env, errno, "open_tree", path.c_str ());
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = (uint64_t) userns;
  int rc = (int) syscall (SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr);
  int err = errno;
  close (tree);
  if (rc < 0)
    ThrowErrno (env, err, "mount_setattr", path.c_str ());
  return env.Undefined ();
}

} // namespace tspod
