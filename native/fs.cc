// File-system calls Node does not offer, for unpacking image layers into overlayfs form:
// mknod (a whiteout is a character device 0:0) and extended attributes
// (trusted.overlay.opaque marks an opaque directory).
#include "errors.h"
#include "ns.h"

#include <cerrno>
#include <string>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

namespace tspod {
namespace {

std::string
StringArg (const Napi::CallbackInfo &info, size_t i, const char *fn, const char *name)
{
  if (! info[i].IsString ())
    throw Napi::TypeError::New (info.Env (), std::string (fn) + ": " + name + " must be a string");
  return info[i].As<Napi::String> ().Utf8Value ();
}

} // namespace

// mknod(path, mode, major, minor): mode holds the type (S_IFCHR...) and the permission bits.
Napi::Value
Mknod (const Napi::CallbackInfo &info)
{
  std::string path = StringArg (info, 0, "mknod", "path");
  for (size_t i = 1; i <= 3; i++)
    if (! info[i].IsNumber ())
      throw Napi::TypeError::New (info.Env (), "mknod: mode, major and minor must be numbers");
  mode_t mode = info[1].As<Napi::Number> ().Uint32Value ();
  dev_t dev = makedev (info[2].As<Napi::Number> ().Uint32Value (), info[3].As<Napi::Number> ().Uint32Value ());
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

} // namespace tspod
