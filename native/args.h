// Argument checks for the addon: a wrong type or an out-of-range number is a TypeError or a
// RangeError naming the function and the argument ("spawn: fs[2].mode must be ..."), never a
// silent truncation. The wrappers check their call's arguments (IntArg, StringArg); spawn checks
// the fields of its request object with the same functions (IntValue, StringValue).
#pragma once

#include <climits>
#include <cmath>
#include <napi.h>
#include <string>

namespace tspod {

inline int64_t
IntValue (Napi::Env env, const Napi::Value &v, const std::string &fn, const std::string &name, int64_t min = INT_MIN,
          int64_t max = INT_MAX)
{
  if (! v.IsNumber ())
    throw Napi::TypeError::New (env, fn + ": " + name + " must be a number");
  double d = v.As<Napi::Number> ().DoubleValue ();
  if (! std::isfinite (d) || d != std::trunc (d) || d < (double) min || d > (double) max)
    throw Napi::RangeError::New (env, fn + ": " + name + " must be an integer from " + std::to_string (min) + " to "
                                          + std::to_string (max));
  return (int64_t) d;
}

inline std::string
StringValue (Napi::Env env, const Napi::Value &v, const std::string &fn, const std::string &name)
{
  if (! v.IsString ())
    throw Napi::TypeError::New (env, fn + ": " + name + " must be a string");
  std::string s = v.As<Napi::String> ().Utf8Value ();
  if (s.find ('\0') != std::string::npos)
    throw Napi::TypeError::New (env, fn + ": " + name + " must not contain NUL");
  return s;
}

// An object's field that must be an array (absent and not required: an empty one).
inline Napi::Array
ArrayValue (Napi::Env env, const Napi::Object &o, const std::string &fn, const std::string &key, bool required,
            const std::string &where = "")
{
  Napi::Value v = o.Get (key);
  if ((v.IsUndefined () || v.IsNull ()) && ! required)
    return Napi::Array::New (env, 0);
  if (! v.IsArray ())
    throw Napi::TypeError::New (env, fn + ": " + where + key + " must be an array");
  return v.As<Napi::Array> ();
}

inline int64_t
IntArg (const Napi::CallbackInfo &info, size_t i, const char *fn, const char *name, int64_t min = INT_MIN,
        int64_t max = INT_MAX)
{
  return IntValue (info.Env (), info[i], fn, name, min, max);
}

inline std::string
StringArg (const Napi::CallbackInfo &info, size_t i, const char *fn, const char *name)
{
  return StringValue (info.Env (), info[i], fn, name);
}

} // namespace tspod
