// The test runner inside the VM (test/vm/guest starts it, compiled to JavaScript by test/vm/run):
// what `tap FILE...` does for the root tests, without its TypeScript loader. Under qemu's TCG
// a Node process that loads the loader takes about 100 s to start, against 9 s for one that
// runs the same test compiled; the loader alone would eat CI's time. So each test file runs as
// `node FILE.js`, JOBS at a time, each with tap's per-file time limit; the suite's before and
// after scripts (package.json "tap") run around them, as tap runs them.
//
// Output is TAP 14, as tap's `tap` reporter writes it: each file a subtest with its own output
// (its stderr as comments), then a closing `# { total: T, pass: P, fail: F, ... }` that sums the
// files' own counts. A file that dies, times out or exits non-zero fails, counted once more
// if its own counts show no failure.
//
// Usage: node test/vm/guest-tap.js JOBS TIMEOUT_SECONDS FILE.ts...
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

interface Counts {
  total: number;
  pass: number;
  fail: number;
  skip: number;
  todo: number;
}

interface Result {
  file: string;
  ok: boolean;
  counts: Counts;
  output: string;
  ms: number;
}

const repo = resolve(__dirname, '../..');
const [jobsArg, timeoutArg, ...files] = process.argv.slice(2);
const jobs = Number(jobsArg);
const timeout = Number(timeoutArg);
if (!(jobs > 0) || !(timeout > 0) || !files.length) {
  console.error('usage: node test/vm/guest-tap.js JOBS TIMEOUT_SECONDS FILE.ts...');
  process.exit(2);
}

const js = (ts: string) => ts.replace(/\.ts$/, '.js');
const zero = (): Counts => ({ total: 0, pass: 0, fail: 0, skip: 0, todo: 0 });

/** The last `# { total: 3, pass: 2, fail: 1 }` a tap process printed at its top level. */
function countsOf(stdout: string): Counts | undefined {
  const line = stdout
    .split('\n')
    .filter((l) => /^# \{ total: \d+/.test(l))
    .pop();
  if (!line) return undefined;
  const counts = zero();
  for (const key of Object.keys(counts) as (keyof Counts)[]) {
    const m = new RegExp(`[{ ]${key}: (\\d+)`).exec(line);
    if (m) counts[key] = Number(m[1]);
  }
  return counts;
}

/**
 * Runs one file with node; tap's own timer ends a test file (TAP_TIMEOUT), SIGKILL a minute
 * later. A test file passes when it exits 0 with no failure counted; a script, when it exits 0.
 */
function runFile(file: string, test = true): Promise<Result> {
  const start = Date.now();
  return new Promise((done) => {
    // Source maps, as tap gives its test processes: stacks and excerpts name the .ts lines.
    const child = spawn(process.execPath, ['--enable-source-maps', js(file)], {
      cwd: repo,
      env: { ...process.env, TAP_TIMEOUT: String(timeout) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const kill = setTimeout(() => child.kill('SIGKILL'), (timeout + 60) * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(kill);
      const counts = test ? (countsOf(stdout) ?? zero()) : zero();
      const ok = code === 0 && counts.fail === 0;
      if (!ok && counts.fail === 0) {
        counts.fail += 1;
        counts.total += 1;
      }
      const why = code === 0 ? '' : `# ${file} exited with ${signal ? `signal ${signal}` : `status ${code}`}\n`;
      const err = stderr ? stderr.replace(/\n$/, '').replace(/^/gm, '# stderr: ') + '\n' : '';
      done({ file, ok, counts, output: stdout + err + why, ms: Date.now() - start });
    });
    child.on('error', (e) => {
      clearTimeout(kill);
      done({ file, ok: false, counts: { ...zero(), total: 1, fail: 1 }, output: `# ${e.message}\n`, ms: Date.now() - start });
    });
  });
}

/** package.json's tap.before or tap.after, run as its compiled JavaScript. */
async function script(which: 'before' | 'after'): Promise<Result | undefined> {
  const tap = (JSON.parse(readFileSync(`${repo}/package.json`, 'utf8')) as { tap?: Record<string, string> }).tap;
  return tap?.[which] ? runFile(tap[which], false) : undefined;
}

let n = 0;
const total = zero();
let failed = false;
function report(r: Result): void {
  n += 1;
  for (const key of Object.keys(total) as (keyof Counts)[]) total[key] += r.counts[key];
  failed ||= !r.ok;
  const body = r.output.replace(/\n$/, '').replace(/^(?=.)/gm, '    ');
  process.stdout.write(`# Subtest: ${r.file}\n${body}\n${r.ok ? 'ok' : 'not ok'} ${n} - ${r.file} # time=${r.ms}ms\n\n`);
  // The counts so far, in the closing line's form: if the VM dies, the runner has these.
  process.stdout.write(`${summary()}\n`);
}

function summary(): string {
  const keys = (Object.keys(total) as (keyof Counts)[]).filter((k) => k === 'total' || total[k] > 0);
  return `# { ${keys.map((k) => `${k}: ${total[k]}`).join(', ')} }`;
}

async function main(): Promise<void> {
  const start = Date.now();
  process.stdout.write('TAP version 14\n');
  const before = await script('before');
  // A before script that fails is reported; the files still run (tap runs them too).
  if (before && !before.ok) report(before);
  const queue = [...files];
  const worker = async () => {
    for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
      // A file's output comes when it ends, minutes later under TCG: say it began.
      process.stdout.write(`# ${f}: started\n`);
      report(await runFile(f));
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, files.length) }, worker));
  const after = await script('after');
  if (after && !after.ok) report(after);
  process.stdout.write(`1..${n}\n${summary()}\n# time=${Date.now() - start}ms\n`);
  process.exitCode = failed ? 1 : 0;
}

void main();
