// Container output through the monitor into CRI log files, read back with tspod logs.
import t from 'tap';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { tempDir } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/proc.js';
import { testState } from '../helpers/state.js';
import { parseCriLine } from '../../src/logs/cri.js';

if (!isRoot) t.plan(0, NOT_ROOT);

t.test('both streams, in order, in the CRI format on disk and as plain text from tspod logs', async (t) => {
  const s = testState(t);
  // Two pipes have no order between them: each line waits until the monitor has logged the one
  // before (the container sees the host's files, the log among them).
  const log = s.store.paths.log('lg', 'lg');
  const logged = (text: string) => `until grep -q "${text}" ${log} 2>/dev/null; do sleep 0.01; done`;
  const script =
    `for i in 1 2 3; do echo "out $i"; ${logged('out $i')}; echo "err $i" >&2; ${logged('err $i')}; done; ` + 'printf "no newline"';
  const r = await s.cli(['run', '-d', '--name', 'lg', '--restart', 'Never', '--', 'sh', '-c', script]);
  t.equal(r.code, 0, r.stderr);
  await waitFor('the container to end', () => s.store.read('lg')?.containers[0].state === 'exited');
  const file = readFileSync(s.store.paths.log('lg', 'lg'), 'utf8').trim().split('\n').map(parseCriLine);
  t.same(
    file.map((l) => [l?.stream, l?.partial, l?.text]),
    [
      ['stdout', false, 'out 1'],
      ['stderr', false, 'err 1'],
      ['stdout', false, 'out 2'],
      ['stderr', false, 'err 2'],
      ['stdout', false, 'out 3'],
      ['stderr', false, 'err 3'],
      ['stdout', false, 'no newline'],
    ],
    'every line tagged with its stream, in the order written',
  );
  t.ok(
    file.every((l) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/.test(l!.time)),
    'RFC 3339 timestamps',
  );
  const logs = await s.cli(['logs', 'lg', 'lg']);
  t.equal(logs.stdout, 'out 1\nout 2\nout 3\nno newline\n');
  t.equal(logs.stderr, 'err 1\nerr 2\nerr 3\n');
  const tail = await s.cli(['logs', '--tail', '2', 'lg', 'lg']);
  t.same([tail.stdout, tail.stderr], ['no newline\n', 'err 3\n'], '--tail counts the lines of both streams');
});

t.test('follow mode streams new lines until the container ends', async (t) => {
  const s = testState(t);
  const go = join(tempDir(t, 'follow'), 'go');
  await s.cli(['pod', 'create', 'fol']);
  const r = await s.cli([
    'run',
    '-d',
    '--pod',
    'fol',
    '--name',
    'c',
    '--restart',
    'Never',
    '--',
    'sh',
    '-c',
    `echo first; until [ -e ${go} ]; do sleep 0.02; done; echo second; echo third`,
  ]);
  t.equal(r.code, 0, r.stderr);
  const follow = s.start(['logs', '-f', 'fol', 'c']);
  await waitFor('the first line', () => follow.stdout().includes('first\n'));
  // The later lines are written only now, and just before the container ends.
  writeFileSync(go, '');
  t.equal(await follow.done, 0, 'follow ended by itself when the container did');
  t.equal(follow.stdout(), 'first\nsecond\nthird\n', 'with the lines written after it started, the last ones included');
});

t.test('logs rotate at a size and keep a bounded number of files', async (t) => {
  const s = testState(t, { TSPOD_LOG_MAX_BYTES: '2000', TSPOD_LOG_MAX_FILES: '3' });
  await s.cli(['run', '-d', '--name', 'rot', '--', 'sh', '-c', 'i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo "line $i"; done']);
  await waitFor('the container to end', () => s.store.read('rot')?.containers[0].state === 'exited');
  const files = readdirSync(`${s.store.paths.pod('rot')}/logs`)
    .filter((f) => f.startsWith('rot.log'))
    .sort();
  t.same(files, ['rot.log', 'rot.log.1', 'rot.log.2'], 'the live file and two rotated ones');
  for (const f of files) t.ok(readFileSync(`${s.store.paths.pod('rot')}/logs/${f}`).length <= 2000, `${f} is within the size`);
  const lines = (await s.cli(['logs', 'rot', 'rot'])).stdout.trim().split('\n');
  t.equal(lines.at(-1), 'line 300', 'the newest line is kept');
  const first = Number(lines[0].split(' ')[1]);
  t.ok(first > 1, 'the oldest lines were rotated away');
  t.same(
    lines,
    Array.from({ length: 300 - first + 1 }, (_, i) => `line ${first + i}`),
    'what is left is complete and in order',
  );
});
