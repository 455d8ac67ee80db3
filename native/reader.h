#pragma once

#include <napi.h>

namespace tspod {

struct Reading;

// JS: new FdReader(fd, onData, onEnd) with pause(), resume(), close().
class FdReader : public Napi::ObjectWrap<FdReader>
{
public:
  static Napi::Object Init (Napi::Env env, Napi::Object exports);
  explicit FdReader (const Napi::CallbackInfo &info);
  ~FdReader () override;

  Reading *reading_ = nullptr; // cleared when the poll handle is freed

private:
  Napi::Value Pause (const Napi::CallbackInfo &info);
  Napi::Value Resume (const Napi::CallbackInfo &info);
  Napi::Value Close (const Napi::CallbackInfo &info);
};

} // namespace tspod
