#pragma once

#include <napi.h>

namespace tspod {

Napi::Value Unshare (const Napi::CallbackInfo &info);
Napi::Value Setns (const Napi::CallbackInfo &info);
Napi::Value PidfdOpen (const Napi::CallbackInfo &info);
Napi::Value PidfdSendSignal (const Napi::CallbackInfo &info);
Napi::Value Pipe (const Napi::CallbackInfo &info);
Napi::Value Spawn (const Napi::CallbackInfo &info); // spawn.cc

} // namespace tspod
