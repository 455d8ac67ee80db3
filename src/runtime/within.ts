// Waiting with a deadline: a stop's grace period, the drain of a pod's output, a terminal's.

/** Waits for `p`, at most `ms`; true when it settled in time. The timer never outlives the wait. */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
