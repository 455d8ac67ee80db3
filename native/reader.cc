// Reading a non-blocking fd to its true end: a uv_poll, then read() until it would block, each
// chunk handed to JS; the end is read() giving 0 or EIO, never a POLLHUP alone.
//
// Why not a libuv stream (tty.ReadStream): libuv takes a POLLHUP seen after a short read for
// the end of the stream. On a pty master, POLLHUP comes as soon as the last slave fd closes,
// while what the command wrote just before it exited may still be in the terminal's buffers
// (up to 64 kB of them): that output was lost, the more often the busier the machine. read()
// on the master gives EIO only once nothing is left (n_tty flushes pending input first).
#include "reader.h"
#include "errors.h"

#include <cerrno>
#include <unistd.h>
#include <uv.h>

namespace tspod {

// The poll and the callbacks live here, apart from the JS wrapper, as in exit_watch.cc.
struct Reading
{
  uv_poll_t poll;
  napi_env env;
  int fd;
  Napi::FunctionReference on_data, on_end;
  Napi::AsyncContext *context;
  bool paused, closed;
  FdReader *owner;
  char buf[64 * 1024]; // on the heap with the rest: not on the stack under the callbacks
};

namespace {

// Reads per poll event, so that one busy fd never holds the event loop for long.
constexpr int kReadsPerEvent = 16;

void
FreeReading (uv_handle_t *handle)
{
  Reading *r = static_cast<Reading *> (handle->data);
  if (r->owner)
    r->owner->reading_ = nullptr;
  delete r->context;
  delete r;
}

void
Stop (Reading *r)
{
  if (r->closed)
    return;
  r->closed = true;
  uv_poll_stop (&r->poll);
  uv_close (reinterpret_cast<uv_handle_t *> (&r->poll), FreeReading);
}

// Calls into JS; a throw there is JS's uncaught exception, never a C++ one into libuv.
void
Call (Reading *r, const Napi::FunctionReference &fn, const std::initializer_list<napi_value> &args)
{
  try
    {
      fn.MakeCallback (Napi::Env (r->env).Global (), args, *r->context);
    }
  catch (const Napi::Error &e)
    {
      napi_fatal_exception (r->env, e.Value ());
    }
}

void
End (Reading *r, int err)
{
  Napi::Env env (r->env);
  Napi::HandleScope scope (env);
  Napi::FunctionReference on_end = std::move (r->on_end);
  Napi::AsyncContext *context = r->context;
  r->context = nullptr;
  Stop (r);
  // EIO is how a pty master ends once the other side is closed and read empty.
  Napi::Value error = err == 0 || err == EIO ? env.Null () : ErrnoError (env, err, "read").Value ();
  try
    {
      on_end.MakeCallback (env.Global (), { error }, *context);
    }
  catch (const Napi::Error &e)
    {
      napi_fatal_exception (env, e.Value ());
    }
  delete context;
}

void
OnEvent (uv_poll_t *handle, int status, int events)
{
  Reading *r = static_cast<Reading *> (handle->data);
  if (status < 0)
    return End (r, -status);
  for (int i = 0; i < kReadsPerEvent && ! r->closed && ! r->paused; i++)
    {
      ssize_t n = read (r->fd, r->buf, sizeof r->buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
      if (n <= 0)
        return End (r, n == 0 ? 0 : errno);
      Napi::Env env (r->env);
      Napi::HandleScope scope (env);
      Call (r, r->on_data, { Napi::Buffer<char>::Copy (env, r->buf, (size_t) n) });
    }
}

} // namespace

Napi::Object
FdReader::Init (Napi::Env env, Napi::Object exports)
{
  Napi::Function ctor
      = DefineClass (env, "FdReader",
                     { InstanceMethod ("pause", &FdReader::Pause), InstanceMethod ("resume", &FdReader::Resume),
                       InstanceMethod ("close", &FdReader::Close) });
  exports.Set ("FdReader", ctor);
  return exports;
}

// new FdReader(fd, onData(chunk), onEnd(error | null)): fd must be non-blocking; it stays the
// caller's to close, after close() or onEnd.
FdReader::FdReader (const Napi::CallbackInfo &info) : Napi::ObjectWrap<FdReader> (info)
{
  Napi::Env env = info.Env ();
  if (! info[0].IsNumber () || ! info[1].IsFunction () || ! info[2].IsFunction ())
    throw Napi::TypeError::New (env, "FdReader(fd: number, onData: function, onEnd: function)");
  uv_loop_t *loop = nullptr;
  if (napi_get_uv_event_loop (env, &loop) != napi_ok)
    throw Napi::Error::New (env, "FdReader: no event loop");
  Reading *r = new Reading ();
  r->env = env;
  r->fd = info[0].As<Napi::Number> ().Int32Value ();
  r->owner = this;
  int rc = uv_poll_init (loop, &r->poll, r->fd);
  if (rc < 0)
    {
      delete r;
      ThrowErrno (env, -rc, "uv_poll_init", "fd");
    }
  r->poll.data = r;
  r->on_data = Napi::Persistent (info[1].As<Napi::Function> ());
  r->on_end = Napi::Persistent (info[2].As<Napi::Function> ());
  r->context = new Napi::AsyncContext (env, "tspod.FdReader");
  uv_poll_start (&r->poll, UV_READABLE | UV_DISCONNECT, OnEvent);
  reading_ = r;
}

FdReader::~FdReader ()
{
  if (reading_)
    reading_->owner = nullptr;
}

static Reading *
Active (Reading *r)
{
  return r && ! r->closed ? r : nullptr;
}

// Stops reading until resume(): what the fd holds waits there (the writer is slowed).
Napi::Value
FdReader::Pause (const Napi::CallbackInfo &info)
{
  if (Reading *r = Active (reading_))
    {
      r->paused = true;
      uv_poll_stop (&r->poll);
    }
  return info.Env ().Undefined ();
}

Napi::Value
FdReader::Resume (const Napi::CallbackInfo &info)
{
  if (Reading *r = Active (reading_); r && r->paused)
    {
      r->paused = false;
      uv_poll_start (&r->poll, UV_READABLE | UV_DISCONNECT, OnEvent);
    }
  return info.Env ().Undefined ();
}

// Stops reading for good, without calling onEnd; the fd stays open (the caller's).
Napi::Value
FdReader::Close (const Napi::CallbackInfo &info)
{
  if (Reading *r = Active (reading_))
    Stop (r);
  return info.Env ().Undefined ();
}

} // namespace tspod
