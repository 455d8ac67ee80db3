/* The workload of the bench's pod: a TCP server and a client that talk over the pod's loopback.
 *
 *   bench-tcp serve PORT            listen on 127.0.0.1:PORT; answer every connection "ok\n"
 *   bench-tcp http PORT             the same, as an HTTP/1.0 200 answer to whatever request comes
 *   bench-tcp connect PORT [FILE]   connect (retrying while nobody listens yet, up to 5 s),
 *                                   read "ok\n", exit 0; with FILE, also write "ok\n" to it
 *
 * Built static, so every tool execs the same program at the same cost, in any root. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in
loopback (const char *port)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((unsigned short) atoi (port)) };
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  return addr;
}

static const char HTTP_OK[] = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";

/* http: the request is read (one read: a probe's GET fits) before the answer, so the client
   never sees its request refused by a reset. */
static int
serve (const char *port, int http)
{
  struct sockaddr_in addr = loopback (port);
  int one = 1;
  int s = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0 || setsockopt (s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0
      || bind (s, (struct sockaddr *) &addr, sizeof addr) < 0 || listen (s, 64) < 0)
    {
      perror ("bench-tcp serve");
      return 1;
    }
  for (;;)
    {
      int c = accept4 (s, NULL, NULL, SOCK_CLOEXEC);
      if (c < 0)
        continue;
      char request[4096];
      if (http && read (c, request, sizeof request) < 0)
        perror ("bench-tcp http: read");
      if (http ? write (c, HTTP_OK, sizeof HTTP_OK - 1) < 0 : write (c, "ok\n", 3) < 0)
        perror ("bench-tcp serve: write");
      close (c);
    }
}

static int
connect_once (const char *port, const char *file)
{
  struct sockaddr_in addr = loopback (port);
  /* The server is started first but may not listen yet: ECONNREFUSED means try again. */
  for (int tries = 0; tries < 25000; tries++)
    {
      int s = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (s < 0)
        break;
      if (connect (s, (struct sockaddr *) &addr, sizeof addr) == 0)
        {
          char buf[8];
          ssize_t n = read (s, buf, sizeof buf);
          close (s);
          if (n != 3 || memcmp (buf, "ok\n", 3) != 0)
            {
              fprintf (stderr, "bench-tcp connect: unexpected answer\n");
              return 1;
            }
          if (file)
            {
              int fd = open (file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
              if (fd < 0 || write (fd, "ok\n", 3) != 3)
                {
                  perror (file);
                  return 1;
                }
              close (fd);
            }
          return 0;
        }
      int err = errno;
      close (s);
      if (err != ECONNREFUSED)
        {
          errno = err;
          break;
        }
      struct timespec pause = { 0, 200 * 1000 };
      nanosleep (&pause, NULL);
    }
  perror ("bench-tcp connect");
  return 1;
}

int
main (int argc, char **argv)
{
  if (argc >= 3 && strcmp (argv[1], "serve") == 0)
    return serve (argv[2], 0);
  if (argc >= 3 && strcmp (argv[1], "http") == 0)
    return serve (argv[2], 1);
  if (argc >= 3 && strcmp (argv[1], "connect") == 0)
    return connect_once (argv[2], argc > 3 ? argv[3] : NULL);
  fprintf (stderr, "usage: bench-tcp serve PORT | http PORT | connect PORT [FILE]\n");
  return 2;
}
