// Node-style errno errors, so failures from the addon look like fs errors:
//   EPERM: operation not permitted, setns '/proc/42/ns/net'
// with code 'EPERM', errno -1 (negative, as libuv and Node report it), syscall, and path.
#pragma once

#include <napi.h>

namespace tspod {

Napi::Error ErrnoError (Napi::Env env, int err, const char *syscall, const char *path = nullptr);

[[noreturn]] inline void
ThrowErrno (Napi::Env env, int err, const char *syscall, const char *path = nullptr)
{
  throw ErrnoError (env, err, syscall, path);
}

} // namespace tspod
