#include "errors.h"

#include <cctype>
#include <cstring>
#include <string>
#include <uv.h>

namespace tspod {

Napi::Error
ErrnoError (Napi::Env env, int err, const char *syscall, const char *path)
{
  // libuv's names and texts are the ones Node prints; errnos libuv does not know
  // (EUSERS, say) fall back to glibc's.
  char name[64], text[128];
  uv_err_name_r (-err, name, sizeof name);
  uv_strerror_r (-err, text, sizeof text);
  if (strncmp (name, "Unknown", 7) == 0)
    {
      const char *gname = strerrorname_np (err);
      snprintf (name, sizeof name, "%s", gname ? gname : "EUNKNOWN");
      snprintf (text, sizeof text, "%s", strerror (err));
      text[0] = (char) tolower ((unsigned char) text[0]);
    }

  std::string message = std::string (name) + ": " + text + ", " + syscall;
  if (path)
    message += std::string (" '") + path + "'";

  Napi::Error error = Napi::Error::New (env, message);
  Napi::Object obj = error.Value ();
  obj.Set ("errno", Napi::Number::New (env, -err));
  obj.Set ("code", Napi::String::New (env, name));
  obj.Set ("syscall", Napi::String::New (env, syscall));
  if (path)
    obj.Set ("path", Napi::String::New (env, path));
  return error;
}

} // namespace tspod
