import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CriLogWriter, MAX_LINE, anchoredClock, criTimestamp, parseCriLine } from '../../src/logs/cri.js';
import { followLog, logFiles, readLog, type LogLine } from '../../src/logs/reader.js';
import { logs } from '../../src/cli/logs.js';
import { runCli } from '../helpers/cli.js';
import { startTimeOf } from '../../src/native/identity.js';
import { StateStore } from '../../src/state/store.js';
import type { ProcessId } from '../../src/native/identity.js';
import { RECORD_VERSION, type ContainerRecord } from '../../src/state/records.js';
import { cleanup, owned, tempDir } from '../helpers/cleanup.js';

const TS = '2026-11-26T21:42:48.123456789Z';

function logPath(t: Test): string {
  const dir = tempDir(t, 'logs');
  return join(dir, 'c.log');
}

/** A writer with a fixed clock, closed when the test ends. */
function writer(t: Test, path: string, opts: { maxBytes?: number; maxFiles?: number } = {}): CriLogWriter {
  const w = new CriLogWriter(path, { ...opts, now: () => TS });
  cleanup(t, 'close the writer', () => w.close());
  return w;
}

const texts = (lines: LogLine[]) => lines.map((l) => `${l.stream}:${l.text}`);

t.test('the exact CRI line format', async (t) => {
  const path = logPath(t);
  const w = writer(t, path);
  w.write('stdout', 'hello world\n\n');
  w.write('stderr', Buffer.from('oops\n'));
  t.equal(readFileSync(path, 'utf8'), `${TS} stdout F hello world\n${TS} stdout F \n${TS} stderr F oops\n`);
  t.same(readLog(path), [
    { time: TS, stream: 'stdout', text: 'hello world' },
    { time: TS, stream: 'stdout', text: '' },
    { time: TS, stream: 'stderr', text: 'oops' },
  ]);
});

t.test('the default clock: RFC 3339 with nanoseconds, UTC, never going back', async (t) => {
  t.equal(criTimestamp(1_795_729_368_123_456_789n), '2026-11-26T21:42:48.123456789Z');
  t.equal(criTimestamp(1_795_729_368_000_000_005n), '2026-11-26T21:42:48.000000005Z');
  const path = logPath(t);
  const w = new CriLogWriter(path);
  cleanup(t, 'close the writer', () => w.close());
  for (let i = 0; i < 200; i++) w.write(i % 2 ? 'stderr' : 'stdout', `${i}\n`);
  const times = readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => parseCriLine(l)!.time);
  t.equal(times.length, 200);
  t.ok(
    times.every((time) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/.test(time)),
    'every timestamp has nine digits of fraction and a Z',
  );
  t.ok(
    times.every((time, i) => i === 0 || time >= times[i - 1]),
    'non-decreasing',
  );
});

t.test('the clock follows the monotonic one from its anchor, and is anchored again when the wall clock steps', async (t) => {
  // Clocks in the test's hands: wall and monotonic, in milliseconds.
  let wall = 1_795_729_368_000;
  let mono = 0;
  const clock = anchoredClock(
    () => wall,
    () => mono,
    wall,
  );
  t.equal(clock(), 1_795_729_368_000_000_000n, 'at the anchor: the wall clock');
  mono = 0.000_001; // one nanosecond later
  t.equal(clock(), 1_795_729_368_000_000_001n, 'nanoseconds from the monotonic clock');
  wall += 900; // the wall clock drifts ahead by 0.9 s: within a second, no new anchor
  t.equal(clock(), 1_795_729_368_000_000_001n);
  wall += 200; // 1.1 s ahead: a step, anchored again on the wall clock
  t.equal(clock(), 1_795_729_369_100_000_000n);
  mono += 1; // a millisecond later on the monotonic clock
  t.equal(clock(), 1_795_729_369_101_000_000n);
  wall -= 60_000; // stepped back a minute: anchored again, but an entry never goes back
  t.equal(clock(), 1_795_729_369_101_000_000n, 'held at the last timestamp');
  // Once the new anchor has caught up, it moves on from there.
  mono += 60_002;
  wall += 60_002;
  t.equal(clock(), 1_795_729_369_102_000_000n);
});

