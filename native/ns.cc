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
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
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

} // namespace tspod
