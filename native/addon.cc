// tspod's Node-API addon: the system calls a pod runtime needs and Node does not offer.
// src/native/binding.ts describes every export in one TypeScript interface.
#include "exit_watch.h"
#include "ns.h"
#include "reader.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>

namespace tspod {
namespace {

Napi::Object
Constants (Napi::Env env)
{
  Napi::Object c = Napi::Object::New (env);
  struct
  {
    const char *name;
    double value;
  } table[] = {
    { "CLONE_NEWNS", CLONE_NEWNS },
    { "CLONE_NEWUTS", CLONE_NEWUTS },
    { "CLONE_NEWIPC", CLONE_NEWIPC },
    { "CLONE_NEWPID", CLONE_NEWPID },
    { "CLONE_NEWNET", CLONE_NEWNET },
    { "CLONE_NEWUSER", CLONE_NEWUSER },
    { "CLONE_NEWCGROUP", CLONE_NEWCGROUP },
    { "CLONE_NEWTIME", CLONE_NEWTIME },
    { "MS_RDONLY", MS_RDONLY },
    { "MS_NOSUID", MS_NOSUID },
    { "MS_NODEV", MS_NODEV },
    { "MS_NOEXEC", MS_NOEXEC },
    { "MS_REMOUNT", MS_REMOUNT },
    { "MS_BIND", MS_BIND },
    { "MS_REC", MS_REC },
    { "MS_PRIVATE", MS_PRIVATE },
    { "AF_INET", AF_INET },
    { "AF_INET6", AF_INET6 },
    { "SOCK_STREAM", SOCK_STREAM },
    { "SOCK_DGRAM", SOCK_DGRAM },
    { "S_IFCHR", S_IFCHR },
    { "S_IFBLK", S_IFBLK },
    { "S_IFIFO", S_IFIFO },
    { "MNT_DETACH", MNT_DETACH },
    { "O_PATH", O_PATH },
  };
  for (const auto &e : table)
    c.Set (e.name, Napi::Number::New (env, e.value));
  return c;
}

} // namespace
} // namespace tspod

static Napi::Object
InitTspod (Napi::Env env, Napi::Object exports)
{
  using namespace tspod;
  exports.Set ("spawn", Napi::Function::New (env, Spawn, "spawn"));
  exports.Set ("unshare", Napi::Function::New (env, Unshare, "unshare"));
  exports.Set ("setns", Napi::Function::New (env, Setns, "setns"));
  exports.Set ("pidfdOpen", Napi::Function::New (env, PidfdOpen, "pidfdOpen"));
  exports.Set ("pidfdSendSignal", Napi::Function::New (env, PidfdSendSignal, "pidfdSendSignal"));
  exports.Set ("pipe", Napi::Function::New (env, Pipe, "pipe"));
  exports.Set ("flock", Napi::Function::New (env, Flock, "flock"));
  exports.Set ("socketInNetns", Napi::Function::New (env, SocketInNetns, "socketInNetns"));
  exports.Set ("sendDatagram", Napi::Function::New (env, SendDatagram, "sendDatagram"));
  exports.Set ("createUserNamespace", Napi::Function::New (env, CreateUserNamespace, "createUserNamespace"));
  exports.Set ("probeIdmappedMount", Napi::Function::New (env, ProbeIdmappedMount, "probeIdmappedMount"));
  exports.Set ("userNamespaceMaps", Napi::Function::New (env, UserNamespaceMaps, "userNamespaceMaps"));
  exports.Set ("openPty", Napi::Function::New (env, OpenPty, "openPty"));
  exports.Set ("setWindowSize", Napi::Function::New (env, SetWindowSize, "setWindowSize"));
  exports.Set ("mknod", Napi::Function::New (env, Mknod, "mknod"));
  exports.Set ("lsetxattr", Napi::Function::New (env, Lsetxattr, "lsetxattr"));
  exports.Set ("lgetxattr", Napi::Function::New (env, Lgetxattr, "lgetxattr"));
  exports.Set ("mount", Napi::Function::New (env, Mount, "mount"));
  exports.Set ("umount2", Napi::Function::New (env, Umount2, "umount2"));
  exports.Set ("openBeneath", Napi::Function::New (env, OpenBeneath, "openBeneath"));
  exports.Set ("compileSeccomp", Napi::Function::New (env, CompileSeccomp, "compileSeccomp"));
  exports.Set ("constants", Constants (env));
  ExitWatch::Init (env, exports);
  FdReader::Init (env, exports);
  return exports;
}

NODE_API_MODULE (tspod, InitTspod)
