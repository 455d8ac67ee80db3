// The programs every tool of the bench runs: the static TCP workload, the C floor and the
// util-linux script, built from bench/ into bench/dist/bin on every run (a few hundred ms), so
// a stale binary can never be measured.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bundledPausePath } from 'tspod';

/** bench/, from bench/dist where this runs. */
const benchDir = join(__dirname, '..') + '/';
const binDir = `${benchDir}dist/bin`;

export interface Programs {
  /** tspod's pause, as built by npm ci. */
  pause: string;
  /** bench-tcp: serve PORT | connect PORT [FILE] (static). */
  tcp: string;
  /** bench-floor PAUSE TCP PORT: one pod cycle with raw system calls. */
  floor: string;
  /** pod.sh PAUSE TCP PORT: the same with unshare and nsenter. */
  shell: string;
  /** tspod's CLI entry, run as `node main.js` (what the tspod bin link runs). */
  cli: string;
}

function cc(out: string, source: string, extra: string[]): void {
  try {
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', ...extra, '-o', out, `${benchDir}${source}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`cc ${source}: ${e.stderr?.toString().trim() || e.message}`);
  }
}

export function buildPrograms(): Programs {
  mkdirSync(binDir, { recursive: true });
  // Static: the same exec cost for every tool, and it runs in any root file system.
  cc(`${binDir}/bench-tcp`, 'tcp.c', ['-static']);
  cc(`${binDir}/bench-floor`, 'floor.c', []);
  return {
    pause: bundledPausePath,
    tcp: `${binDir}/bench-tcp`,
    floor: `${binDir}/bench-floor`,
    shell: `${benchDir}pod.sh`,
    cli: join(benchDir, '../dist/cli/main.js'),
  };
}
