/* aarch64 system-call numbers (the generic table) and entry point for the libc-free pause. */
#define SYS_close 57
#define SYS_write 64
#define SYS_exit_group 94
#define SYS_rt_sigtimedwait 137
#define SYS_rt_sigaction 134
#define SYS_rt_sigprocmask 135
#define SYS_getpid 172
#define SYS_wait4 260
#define SYS_chdir 49
#define SYS_close_range 436

/* The asm reads as the registers it sets, one per line: kept as written. */
/* clang-format off */
static inline long
raw_syscall (long n, long a, long b, long c, long d)
{
  register long x8 __asm__ ("x8") = n;
  register long x0 __asm__ ("x0") = a;
  register long x1 __asm__ ("x1") = b;
  register long x2 __asm__ ("x2") = c;
  register long x3 __asm__ ("x3") = d;
  __asm__ volatile ("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
  return x0;
}

/* The kernel enters with argc at [sp], and sp already 16-byte aligned. */
__asm__ (".text\n"
         ".global _start\n"
         "_start:\n"
         "  mov x29, #0\n"
         "  mov x30, #0\n"
         "  mov x0, sp\n"
         "  bl pause_main\n"
         "  brk #0\n");
/* clang-format on */
