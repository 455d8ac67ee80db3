// Exit notification without SIGCHLD: a uv_poll on the process's pidfd (readable once it has
// exited), then waitid(P_PIDFD) for its status. libuv only ever waits for its own pids, so this
// lives alongside child_process; and nothing here calls waitpid(-1).
#include "exit_watch.h"
#include "errors.h"

#include <cerrno>
#include <sys/wait.h>
#include <uv.h>

#ifndef P_PIDFD
#  define P_PIDFD 3
#endif

namespace tspod {

// The poll and the callback live here, apart from the JS wrapper: if JS drops the wrapper,
// the process is still watched and the callback still runs.
struct Watch
{
  uv_poll_t poll;
  napi_env env;
  int pidfd;
  Napi::FunctionReference callback;
  Napi::AsyncContext *context;
  bool closed;
  ExitWatch *owner;
};

namespace {

void
FreeWatch (uv_handle_t *handle)
{
  Watch *w = static_cast<Watch *> (handle->data);
  if (w->owner)
    w->owner->watch_ = nullptr;
  delete w->context;
  delete w;
}

void
Stop (Watch *w)
{
  if (w->closed)
    return;
  w->closed = true;
  uv_poll_stop (&w->poll);
  uv_close (reinterpret_cast<uv_handle_t *> (&w->poll), FreeWatch);
}

void
OnReadable (uv_poll_t *handle, int status, int events)
{
  Watch *w = static_cast<Watch *> (handle->data);
  Napi::Env env (w->env);
  Napi::HandleScope scope (env);
  Napi::Object result = Napi::Object::New (env);

  siginfo_t si = {};
  int rc = waitid ((idtype_t) P_PIDFD, (id_t) w->pidfd, &si, WEXITED | WNOHANG);
  if (rc == 0 && si.si_pid == 0)
    return; // not exited yet
  if (rc == 0)
    {
      bool exited = si.si_code == CLD_EXITED;
      result.Set ("code", exited ? Napi::Number::New (env, si.si_status) : env.Null ());
      result.Set ("signal", exited ? env.Null () : Napi::Number::New (env, si.si_status));
      result.Set ("coreDumped", Napi::Boolean::New (env, si.si_code == CLD_DUMPED));
    }
  else
    {
      // ECHILD: it has exited, but it is not our child (a process adopted after a restart of
      // its supervisor), so its status went to someone else.
      result.Set ("code", env.Null ());
      result.Set ("signal", env.Null ());
      result.Set ("coreDumped", Napi::Boolean::New (env, false));
      result.Set ("error", ErrnoError (env, errno, "waitid").Value ());
    }

  Napi::FunctionReference cb = std::move (w->callback);
  Napi::AsyncContext *context = w->context;
  w->context = nullptr;
  Stop (w);
  try
    {
      cb.MakeCallback (env.Global (), { result }, *context);
    }
  catch (const Napi::Error &e)
    {
      // A throw in onExit is the JS code's uncaught exception, as from any callback; a C++
      // exception escaping into libuv would abort the whole process instead.
      napi_fatal_exception (env, e.Value ());
    }
  delete context;
}

} // namespace

Napi::Object
ExitWatch::Init (Napi::Env env, Napi::Object exports)
{
  Napi::Function ctor
      = DefineClass (env, "ExitWatch",
                     { InstanceMethod ("ref", &ExitWatch::Ref), InstanceMethod ("unref", &ExitWatch::Unref),
                       InstanceMethod ("close", &ExitWatch::Close) });
  exports.Set ("ExitWatch", ctor);
  return exports;
}

// new ExitWatch(pidfd, onExit): onExit({ code, signal, coreDumped, error? }) is called once.
ExitWatch::ExitWatch (const Napi::CallbackInfo &info) : Napi::ObjectWrap<ExitWatch> (info)
{
  Napi::Env env = info.Env ();
  if (! info[0].IsNumber () || ! info[1].IsFunction ())
    throw Napi::TypeError::New (env, "ExitWatch(pidfd: number, onExit: function)");
  int pidfd = info[0].As<Napi::Number> ().Int32Value ();

  uv_loop_t *loop = nullptr;
  if (napi_get_uv_event_loop (env, &loop) != napi_ok)
    throw Napi::Error::New (env, "ExitWatch: no event loop");

  Watch *w = new Watch ();
  w->env = env;
  w->pidfd = pidfd;
  w->closed = false;
  w->owner = this;
  int rc = uv_poll_init (loop, &w->poll, pidfd);
  if (rc < 0)
    {
      delete w;
      ThrowErrno (env, -rc, "uv_poll_init", "pidfd");
    }
  w->poll.data = w;
  w->callback = Napi::Persistent (info[1].As<Napi::Function> ());
  w->context = new Napi::AsyncContext (env, "tspod.ExitWatch");
  uv_poll_start (&w->poll, UV_READABLE, OnReadable);
  watch_ = w;
}

ExitWatch::~ExitWatch ()
{
  if (watch_)
    watch_->owner = nullptr;
}

static Watch *
AsWatch (Watch *w)
{
  return w && ! w->closed ? w : nullptr;
}

Napi::Value
ExitWatch::Ref (const Napi::CallbackInfo &info)
{
  if (Watch *w = AsWatch (watch_))
    uv_ref (reinterpret_cast<uv_handle_t *> (&w->poll));
  return info.This ();
}

Napi::Value
ExitWatch::Unref (const Napi::CallbackInfo &info)
{
  if (Watch *w = AsWatch (watch_))
    uv_unref (reinterpret_cast<uv_handle_t *> (&w->poll));
  return info.This ();
}

// Stops watching without calling back (the pidfd stays open: it belongs to the caller).
Napi::Value
ExitWatch::Close (const Napi::CallbackInfo &info)
{
  if (Watch *w = AsWatch (watch_))
    Stop (w);
  return info.Env ().Undefined ();
}

} // namespace tspod