t.test('interleaved streams keep their own order and tags; unfinished lines wait', async (t) => {
  const path = logPath(t);
  const w = writer(t, path);
  w.write('stdout', 'o1\no2-');
  w.write('stderr', 'e1-');
  t.same(texts(readLog(path)), ['stdout:o1'], 'nothing of an unfinished line is written');
  w.write('stderr', 'end\ne2\n');
  w.write('stdout', 'end\n');
  t.same(texts(readLog(path)), ['stdout:o1', 'stderr:e1-end', 'stderr:e2', 'stdout:o2-end']);
});

t.test('end() flushes a last line without a newline; close() ends both streams', async (t) => {
  const path = logPath(t);
  const w = new CriLogWriter(path, { now: () => TS });
  w.write('stdout', 'no newline');
  w.write('stderr', 'err tail');
  w.end('stdout');
  w.end('stdout');
  t.same(texts(readLog(path)), ['stdout:no newline']);
  w.write('stdout', 'again\n');
  w.close();
  w.close();
  t.same(texts(readLog(path)), ['stdout:no newline', 'stdout:again', 'stderr:err tail']);
  t.throws(() => w.write('stdout', 'late\n'), /closed/);
});

t.test('a 40 KiB line becomes P, P, F chunks and reads back as one line', async (t) => {
  const path = logPath(t);
  const w = writer(t, path);
  const long = Array.from({ length: 40 * 1024 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
  // Written in small pieces, and interleaved with the other stream.
  for (let i = 0; i < long.length; i += 1000) {
    w.write('stdout', long.slice(i, i + 1000));
    if (i === 20000) w.write('stderr', 'between\n');
  }
  w.write('stdout', '\nshort\n');
  const entries = readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => parseCriLine(l)!);
  t.same(
    entries.map((e) => `${e.stream} ${e.partial ? 'P' : 'F'} ${e.text.length}`),
    [`stdout P ${MAX_LINE}`, 'stderr F 7', `stdout P ${MAX_LINE}`, `stdout F ${40 * 1024 - 2 * MAX_LINE}`, 'stdout F 5'],
  );
  t.same(texts(readLog(path)), ['stderr:between', `stdout:${long}`, 'stdout:short']);
});

t.test('chunks never cut a UTF-8 character', async (t) => {
  const path = logPath(t);
  const w = writer(t, path);
  const line = 'x' + '€'.repeat(MAX_LINE); // 3 bytes each: a boundary falls inside one
  w.write('stdout', line + '\n');
  const entries = readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => parseCriLine(l)!);
  t.ok(entries.length >= 4, 'several chunks');
  t.notOk(
    entries.some((e) => e.text.includes('\ufffd')),
    'every chunk is valid UTF-8',
  );
  t.ok(entries.every((e) => Buffer.byteLength(e.text) <= MAX_LINE));
  t.equal(readLog(path)[0].text, line);
});

t.test('rotation keeps at most maxFiles files and drops the oldest', async (t) => {
  const path = logPath(t);
  const entry = Buffer.byteLength(`${TS} stdout F line-00\n`);
  const w = writer(t, path, { maxBytes: entry * 3, maxFiles: 3 });
  for (let i = 0; i < 20; i++) w.write('stdout', `line-${String(i).padStart(2, '0')}\n`);
  t.same(readdirSync(join(path, '..')).sort(), ['c.log', 'c.log.1', 'c.log.2']);
  t.same(logFiles(path), [`${path}.2`, `${path}.1`, path], 'oldest first');
  t.ok(logFiles(path).every((f) => readFileSync(f).length <= entry * 3));
  const want = Array.from({ length: 20 }, (_, i) => `stdout:line-${String(i).padStart(2, '0')}`);
  t.same(texts(readLog(path)), want.slice(-8), 'the surviving lines, in order');
  t.same(texts(readLog(path, { tail: 5 })), want.slice(-5), 'tail across rotated files');
  t.same(readLog(path, { tail: 0 }), []);
  t.same(texts(readLog(path, { tail: 100 })), want.slice(-8));
});

