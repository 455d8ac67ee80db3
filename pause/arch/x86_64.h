/* x86_64 system-call numbers and entry point for the libc-free pause. */
#define SYS_write 1
#define SYS_close 3
#define SYS_rt_sigaction 13
#define SYS_rt_sigprocmask 14
#define SYS_getpid 39
#define SYS_wait4 61
#define SYS_chdir 80
#define SYS_rt_sigtimedwait 128
#define SYS_exit_group 231
#define SYS_close_range 436

/* The asm reads as the registers it sets, one per line: kept as written. */
/* clang-format off */
static inline long
raw_syscall (long n, long a, long b, long c, long d)
{
  long ret;
  register long r10 __asm__ ("r10") = d;
  __asm__ volatile ("syscall"
                    : "=a"(ret)
                    : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                    : "rcx", "r11", "memory");
  return ret;
}

/* The kernel enters with argc at (%rsp); the ABI wants a 16-byte aligned stack at the call. */
__asm__ (".text\n"
         ".global _start\n"
         "_start:\n"
         "  xor %ebp, %ebp\n"
         "  mov %rsp, %rdi\n"
         "  and $-16, %rsp\n"
         "  call pause_main\n"
         "  hlt\n");
/* clang-format on */
