// Undoing what a test made. tap's own t.teardown runs teardowns last-registered first, but stops
// at the first that throws: the ones before it (a bridge, a mount, a process) would stay behind,
// and a teardown that catches its own errors hides them. Tests register through `cleanup`
// instead (the lint config forbids t.teardown under test/): every step runs, and every failure
// fails the test once all have run.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { mountsUnder } from './proc.js';

interface Step {
  what: string;
  fn: () => unknown;
}

/** A test's steps: `steps` last-registered first, then `last` (temporary directories) the same way. */
interface Scope {
  steps: Step[];
  last: Step[];
}

const scopes = new WeakMap<Test, Scope>();

/**
 * Runs `fn` when the test ends, pass or fail, after every cleanup registered later. Register it
 * before making the thing it undoes, so a failure halfway through making it is undone too.
 */
export function cleanup(t: Test, what: string, fn: () => unknown): void {
  scope(t).steps.push({ what, fn });
}

function scope(t: Test): Scope {
  let mine = scopes.get(t);
  if (!mine) {
    const s: Scope = (mine = { steps: [], last: [] });
    scopes.set(t, s);
    // eslint-disable-next-line no-restricted-syntax -- the one place tap's teardown is used
    t.teardown(async () => {
      const failed: string[] = [];
      for (const steps of [s.steps, s.last]) {
        for (let step = steps.pop(); step; step = steps.pop()) {
          try {
            await step.fn();
          } catch (err) {
            failed.push(`${step.what}: ${(err as Error).message}`);
          }
        }
      }
      if (failed.length) throw new Error(`cleanup failed: ${failed.join('; ')}`);
    });
  }
  return mine;
}

/**
 * A temporary directory removed when the test ends, pass or fail, after every other cleanup of the
 * test: a pod still running from it (its monitor may be making a container's mount points there
 * for a restart) or a mount on it is gone first, whichever was registered first.
 */
export function tempDir(t: Test, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tspod-${prefix}-`));
  scope(t).last.push({ what: `remove ${dir}`, fn: () => rmSync(dir, { recursive: true, force: true }) });
  return dir;
}

/** mount ARGS TARGET, with its unmount registered first: undone even if the test fails midway. */
export function mountFor(t: Test, target: string, ...args: string[]): void {
  cleanup(t, `unmount ${target}`, () => {
    // Lazily: a process of the test may still hold it; mounted twice, unmounted twice.
    while (mountsUnder(target).includes(target)) execFileSync('umount', ['-l', target]);
  });
  execFileSync('mount', [...args, target]);
}

const closed = new WeakMap<ChildProcess, Promise<unknown>>();

/** A child process killed (SIGKILL) when the test ends, if still running, and waited for. */
export function owned<C extends ChildProcess>(t: Test, child: C): C {
  // Listened for now: once the child has closed, 'close' does not come again.
  closed.set(child, new Promise((resolve) => child.once('close', resolve).once('error', resolve)));
  cleanup(t, `kill ${child.spawnfile} (pid ${child.pid})`, () => kill(child));
  return child;
}

/** SIGKILL for an owned child still running; resolves once it has closed. */
export async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await closed.get(child);
}

/** The sysctl (net/ipv4/ip_forward, say) put back at the end to what it is now. */
export function keepSysctl(t: Test, name: string): void {
  const path = `/proc/sys/${name}`;
  const value = readFileSync(path, 'utf8').trim();
  cleanup(t, `restore ${name}=${value}`, () => writeFileSync(path, value));
}