t.test('rotation: an oversized entry gets a file of its own; the size survives a reopen', async (t) => {
  const path = logPath(t);
  const w1 = new CriLogWriter(path, { maxBytes: 100, maxFiles: 2, now: () => TS });
  w1.write('stdout', 'a\n');
  w1.close();
  const w2 = writer(t, path, { maxBytes: 100, maxFiles: 2 });
  w2.write('stdout', 'b\n');
  t.same(logFiles(path), [path], 'reopened: appended to the same file');
  w2.write('stdout', 'x'.repeat(200) + '\n');
  t.same(logFiles(path), [`${path}.1`, path]);
  t.equal(readFileSync(`${path}.1`, 'utf8'), `${TS} stdout F a\n${TS} stdout F b\n`);
  t.equal(readFileSync(path, 'utf8'), `${TS} stdout F ${'x'.repeat(200)}\n`, 'written whole, alone in a fresh file');
  w2.write('stdout', 'c\n');
  t.same(logFiles(path), [`${path}.1`, path], 'maxFiles 2: the oldest is gone');
  t.same(texts(readLog(path)), [`stdout:${'x'.repeat(200)}`, 'stdout:c']);
});

t.test('a P chunk and its F in different files still join', async (t) => {
  const path = logPath(t);
  const w = writer(t, path, { maxBytes: MAX_LINE + 50, maxFiles: 5 });
  w.write('stdout', 'y'.repeat(MAX_LINE + 10) + '\n');
  t.equal(logFiles(path).length, 2, 'the F went to a new file');
  t.same(texts(readLog(path)), [`stdout:${'y'.repeat(MAX_LINE + 10)}`]);
});

t.test('no log file yet: no lines', async (t) => {
  const path = logPath(t);
  t.same(logFiles(path), []);
  t.same(readLog(path), []);
  t.same(logFiles(join(path, '..', 'nodir', 'c.log')), []);
  const seen: LogLine[] = [];
  await followLog(path, { onLine: (l) => seen.push(l), done: () => true, pollMs: 5 });
  t.same(seen, []);
});

t.test('parseCriLine', async (t) => {
  t.same(parseCriLine(`${TS} stdout F a  b `), { time: TS, stream: 'stdout', partial: false, text: 'a  b ' });
  t.same(parseCriLine('2026-11-26T21:42:48.123456Z stderr P x'), {
    time: '2026-11-26T21:42:48.123456Z',
    stream: 'stderr',
    partial: true,
    text: 'x',
  });
  t.same(parseCriLine('2026-11-26T21:42:48+01:00 stdout F '), {
    time: '2026-11-26T21:42:48+01:00',
    stream: 'stdout',
    partial: false,
    text: '',
  });
  for (const bad of [
    '',
    'hello',
    `${TS} stdout F`, // no separator before the text
    `${TS} stdin F x`,
    `${TS} stdout X x`,
    `${TS}  stdout F x`,
    `2026-11-26 21:42:48Z stdout F x`,
    `${TS.slice(0, -1)} stdout F x`, // no zone
    `${TS} stdout FP x`,
  ]) {
    t.equal(parseCriLine(bad), undefined, JSON.stringify(bad));
  }
});

t.test('readLog skips malformed lines and an unfinished last entry', async (t) => {
  const path = logPath(t);
  writeFileSync(path, `garbage\n${TS} stdout F ok\n${TS} stdout P dangling-partial\n${TS} stderr F torn`);
  t.same(texts(readLog(path)), ['stdout:ok']);
});

/** Resolves on the next poll of a follower: lets its timer run. */
const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));

