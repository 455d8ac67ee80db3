/* The floor: the bench's pod cycle with nothing but the system calls a pod needs.
 *
 *   bench-floor PAUSE TCP PORT [CGROUP]
 *
 * One cycle: the infra (PAUSE -r 3) in new net, ipc, uts and pid namespaces, with a hostname
 * and lo up, ready when pause writes its byte; then two containers that join all four through
 * the infra's pidfd, each in a mount namespace of its own with a private / and a fresh /proc:
 * "TCP serve PORT" and "TCP connect PORT"; the client's exit status; then SIGTERM to the server
 * and to the infra, each waited for. The same steps as tspod's spawn path (native/), including
 * the intermediate process that a join into a PID namespace takes, and the report pipe whose
 * EOF says the exec happened: what is left between this and tspod is tspod's own overhead.
 * With CGROUP (a directory of the cgroup v2 hierarchy), tspod's cgroup steps too: a pod cgroup
 * below it with one for the infra and one per container, each process cloned into its own
 * (CLONE_INTO_CGROUP), each container in a cgroup namespace of its own, and the cgroups
 * removed at the end.
 *
 * Prints one JSON line of step times in milliseconds. Any failure: a message and status 1. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NS_POD (CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID)

static void
die (const char *what)
{
  fprintf (stderr, "bench-floor: %s: %s\n", what, strerror (errno));
  exit (1);
}

static double
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The cgroup directory fd a clone goes into; -1: none. */
static pid_t
clone3_ (uint64_t flags, int *pidfd, int cgroup)
{
  struct clone_args args = { 0 };
  args.flags = flags | (pidfd ? CLONE_PIDFD : 0) | (cgroup >= 0 ? CLONE_INTO_CGROUP : 0);
  args.pidfd = (uint64_t) (uintptr_t) pidfd;
  args.cgroup = cgroup >= 0 ? (uint64_t) cgroup : 0;
  /* clone3 takes no exit signal with CLONE_PARENT: the child gets the caller's own. */
  args.exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD;
  return (pid_t) syscall (SYS_clone3, &args, sizeof args);
}

/* 0-2 on /dev/null; every other fd closed at exec except `keep` (moved to 3 if given). */
static void
child_stdio (int keep)
{
  int null = open ("/dev/null", O_RDWR);
  if (null < 0)
    _exit (120);
  dup2 (null, 0);
  dup2 (null, 1);
  dup2 (null, 2);
  if (keep >= 0 && dup2 (keep, 3) < 0)
    _exit (120);
  syscall (SYS_close_range, keep >= 0 ? 4 : 3, ~0U, CLOSE_RANGE_CLOEXEC);
}

/* A cgroup made below `parent`, as an fd of its directory; -1 without cgroups. */
static int
make_cgroup (const char *parent, const char *name)
{
  if (! parent)
    return -1;
  char path[4096];
  snprintf (path, sizeof path, "%s/%s", parent, name);
  if (mkdir (path, 0755) < 0)
    die (path);
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    die (path);
  return fd;
}

static void
remove_cgroup (const char *parent, const char *name)
{
  char path[4096];
  snprintf (path, sizeof path, "%s/%s", parent, name);
  if (rmdir (path) < 0)
    die (path);
}

static int
start_infra (const char *pause, pid_t *pid, int cgroup)
{
  int ready[2], pidfd = -1;
  if (pipe2 (ready, O_CLOEXEC) < 0)
    die ("pipe2");
  *pid = clone3_ (NS_POD, &pidfd, cgroup);
  if (*pid < 0)
    die ("clone3 infra");
  if (*pid == 0)
    {
      if (sethostname ("floor", 5) < 0)
        _exit (121);
      int s = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      struct ifreq ifr = { 0 };
      memcpy (ifr.ifr_name, "lo", 3);
      if (s < 0 || ioctl (s, SIOCGIFFLAGS, &ifr) < 0)
        _exit (122);
      ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
      if (ioctl (s, SIOCSIFFLAGS, &ifr) < 0)
        _exit (122);
      close (s);
      setsid ();
      child_stdio (ready[1]);
      char *argv[] = { (char *) "pause", (char *) "-r", (char *) "3", NULL };
      char *envp[] = { NULL };
      execve (pause, argv, envp);
      _exit (127);
    }
  close (ready[1]);
  char byte;
  if (read (ready[0], &byte, 1) != 1)
    {
      errno = EPIPE;
      die ("pause did not get ready");
    }
  close (ready[0]);
  return pidfd;
}

