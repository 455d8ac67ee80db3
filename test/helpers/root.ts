// Shared set-up for tests that need root and real processes.
import { closeSync, openSync, readFileSync, copyFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { PodIO } from '../../src/runtime/io.js';

export const isRoot = process.geteuid?.() === 0;
export const NOT_ROOT = 'needs root: creates namespaces (run the suite as root, as CI does)';

/** A copy of a program at a path of the test's own, so its processes can be found by exe. */
export function uniqueCopy(dir: string, program: string, name: string): string {
  const path = join(dir, name);
  copyFileSync(program, path);
  chmodSync(path, 0o755);
  return path;
}

/** Pod IO writing each container's stdout and stderr to files: DIR/NAME.out, DIR/NAME.err. */
export class FileIO implements PodIO {
  constructor(private readonly dir: string) {}

  open(who: string | null) {
    const name = who ?? 'infra';
    const stdin = openSync('/dev/null', 'r');
    const out = openSync(join(this.dir, `${name}.out`), 'w');
    const err = openSync(join(this.dir, `${name}.err`), 'w');
    return {
      stdio: [stdin, out, err] as [number, number, number],
      release: () => [stdin, out, err].forEach((fd) => closeSync(fd)),
    };
  }

  async close(): Promise<void> {}

  output(name: string, stream: 'out' | 'err' = 'out'): string {
    try {
      return readFileSync(join(this.dir, `${name}.${stream}`), 'utf8');
    } catch {
      return '';
    }
  }
}