/** Waits (by polling, bounded by tap's timeout) until cond() holds. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await tick(10);
}

t.test('followLog: the tail first, then lines as they are written, then done', async (t) => {
  const path = logPath(t);
  const w = writer(t, path);
  for (let i = 1; i <= 5; i++) w.write('stdout', `old ${i}\n`);
  const seen: string[] = [];
  let finished = false;
  const following = followLog(path, { tail: 2, onLine: (l) => seen.push(`${l.stream}:${l.text}`), done: () => finished, pollMs: 5 });
  t.same(seen, ['stdout:old 4', 'stdout:old 5'], 'the tail at once');
  w.write('stderr', 'new 1\nnew ');
  await until(() => seen.length === 3);
  w.write('stderr', '2\n');
  await until(() => seen.length === 4);
  // Written just before done() turns true: still read.
  w.write('stdout', 'last\n');
  finished = true;
  await following;
  t.same(seen, ['stdout:old 4', 'stdout:old 5', 'stderr:new 1', 'stderr:new 2', 'stdout:last']);
});

t.test('followLog survives rotations, even several between two polls', async (t) => {
  const path = logPath(t);
  const entry = Buffer.byteLength(`${TS} stdout F n-000\n`);
  const w = writer(t, path, { maxBytes: entry * 2, maxFiles: 4 });
  let n = 0;
  const put = (count: number) => {
    for (let i = 0; i < count; i++) w.write('stdout', `n-${String(n++).padStart(3, '0')}\n`);
  };
  put(3); // one rotation already
  const seen: string[] = [];
  let finished = false;
  const following = followLog(path, { onLine: (l) => seen.push(l.text), done: () => finished, pollMs: 5 });
  t.equal(seen.length, 3, 'what was there');
  put(1); // fills the live file
  await until(() => seen.length === 4);
  put(1); // rotates once
  await until(() => seen.length === 5);
  put(5); // rotates three times: the file the follower held is now .3
  await until(() => seen.length === 10);
  put(8); // rotates four times: the file it held is dropped
  finished = true;
  await following;
  t.same(
    seen,
    Array.from({ length: n }, (_, i) => `n-${String(i).padStart(3, '0')}`),
    'every line once, in order',
  );
});

t.test('followLog: a file created later; truncation in place; abort', async (t) => {
  const path = logPath(t);
  const seen: string[] = [];
  const stop = new AbortController();
  const following = followLog(path, { onLine: (l) => seen.push(l.text), done: () => false, pollMs: 5, signal: stop.signal });
  await tick();
  t.notOk(existsSync(path));
  appendFileSync(path, `${TS} stdout F first\n${TS} stdout F second\n`);
  await until(() => seen.length === 2);
  writeFileSync(path, `${TS} stdout F after truncation\n`);
  await until(() => seen.length === 3);
  stop.abort();
  await following;
  t.same(seen, ['first', 'second', 'after truncation']);
});

t.test('followLog with done() already true reads what is there and stops', async (t) => {
  const path = logPath(t);
  const w = writer(t, path);
  w.write('stdout', 'a\nb\nc\n');
  const seen: string[] = [];
  await followLog(path, { onLine: (l) => seen.push(l.text), done: () => true });
  t.same(seen, ['a', 'b', 'c']);
  const tailed: string[] = [];
  await followLog(path, { tail: 1, onLine: (l) => tailed.push(l.text), done: () => true });
  t.same(tailed, ['c']);
});

// tspod logs, called in-process against a state directory of the test's own.

/** A state root with pod "web" whose container "app" has `process` (a log file written by w). */
function podWithLog(t: Test, process?: ProcessId) {
  const root = tempDir(t, 'logs-root');
  const store = new StateStore(root);
  store.reserve('web');
  const container = {
    name: 'app',
    spec: { name: 'app', command: ['true'], args: [], env: [] },
    restartPolicy: 'Never',
    state: 'running',
    process,
    restartCount: 0,
  };
  store.write({
    version: RECORD_VERSION,
    name: 'web',
    spec: {
      name: 'web',
      hostname: 'web',
      share: [],
      terminationGracePeriodSeconds: 1,
      restartPolicy: 'Never',
      network: { mode: 'pod' },
      ports: [],
      volumes: [],
      labels: {},
      annotations: {},
    },
    createdAt: new Date().toISOString(),
    supervisor: { pid: 1, startTime: '0', kind: 'monitor' },
    persistent: false,
    state: 'running',
    containers: [container as ContainerRecord],
  });
  return { root, path: store.paths.log('web', 'app') };
}

/** Runs f with process.stdout/stderr writes collected (no tap assertion may run meanwhile). */
async function captured(f: (stdoutSoFar: () => string) => Promise<number>) {
  const out: string[] = [];
  const err: string[] = [];
  const saved = [process.stdout.write, process.stderr.write];
  process.stdout.write = ((s: string) => out.push(s) > 0) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => err.push(s) > 0) as typeof process.stderr.write;
  try {
    const code = await f(() => out.join(''));
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    [process.stdout.write, process.stderr.write] = saved;
  }
}

t.test('tspod logs: stdout lines to stdout, stderr lines to stderr; --tail', async (t) => {
  const { root, path } = podWithLog(t);
  // What is there now is written with write(2) to fds 1 and 2: the command itself is run.
  const once = (...args: string[]) => runCli(t, ['--root', root, 'logs', 'web', 'app', ...args]);
  t.same(await once(), { code: 0, stdout: '', stderr: '' }, 'no log yet: nothing');
  const w = writer(t, path);
  w.write('stdout', 'one\ntwo\n');
  w.write('stderr', 'warn\n');
  w.write('stdout', 'three\n');
  t.same(await once(), { code: 0, stdout: 'one\ntwo\nthree\n', stderr: 'warn\n' });
  t.same(await once('--tail', '2'), { code: 0, stdout: 'three\n', stderr: 'warn\n' });
  t.same(await once('--tail', '0'), { code: 0, stdout: '', stderr: '' });
  t.same(
    await captured(() => logs('web', 'app', { root, follow: true })),
    { code: 0, stdout: 'one\ntwo\nthree\n', stderr: 'warn\n' },
    'no running process: follow ends at once',
  );
});

