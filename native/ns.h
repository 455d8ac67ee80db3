#pragma once

#include <napi.h>

namespace tspod {

Napi::Value Unshare (const Napi::CallbackInfo &info);
Napi::Value Setns (const Napi::CallbackInfo &info);
Napi::Value PidfdOpen (const Napi::CallbackInfo &info);
Napi::Value PidfdSendSignal (const Napi::CallbackInfo &info);
Napi::Value Pipe (const Napi::CallbackInfo &info);
Napi::Value Flock (const Napi::CallbackInfo &info);
Napi::Value SocketInNetns (const Napi::CallbackInfo &info);
Napi::Value SendDatagram (const Napi::CallbackInfo &info);
Napi::Value CreateUserNamespace (const Napi::CallbackInfo &info);
Napi::Value ProbeIdmappedMount (const Napi::CallbackInfo &info);
Napi::Value UserNamespaceMaps (const Napi::CallbackInfo &info);
Napi::Value Spawn (const Napi::CallbackInfo &info);          // spawn.cc
Napi::Value OpenPty (const Napi::CallbackInfo &info);        // pty.cc
Napi::Value SetWindowSize (const Napi::CallbackInfo &info);  // pty.cc
Napi::Value Mknod (const Napi::CallbackInfo &info);          // fs.cc
Napi::Value Lsetxattr (const Napi::CallbackInfo &info);      // fs.cc
Napi::Value Lgetxattr (const Napi::CallbackInfo &info);      // fs.cc
Napi::Value Mount (const Napi::CallbackInfo &info);          // fs.cc
Napi::Value Umount2 (const Napi::CallbackInfo &info);        // fs.cc
Napi::Value OpenBeneath (const Napi::CallbackInfo &info);    // fs.cc
Napi::Value CompileSeccomp (const Napi::CallbackInfo &info); // seccomp.cc

} // namespace tspod
