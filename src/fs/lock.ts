// Locks between tspod processes: flock on a file in the state directory. The kernel drops a
// flock with the last fd of its open file, so a holder that dies never leaves a lock behind.
import { closeSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { TspodError } from '../errors.js';
import type { NativeBinding } from '../native/binding.js';

/** How long a lock is waited for, unless the caller says otherwise. */
const LOCK_TIMEOUT_MS = 60_000;

/**
 * Runs `fn` holding the lock on `path`. The lock is polled, never waited for in flock(2), so a
 * monitor's event loop (every pod's output, the API) never stops behind another command, and
 * two holders in one process cannot deadlock.
 */
export async function withLock<T>(
  binding: Pick<NativeBinding, 'flock'>,
  path: string,
  fn: () => Promise<T>,
  timeoutMs = LOCK_TIMEOUT_MS,
): Promise<T> {
  const fd = openSync(path, 'a', 0o600);
  try {
    const deadline = Date.now() + timeoutMs;
    while (!binding.flock(fd, true, false)) {
      if (Date.now() > deadline) {
        throw new TspodError(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${path}, held by another tspod`);
      }
      await sleep(10);
    }
    return await fn();
  } finally {
    closeSync(fd);
  }
}
