// Pseudo-terminals, for `tspod exec -t`: tspod keeps the master and relays it to its own
// terminal; the command gets the slave as its stdio and, through spawn's controllingTerminal,
// as its controlling terminal. When to size it and what to relay is decided in TypeScript.
#include "args.h"
#include "errors.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

namespace tspod {
namespace {

[[noreturn]] void
CloseAndThrow (Napi::Env env, int fd, const char *syscall, const char *path)
{
  int err = errno;
  close (fd);
  ThrowErrno (env, err, syscall, path);
}

} // namespace

// openPty(): { master, slave, path }. Both fds are O_CLOEXEC (spawn's stdio dup2s are what
// hand the slave to a command) and O_NOCTTY: tspod may itself be a session leader without a
// terminal (setsid tspod ...), and opening one must not make it tspod's. The master is
// O_NONBLOCK because libuv reads it: it treats a pty master as a tty it cannot reopen, and a
// blocking fd would stall the event loop whenever a read fills its buffer exactly.
Napi::Value
OpenPty (const Napi::CallbackInfo &info)
{
  Napi::Env env = info.Env ();
  int master = open ("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
  if (master < 0)
    ThrowErrno (env, errno, "open", "/dev/ptmx");
  // grantpt() has nothing to do here: devpts gives the slave our uid and mode 0620 itself.
  int unlock = 0;
  if (ioctl (master, TIOCSPTLCK, &unlock) < 0)
    CloseAndThrow (env, master, "ioctl", "TIOCSPTLCK");
  unsigned int number;
  if (ioctl (master, TIOCGPTN, &number) < 0)
    CloseAndThrow (env, master, "ioctl", "TIOCGPTN");
  // TIOCGPTPEER (Linux 4.13) opens this master's own slave: no lookup of /dev/pts/N, which
  // could name a slave of another devpts instance mounted there.
  int slave = ioctl (master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0)
    CloseAndThrow (env, master, "ioctl", "TIOCGPTPEER");

  Napi::Object result = Napi::Object::New (env);
  result.Set ("master", Napi::Number::New (env, master));
  result.Set ("slave", Napi::Number::New (env, slave));
  result.Set ("path", Napi::String::New (env, "/dev/pts/" + std::to_string (number)));
  return result;
}

// setWindowSize(fd, cols, rows): TIOCSWINSZ on either side of a pty. The kernel sends SIGWINCH
// to the terminal's foreground process group when the size changes.
Napi::Value
SetWindowSize (const Napi::CallbackInfo &info)
{
  int fd = (int) IntArg (info, 0, "setWindowSize", "fd", 0);
  struct winsize ws = {};
  ws.ws_col = (unsigned short) IntArg (info, 1, "setWindowSize", "cols", 0, USHRT_MAX);
  ws.ws_row = (unsigned short) IntArg (info, 2, "setWindowSize", "rows", 0, USHRT_MAX);
  if (ioctl (fd, TIOCSWINSZ, &ws) < 0)
    ThrowErrno (info.Env (), errno, "ioctl", "TIOCSWINSZ");
  return info.Env ().Undefined ();
}

} // namespace tspod