/* A container: an intermediate joins the pod, then clones the process that runs TCP. */
static int
start_container (int infra_pidfd, char **argv, int cgroup)
{
  int report[2];
  if (pipe2 (report, O_CLOEXEC) < 0)
    die ("pipe2");
  pid_t mid = clone3_ (0, NULL, -1);
  if (mid < 0)
    die ("clone3 intermediate");
  if (mid == 0)
    {
      close (report[0]);
      if (setns (infra_pidfd, NS_POD) < 0)
        _exit (123);
      pid_t pid = clone3_ (CLONE_PARENT | CLONE_NEWNS, NULL, cgroup);
      if (pid == 0)
        {
          if (cgroup >= 0 && unshare (CLONE_NEWCGROUP) < 0)
            _exit (126);
          if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0
              || mount ("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
            _exit (124);
          setsid ();
          child_stdio (-1);
          char *envp[] = { (char *) "PATH=/usr/bin:/bin", NULL };
          execve (argv[0], argv, envp);
          _exit (127);
        }
      if (pid < 0 || write (report[1], &pid, sizeof pid) != sizeof pid)
        _exit (125);
      _exit (0);
    }
  close (report[1]);
  pid_t pid = -1;
  if (read (report[0], &pid, sizeof pid) != sizeof pid)
    {
      errno = EPIPE;
      die ("the intermediate did not report");
    }
  char eof;
  if (read (report[0], &eof, 1) != 0) /* EOF: the exec closed the last write end */
    die ("report pipe");
  close (report[0]);
  if (waitpid (mid, NULL, 0) < 0)
    die ("waitpid intermediate");
  int pidfd = (int) syscall (SYS_pidfd_open, pid, 0);
  if (pidfd < 0)
    die ("pidfd_open");
  return pidfd;
}

static int
wait_exit (int pidfd)
{
  siginfo_t info = { 0 };
  if (waitid (P_PIDFD, pidfd, &info, WEXITED) < 0)
    die ("waitid");
  close (pidfd);
  return info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
}

static void
stop (int pidfd)
{
  if (syscall (SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) < 0)
    die ("pidfd_send_signal");
  wait_exit (pidfd);
}

int
main (int argc, char **argv)
{
  if (argc != 4 && argc != 5)
    {
      fprintf (stderr, "usage: bench-floor PAUSE TCP PORT [CGROUP]\n");
      return 2;
    }
  char *server[] = { argv[2], (char *) "serve", argv[3], NULL };
  char *client[] = { argv[2], (char *) "connect", argv[3], NULL };
  char pod[4096];
  const char *cg = NULL;
  if (argc == 5)
    {
      snprintf (pod, sizeof pod, "%s/floor-%d", argv[4], (int) getpid ());
      cg = pod;
    }

  double t0 = now_ms ();
  if (cg && mkdir (cg, 0755) < 0)
    die (cg);
  int infra_cg = make_cgroup (cg, "infra");
  pid_t infra_pid;
  int infra = start_infra (argv[1], &infra_pid, infra_cg);
  double t1 = now_ms ();
  int srv_cg = make_cgroup (cg, "ctr-server");
  int srv = start_container (infra, server, srv_cg);
  double t2 = now_ms ();
  int cli_cg = make_cgroup (cg, "ctr-client");
  int cli = start_container (infra, client, cli_cg);
  double t3 = now_ms ();
  int status = wait_exit (cli);
  double t4 = now_ms ();
  stop (srv);
  stop (infra);
  if (cg)
    {
      close (infra_cg);
      close (srv_cg);
      close (cli_cg);
      remove_cgroup (cg, "ctr-client");
      remove_cgroup (cg, "ctr-server");
      remove_cgroup (cg, "infra");
      if (rmdir (cg) < 0)
        die (cg);
    }
  double t5 = now_ms ();
  if (status != 0)
    {
      fprintf (stderr, "bench-floor: the client exited with status %d\n", status);
      return 1;
    }
  printf ("{\"infra\":%.3f,\"join1\":%.3f,\"join2\":%.3f,\"client\":%.3f,\"teardown\":%.3f,\"total\":%.3f}\n", t1 - t0,
          t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0);
  return 0;
}