t.test('tspod logs: errors name the pod, the container, the option', async (t) => {
  const { root } = podWithLog(t);
  await t.rejects(logs('nope', 'app', { root }), { name: 'NotFound', message: 'pod "nope" does not exist', exitCode: 125 });
  await t.rejects(logs('web', 'db', { root }), {
    name: 'NotFound',
    message: 'pod "web" has no container "db" (its containers: app)',
    exitCode: 125,
  });
  for (const bad of ['-1', '1.5', 'ten', '']) {
    await t.rejects(logs('web', 'app', { root, tail: bad }), { name: 'InputError', field: '--tail' });
  }
  await t.rejects(logs('Bad_Name', 'app', { root }), { name: 'InputError', field: 'pod' });
});

t.test('tspod logs --follow ends with the process that ran when it started', async (t) => {
  const child = owned(t, spawn('sleep', ['600'], { stdio: 'ignore' }));
  const exited = new Promise((r) => child.once('exit', r));
  await new Promise((r) => child.once('spawn', r));
  const { root, path } = podWithLog(t, { pid: child.pid!, startTime: startTimeOf(child.pid!)! });
  const w = writer(t, path);
  w.write('stdout', 'before\n');
  const result = captured(async (printed) => {
    const following = logs('web', 'app', { root, follow: true });
    w.write('stdout', 'while running\n');
    await until(() => printed().includes('while running'));
    w.write('stderr', 'last words\n');
    child.kill('SIGTERM');
    await exited;
    return following;
  });
  t.same(await result, { code: 0, stdout: 'before\nwhile running\n', stderr: 'last words\n' });
});

t.test('tspod logs --follow: Ctrl-C ends it quietly with status 0', async (t) => {
  const child = owned(t, spawn('sleep', ['600'], { stdio: 'ignore' }));
  await new Promise((r) => child.once('spawn', r));
  const { root, path } = podWithLog(t, { pid: child.pid!, startTime: startTimeOf(child.pid!)! });
  writer(t, path).write('stdout', 'hi\n');
  const result = await captured(async (printed) => {
    const following = logs('web', 'app', { root, follow: true });
    // Printed: it follows, its Ctrl-C handler is in place.
    await until(() => printed() === 'hi\n');
    process.kill(process.pid, 'SIGINT');
    return following;
  });
  t.same(result, { code: 0, stdout: 'hi\n', stderr: '' });
  t.equal(child.exitCode, null, 'the container still runs');
});

t.test('rotation: maxFiles 1 keeps the live file only; a live file removed by hand is recreated', async (t) => {
  const path = logPath(t);
  const w = writer(t, path, { maxBytes: 100, maxFiles: 1 });
  w.write('stdout', 'a\nb\nc\n');
  t.same(logFiles(path), [path]);
  t.same(texts(readLog(path)), ['stdout:c']);
  rmSync(path);
  w.write('stdout', 'd\ne\n');
  t.same(texts(readLog(path)), ['stdout:e'], 'd went into the removed file; the rotation before e made a new one');
  t.throws(() => new CriLogWriter(path, { maxFiles: 0 }), /maxFiles 0 is not a positive integer/);
});

t.test('followLog: a log that appears, and rotates, after following started', async (t) => {
  const path = logPath(t);
  const seen: string[] = [];
  let finished = false;
  const following = followLog(path, { onLine: (l) => seen.push(l.text), done: () => finished, pollMs: 5 });
  const w = writer(t, path, { maxBytes: 120, maxFiles: 5 }); // two entries a file
  for (let i = 0; i < 7; i++) w.write('stdout', `${i}\n`);
  t.equal(logFiles(path).length, 4, 'rotated three times before the follower looked');
  finished = true;
  await following;
  t.same(seen, ['0', '1', '2', '3', '4', '5', '6']);
});
