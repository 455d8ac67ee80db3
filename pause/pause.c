/*
 * pause: the infra process of a tspod pod.
 *
 * It is started first, in the pod's new namespaces, and holds them for as long as the pod
 * lives. As PID 1 of the pod's PID namespace it reaps every orphan that ends up there, and it
 * exits 0 on SIGINT or SIGTERM. It does nothing else and never wakes up when idle.
 *
 * It is built without libc (-nostdlib -static): the few system calls it makes go through
 * arch/<arch>.h, which also holds the entry point. That keeps it around a kilobyte and a
 * couple of pages of RSS, where the same job linked against static glibc is ~700 KB.
 *
 * Usage: pause [-r FD] | -v
 *   -r FD   write one byte to FD, then close it, once signals are set up (tspod's readiness
 *           handshake: until then a SIGTERM sent to a PID 1 is dropped by the kernel).
 *   -v      print the version and exit.
 */

#if defined(__x86_64__)
#  include "arch/x86_64.h"
#elif defined(__aarch64__)
#  include "arch/aarch64.h"
#else
#  error "pause: unsupported architecture (x86_64 and aarch64 only)"
#endif

#ifndef PAUSE_VERSION
#  define PAUSE_VERSION "unknown"
#endif

#define SIGINT 2
#define SIGKILL 9
#define SIGTERM 15
#define SIGCHLD 17
#define SIGSTOP 19
#define NSIG 64

#define SIG_SETMASK 2
#define SIG_DFL 0UL
#define SIG_IGN 1UL
#define WNOHANG 1
#define ENOSYS 38

/* Exit statuses: 0 is a requested stop; the others say which step failed. */
enum
{
  EXIT_STOPPED = 0,
  EXIT_USAGE = 1,
  EXIT_SIGNALS = 2,
};

/* The kernel's struct sigaction (not libc's): same layout on x86_64 and aarch64. */
struct ksigaction
{
  unsigned long handler;
  unsigned long flags;
  unsigned long restorer;
  unsigned long mask;
};

// Signal N is bit N-1 of a kernel sigset.
static inline unsigned long
sigbit (int sig)
{
  return 1UL << (sig - 1);
}

static unsigned long
cstrlen (const char *s)
{
  unsigned long n = 0;
  while (s[n])
    n++;
  return n;
}

static void
say (int fd, const char *msg)
{
  raw_syscall (SYS_write, fd, (long) msg, (long) cstrlen (msg), 0);
}

static __attribute__ ((noreturn)) void
leave (int status)
{
  for (;;)
    raw_syscall (SYS_exit_group, status, 0, 0, 0);
}

/* Parses a small non-negative decimal; -1 when it is not one. */
static int
parse_fd (const char *s)
{
  int v = 0;
  if (! *s)
    return -1;
  for (; *s; s++)
    {
      if (*s < '0' || *s > '9' || v > 100000)
        return -1;
      v = v * 10 + (*s - '0');
    }
  return v;
}

static int
streq (const char *a, const char *b)
{
  while (*a && *a == *b)
    a++, b++;
  return *a == *b;
}

static void
close_inherited_fds (int keep)
{
  /* close_range(2) is Linux 5.9+; older kernels get a bounded loop. */
  if (keep < 0)
    {
      if (raw_syscall (SYS_close_range, 3, ~0U, 0, 0) != -ENOSYS)
        return;
    }
  else
    {
      long r = keep > 3 ? raw_syscall (SYS_close_range, 3, keep - 1, 0, 0) : 0;
      if (r != -ENOSYS && raw_syscall (SYS_close_range, keep + 1, ~0U, 0, 0) != -ENOSYS)
        return;
    }
  for (int fd = 3; fd < 4096; fd++)
    if (fd != keep)
      raw_syscall (SYS_close, fd, 0, 0, 0);
}

static void
reap_all (void)
{
  while (raw_syscall (SYS_wait4, -1, 0, WNOHANG, 0) > 0)
    ;
}

__attribute__ ((used, noreturn)) void
pause_main (long *sp)
{
  int argc = (int) sp[0];
  char **argv = (char **) (sp + 1);
  int ready_fd = -1;

  /* Block everything first: a blocked signal is queued even for a PID 1 whose disposition is
     the default, so from here on nothing sent to us is lost. */
  unsigned long all = ~0UL;
  if (raw_syscall (SYS_rt_sigprocmask, SIG_SETMASK, (long) &all, 0, sizeof all) < 0)
    {
      say (2, "pause: rt_sigprocmask failed\n");
      leave (EXIT_SIGNALS);
    }

  for (int i = 1; i < argc; i++)
    {
      if (streq (argv[i], "-v"))
        {
          say (1, "pause (tspod) " PAUSE_VERSION "\n");
          leave (0);
        }
      else if (streq (argv[i], "-r") && i + 1 < argc && (ready_fd = parse_fd (argv[i + 1])) > 2)
        i++;
      else
        {
          say (2, "usage: pause [-r FD] | -v\n");
          leave (EXIT_USAGE);
        }
    }

  if (raw_syscall (SYS_getpid, 0, 0, 0, 0) != 1)
    say (2, "pause: warning: not running as PID 1, so it reaps only its own children\n");

  /* Dispositions survive execve only as SIG_IGN; set every one to a known state. The three we
     wait for stay SIG_DFL and blocked (SIG_IGN on SIGCHLD would auto-reap and never tell us). */
  const unsigned long waited = sigbit (SIGCHLD) | sigbit (SIGINT) | sigbit (SIGTERM);
  for (int sig = 1; sig <= NSIG; sig++)
    {
      if (sig == SIGKILL || sig == SIGSTOP)
        continue;
      struct ksigaction sa = { (waited & sigbit (sig)) ? SIG_DFL : SIG_IGN, 0, 0, 0 };
      raw_syscall (SYS_rt_sigaction, sig, (long) &sa, 0, sizeof sa.mask);
    }
  if (raw_syscall (SYS_rt_sigprocmask, SIG_SETMASK, (long) &waited, 0, sizeof waited) < 0)
    leave (EXIT_SIGNALS);

  /* Holding a directory would keep its mount busy for the life of the pod. */
  raw_syscall (SYS_chdir, (long) "/", 0, 0, 0);
  close_inherited_fds (ready_fd);

  if (ready_fd > 2)
    {
      raw_syscall (SYS_write, ready_fd, (long) "R", 1, 0);
      raw_syscall (SYS_close, ready_fd, 0, 0, 0);
    }

  /* Zombies that were already there before SIGCHLD was blocked still need a reap. */
  reap_all ();
  for (;;)
    {
      long sig = raw_syscall (SYS_rt_sigtimedwait, (long) &waited, 0, 0, sizeof waited);
      if (sig == SIGCHLD)
        reap_all ();
      else if (sig == SIGINT || sig == SIGTERM)
        leave (EXIT_STOPPED);
      /* -EINTR (after a SIGSTOP/SIGCONT) and anything else: wait again. */
    }
}
