// Host-wide state some tests compare before and after (iptables, links): test files run in
// parallel, so those files take a lock for their whole run.
import { closeSync, openSync } from 'node:fs';
import type { Test } from 'tap';
import { loadBinding } from '../../src/native/binding.js';
import { cleanup } from './cleanup.js';

export async function exclusive(t: Test, what: string): Promise<void> {
  const fd = openSync(`/tmp/tspod-tests-${what}.lock`, 'a', 0o600);
  const binding = loadBinding();
  while (!binding.flock(fd, true, false)) await new Promise((r) => setTimeout(r, 50));
  cleanup(t, `release the ${what} lock`, () => closeSync(fd));
}
