// Argument checks for the addon's thin wrappers: a wrong type or an out-of-range number is a
// TypeError/RangeError naming the function and the argument, never a silent truncation.
#pragma once

#include <climits>
#include <cmath>
#include <napi.h>
#include <string>

namespace tspod {

inline int64_t
IntArg (const Napi::CallbackInfo &info, size_t i, const char *fn, const char *name, int64_t min = INT_MIN,
        int64_t max = INT_MAX)
{
  Napi::Env env = info.Env ();
  if (! info[i].IsNumber ())
    throw Napi::TypeError::New (env, std::string (fn) + ": " + name + " must be a number");
  double d = info[i].As<Napi::Number> ().DoubleValue ();
  if (! std::isfinite (d) || d != std::trunc (d) || d < (double) min || d > (double) max)
    throw Napi::RangeError::New (env, std::string (fn) + ": " + name + " must be an integer from " + std::to_string (min)
                                          + " to " + std::to_string (max));
  return (int64_t) d;
}

inline std::string
StringArg (const Napi::CallbackInfo &info, size_t i, const char *fn, const char *name)
{
  if (! info[i].IsString ())
    throw Napi::TypeError::New (info.Env (), std::string (fn) + ": " + name + " must be a string");
  std::string s = info[i].As<Napi::String> ().Utf8Value ();
  if (s.find ('\0') != std::string::npos)
    throw Napi::TypeError::New (info.Env (), std::string (fn) + ": " + name + " must not contain NUL");
  return s;
}

} // namespace tspod
