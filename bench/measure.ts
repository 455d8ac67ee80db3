// Timing, statistics and memory readings for the bench. Every number the bench reports comes
// from here: medians of repeated runs, and RSS/PSS as the kernel counts them.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { SupervisorLog } from 'tspod';

export interface Stats {
  runs: number;
  failures: number;
  median: number;
  min: number;
  max: number;
}

/** Samples of one measurement; a failed run is counted, not timed. */
export class Samples {
  readonly values: number[] = [];
  failures = 0;
  lastError: string | undefined;

  add(ms: number): void {
    this.values.push(ms);
  }

  fail(err: unknown): void {
    this.failures++;
    this.lastError = err instanceof Error ? err.message : String(err);
  }

  stats(): Stats {
    const v = [...this.values].sort((a, b) => a - b);
    const mid = v.length >> 1;
    const median = v.length === 0 ? NaN : v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
    return { runs: v.length, failures: this.failures, median, min: v[0] ?? NaN, max: v[v.length - 1] ?? NaN };
  }
}

/** Named samples: one per step of a scenario ("infra", "join1", ..., "total"). */
export class StepSamples {
  readonly steps = new Map<string, Samples>();

  of(step: string): Samples {
    let s = this.steps.get(step);
    if (!s) this.steps.set(step, (s = new Samples()));
    return s;
  }

  addAll(times: Record<string, number>): void {
    for (const [step, ms] of Object.entries(times)) this.of(step).add(ms);
  }

  stats(): Record<string, Stats> {
    return Object.fromEntries([...this.steps].map(([k, s]) => [k, s.stats()]));
  }
}

export const now = (): number => performance.now();

/** What a PodHost in the bench process has to say, on the bench's stderr. */
export const benchLog: SupervisorLog = {
  info: (pod, message) => process.stderr.write(`bench: pod ${pod}: ${message}\n`),
  warn: (pod, message) => process.stderr.write(`bench: pod ${pod}: ${message}\n`),
};

/** The environment every measured command gets: the caller's, without Node debugging hooks. */
export function benchEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  return env;
}

/** Runs a command to its end; its wall time in ms. Throws with its stderr when it fails. */
export function timeCommand(argv: string[], env: NodeJS.ProcessEnv, input?: string): { ms: number; stdout: string } {
  const start = now();
  const r = spawnSync(argv[0], argv.slice(1), { env, input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  const ms = now() - start;
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new Error(`${argv.join(' ')}: exit ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  }
  return { ms, stdout: r.stdout };
}

/** Sleeps the thread, without timers: for polling from synchronous code. */
export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export interface Memory {
  rssKb: number;
  pssKb: number;
}

/** RSS and PSS of a process, from /proc/PID/smaps_rollup; zero for one that is gone. */
export function memoryOf(pid: number): Memory {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    return { rssKb: field('Rss'), pssKb: field('Pss') };
  } catch {
    return { rssKb: 0, pssKb: 0 };
  }
}

export function sumMemory(pids: number[]): Memory {
  return pids.map(memoryOf).reduce((a, m) => ({ rssKb: a.rssKb + m.rssKb, pssKb: a.pssKb + m.pssKb }), { rssKb: 0, pssKb: 0 });
}

/** Children of a process, from /proc (the kernel's list, no ps). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
