// The kubelet's crash back-off: how long a container that ended waits before its restart policy
// starts it again. A pure function of the last delay and of how long the container ran, so it
// can be tested alone and picked up again by a new supervisor from the saved record (backoffMs).

/** The first restart after initialMs, each later one twice the last, at most maxMs; a container
 *  that ran resetMs or longer starts over at initialMs. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
  resetMs: number;
}

/** The kubelet's: 10 s, doubling, at most 5 minutes, reset after 10 minutes of running. */
export const KUBELET_BACKOFF: Backoff = { initialMs: 10_000, maxMs: 300_000, resetMs: 600_000 };

/**
 * The delay before the next start. `lastDelayMs` is the delay before the run that just ended (0
 * before the first restart); `ranMs` how long that run lasted (an attempt that could not even
 * start ran 0 ms, so the back-off keeps growing).
 */
export function nextDelay(b: Backoff, lastDelayMs: number, ranMs: number): number {
  if (lastDelayMs === 0 || ranMs >= b.resetMs) return b.initialMs;
  return Math.min(lastDelayMs * 2, b.maxMs);
}

/** Time as the back-off sees it; tests pass a fake one. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};
