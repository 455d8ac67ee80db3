// Runs the built tspod CLI (dist/) as a user would, collecting its output.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { resolve } from 'node:path';
import type { Test } from 'tap';
import { owned } from './cleanup.js';

export const repoRoot = resolve(__dirname, '../..') + '/';
export const cliPath = repoRoot + 'dist/cli/main.js';

export interface CliRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or 128 + signal). */
  done: Promise<number>;
}

/** How the CLI is started: spawn's options, and text for its stdin (else /dev/null). */
export type CliOptions = SpawnOptions & { input?: string };

/** Starts `tspod ARGS`; the teardown kills it (and so, by PDEATHSIG, its pod) if still running. */
export function startCli(t: Test, args: string[], opts: CliOptions = {}): CliRun {
  const { input, ...spawnOpts } = opts;
  // tap's spawn wrapper adds its instrumentation to NODE_OPTIONS: env(1) drops it before node
  // starts (and execs, so the pid stays tspod's).
  const argv = ['-u', 'NODE_OPTIONS', process.execPath, cliPath, ...args];
  const child = owned(
    t,
    spawn('/usr/bin/env', argv, {
      cwd: repoRoot,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      ...spawnOpts,
    }),
  );
  if (input !== undefined) child.stdin!.end(input);
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const done = new Promise<number>((resolve) =>
    child.on('close', (code, signal) => resolve(code ?? 128 + (signal ? osSignal(signal) : 0))),
  );
  return { child, stdout: () => out, stderr: () => err, done };
}

function osSignal(name: NodeJS.Signals): number {
  return ({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2 } as Record<string, number>)[name] ?? 0;
}

/** Runs `tspod ARGS` to the end. */
export async function runCli(t: Test, args: string[], opts: CliOptions = {}) {
  const run = startCli(t, args, opts);
  const code = await run.done;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}
