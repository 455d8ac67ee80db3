// File-system calls Node does not offer: for unpacking image layers into overlayfs form, mknod
// (a whiteout is a character device 0:0) and extended attributes (trusted.overlay.opaque marks
// an opaque directory); the supervisor's own mounts; reading beneath a directory (openat2).
#include "args.h"
#include "errors.h"
#include "ns.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace tspod {

// mknod(path, mode, major, minor): mode holds the type (S_IFCHR...) and the permission bits.
Napi::Value
Mknod (const Napi::CallbackInfo &info)
{
  std::string path = StringArg (info, 0, "mknod", "path");
  mode_t mode = (mode_t) IntArg (info, 1, "mknod", "mode", 0, UINT_MAX);
  dev_t dev = makedev ((unsigned) IntArg (info, 2, "mknod", "major", 0, UINT_MAX),
                       (unsigned) IntArg (info, 3, "mknod", "minor", 0, UINT_MAX));
  if (mknod (path.c_str (), mode, dev) < 0)
    ThrowErrno (info.Env (), errno, "mknod", path.c_str ());
  return info.Env ().Undefined ();
}

// lsetxattr(path, name, value): on the link itself, never through a symlink.
Napi::Value
Lsetxattr (const Napi::CallbackInfo &info)
{
  std::string path = StringArg (info, 0, "lsetxattr", "path");
  std::string name = StringArg (info, 1, "lsetxattr", "name");
  if (! info[2].IsBuffer ())
    throw Napi::TypeError::New (info.Env (), "lsetxattr: value must be a Buffer");
  Napi::Buffer<char> value = info[2].As<Napi::Buffer<char>> ();
  if (lsetxattr (path.c_str (), name.c_str (), value.Data (), value.Length (), 0) < 0)
    ThrowErrno (info.Env (), errno, "lsetxattr", path.c_str ());
  return info.Env ().Undefined ();
}

// lgetxattr(path, name): the value, or null when the attribute is not there.
Napi::Value
Lgetxattr (const Napi::CallbackInfo &info)
{
  std::string path = StringArg (info, 0, "lgetxattr", "path");
  std::string name = StringArg (info, 1, "lgetxattr", "name");
  char buf[4096];
  ssize_t n = lgetxattr (path.c_str (), name.c_str (), buf, sizeof buf);
  if (n < 0 && errno == ENODATA)
    return info.Env ().Null ();
  if (n < 0)
    ThrowErrno (info.Env (), errno, "lgetxattr", path.c_str ());
  return Napi::Buffer<char>::Copy (info.Env (), buf, (size_t) n);
}

// mount(source, target, fstype, flags, data): for the supervisor's own mounts (a pod's shared
// tmpfs), in its mount namespace; containers' mounts are spawn's file-system steps.
Napi::Value
Mount (const Napi::CallbackInfo &info)
{
  std::string source = StringArg (info, 0, "mount", "source");
  std::string target = StringArg (info, 1, "mount", "target");
  std::string fstype = StringArg (info, 2, "mount", "fstype");
  unsigned long flags = (unsigned long) IntArg (info, 3, "mount", "flags", 0, UINT_MAX);
  std::string data = info[4].IsUndefined () ? "" : StringArg (info, 4, "mount", "data");
  if (mount (source.c_str (), target.c_str (), fstype.empty () ? nullptr : fstype.c_str (), flags,
             data.empty () ? nullptr : data.c_str ())
      < 0)
    ThrowErrno (info.Env (), errno, "mount", target.c_str ());
  return info.Env ().Undefined ();
}

// openBeneath(dir, path): path opened read-only inside dir, the kernel refusing any way out of
// it (openat2 RESOLVE_BENEATH: no absolute symlink, no '..' above dir, no /proc magic link);
// symlinks that stay inside are followed. For reading an image directory a user hands to root.
Napi::Value
OpenBeneath (const Napi::CallbackInfo &info)
{
  std::string dir = StringArg (info, 0, "openBeneath", "dir");
  std::string path = StringArg (info, 1, "openBeneath", "path");
  int dirfd = open (dir.c_str (), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0)
    ThrowErrno (info.Env (), errno, "open", dir.c_str ());
  struct open_how how;
  memset (&how, 0, sizeof how);
  // O_NONBLOCK: a FIFO put there answers at once (the caller refuses what is not a file).
  how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  int fd = (int) syscall (SYS_openat2, dirfd, path.c_str (), &how, sizeof how);
  int err = errno;
  close (dirfd);
  if (fd < 0)
    ThrowErrno (info.Env (), err, "openat2", (dir + "/" + path).c_str ());
  return Napi::Number::New (info.Env (), fd);
}

// umount2(target, flags)
Napi::Value
Umount2 (const Napi::CallbackInfo &info)
{
  std::string target = StringArg (info, 0, "umount2", "target");
  int flags = (int) IntArg (info, 1, "umount2", "flags", 0);
  if (umount2 (target.c_str (), flags) < 0)
    ThrowErrno (info.Env (), errno, "umount2", target.c_str ());
  return info.Env ().Undefined ();
}

} // namespace tspod
