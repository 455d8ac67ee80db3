#pragma once

#include <napi.h>

namespace tspod {

struct Watch;

// JS: new ExitWatch(pidfd, onExit) with ref(), unref(), close().
class ExitWatch : public Napi::ObjectWrap<ExitWatch>
{
public:
  static Napi::Object Init (Napi::Env env, Napi::Object exports);
  explicit ExitWatch (const Napi::CallbackInfo &info);
  ~ExitWatch () override;

  Watch *watch_ = nullptr; // cleared when the poll handle is freed

private:
  Napi::Value Ref (const Napi::CallbackInfo &info);
  Napi::Value Unref (const Napi::CallbackInfo &info);
  Napi::Value Close (const Napi::CallbackInfo &info);
};

} // namespace tspod
