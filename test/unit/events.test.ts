// A pod's events: the store (state/events.ts), and tspod events reading a state directory of the
// test's own. Every event has a fixed time: nothing here depends on the clock.
import t, { type Test } from 'tap';
import { appendFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventFollower, MAX_EVENTS, MAX_MESSAGE, appendEvent, readEvents, type NewEvent, type PodEvent } from '../../src/state/events.js';
import { StatePaths } from '../../src/state/paths.js';
import { StateStore } from '../../src/state/store.js';
import { RECORD_VERSION, type PodRecord } from '../../src/state/records.js';
import { startCli, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/proc.js';
import { NOT_ROOT, isRoot } from '../helpers/root.js';

/** A fixed time, `minutes` after a fixed start. */
const at = (minutes: number) => new Date(Date.UTC(2026, 0, 2, 3, 4, 5) + minutes * 60_000).toISOString();

function eventsFile(t: Test): string {
  return join(tempDir(t, 'events'), 'events.jsonl');
}

const started = (container: string, minutes: number): NewEvent => ({
  at: at(minutes),
  type: 'Normal',
  reason: 'Started',
  container,
  message: `Started container ${container}`,
});
const numbered = (i: number): NewEvent => ({ at: at(0), type: 'Normal', reason: 'Created', message: `event ${i}` });
const messages = (events: PodEvent[]) => events.map((e) => e.message);

t.test('appendEvent: one JSON line per event, a 0600 file made on the first; read back in order', async (t) => {
  const file = eventsFile(t);
  t.same(readEvents(file), [], 'no file: no events');
  const first = appendEvent(file, started('web', 0));
  const second = appendEvent(file, { at: at(1), type: 'Warning', reason: 'Failed', message: 'the infra died' });
  t.same(
    first,
    { at: at(0), type: 'Normal', reason: 'Started', container: 'web', message: 'Started container web' },
    'answers it as written',
  );
  t.equal(
    readFileSync(file, 'utf8'),
    `{"at":"${at(0)}","type":"Normal","reason":"Started","container":"web","message":"Started container web"}\n` +
      `{"at":"${at(1)}","type":"Warning","reason":"Failed","message":"the infra died"}\n`,
    'the exact lines: a pod event has no container field',
  );
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.same(readEvents(file), [first, second]);
});

t.test('appendEvent without `at`: stamped with an ISO time; with no pod directory: dropped, nothing made', async (t) => {
  const file = eventsFile(t);
  const e = appendEvent(file, { type: 'Normal', reason: 'Killing', container: 'web', message: 'Stopping container web' })!;
  t.equal(new Date(e.at).toISOString(), e.at);
  const gone = join(tempDir(t, 'events'), 'removed-pod', 'events.jsonl');
  t.equal(appendEvent(gone, started('web', 0)), undefined);
  t.throws(() => statSync(join(gone, '..')), { code: 'ENOENT' });
});

t.test('a message longer than MAX_MESSAGE is cut to MAX_MESSAGE characters; newlines stay inside the one line', async (t) => {
  const file = eventsFile(t);
  const e = appendEvent(file, { at: at(0), type: 'Warning', reason: 'FailedPostStartHook', message: 'x'.repeat(5000) })!;
  t.equal(e.message.length, MAX_MESSAGE);
  t.same(messages(readEvents(file)), [e.message]);
  appendEvent(file, { at: at(0), type: 'Warning', reason: 'Unhealthy', message: 'line 1\nline 2' });
  t.equal(readFileSync(file, 'utf8').split('\n').length, 3, 'two lines and the final newline');
  t.same(messages(readEvents(file)).slice(1), ['line 1\nline 2']);
});

t.test('a repeat of the previous event within 10 minutes is counted, and read as one event with its count', async (t) => {
  const file = eventsFile(t);
  const backOff = (minutes: number): NewEvent => ({
    at: at(minutes),
    type: 'Warning',
    reason: 'BackOff',
    container: 'web',
    message: 'Back-off restarting failed container web',
  });
  t.equal(appendEvent(file, backOff(0))!.count, undefined, 'the first: no count');
  t.equal(appendEvent(file, backOff(1))!.count, 2);
  t.equal(appendEvent(file, backOff(11))!.count, 3, 'each repeat within 10 minutes of the one before');
  appendEvent(file, started('web', 12));
  t.equal(appendEvent(file, backOff(13))!.count, undefined, 'another event in between: counted from 1 again');
  t.equal(appendEvent(file, backOff(24))!.count, undefined, 'more than 10 minutes after: counted from 1 again');
  t.same(
    readEvents(file).map((e) => [e.reason, e.at, e.count]),
    [
      ['BackOff', at(11), 3],
      ['Started', at(12), undefined],
      ['BackOff', at(13), undefined],
      ['BackOff', at(24), undefined],
    ],
  );
  t.equal(readFileSync(file, 'utf8').trim().split('\n').length, 6, 'each repeat is a line of its own');
  // Another writer (no memory of this file): it reads the last event from the file.
  writeFileSync(file, readFileSync(file, 'utf8'));
  t.equal(appendEvent(file, backOff(25))!.count, 2, 'a writer that did not write the file counts from what it holds');
});

t.test(`the bound: 2×${MAX_EVENTS}+1 events keep exactly the last ${MAX_EVENTS}, in order, in another file`, async (t) => {
  const file = eventsFile(t);
  for (let i = 1; i <= 2 * MAX_EVENTS; i++) appendEvent(file, numbered(i));
  const before = statSync(file).ino;
  t.equal(readEvents(file).length, 2 * MAX_EVENTS, `${2 * MAX_EVENTS} lines are kept`);
  appendEvent(file, numbered(2 * MAX_EVENTS + 1));
  const kept = messages(readEvents(file));
  t.same(
    kept,
    Array.from({ length: MAX_EVENTS }, (_, i) => `event ${MAX_EVENTS + 2 + i}`),
  );
  t.not(statSync(file).ino, before, 'replaced by rename, not rewritten in place');
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.same(readdirSync(join(file, '..')), ['events.jsonl'], 'no temporary file is left');
  appendEvent(file, numbered(2 * MAX_EVENTS + 2));
  t.same(messages(readEvents(file)).slice(-2), [`event ${2 * MAX_EVENTS + 1}`, `event ${2 * MAX_EVENTS + 2}`], 'appended to after');
});

t.test('a damaged line is skipped, never thrown; a line cut short is finished by the next append', async (t) => {
  const file = eventsFile(t);
  const good = JSON.stringify({ at: at(0), type: 'Normal', reason: 'Created', message: 'good' });
  writeFileSync(
    file,
    [
      good,
      'not json',
      '',
      '[]',
      '{}',
      JSON.stringify({ at: at(0), type: 'Fatal', reason: 'Created', message: 'bad type' }),
      JSON.stringify({ at: 'yesterday', type: 'Normal', reason: 'Created', message: 'bad time' }),
      JSON.stringify({ at: at(0), type: 'Normal', reason: '', message: 'no reason' }),
      JSON.stringify({ at: at(0), type: 'Normal', reason: 'Created', container: 7, message: 'bad container' }),
      JSON.stringify({ at: at(0), type: 'Normal', reason: 'Created', message: 'bad count', count: -1 }),
      JSON.stringify({ at: at(0), type: 'Normal', reason: 'Created', message: 'extra field', extra: 1 }),
      '{"at":"2026-01-02T03:04:05.000Z","type":"Nor',
    ].join('\n'),
  );
  t.same(messages(readEvents(file)), ['good', 'extra field'], 'the last line, without its newline, is not read either');
  t.same(
    readEvents(file)[1],
    { at: at(0), type: 'Normal', reason: 'Created', message: 'extra field' },
    'a field it does not know is dropped',
  );
  appendEvent(file, started('web', 1));
  t.same(messages(readEvents(file)), ['good', 'extra field', 'Started container web'], 'the cut line became a damaged line of its own');
});

t.test('a follower: everything there first, then each append, a line only once it is complete', async (t) => {
  const file = eventsFile(t);
  const f = new EventFollower(file);
  t.same(f.poll(), [], 'no file yet');
  appendEvent(file, started('a', 0));
  appendEvent(file, started('b', 1));
  t.same(messages(f.poll()), ['Started container a', 'Started container b']);
  t.same(f.poll(), [], 'nothing new');
  const line = JSON.stringify({ at: at(2), type: 'Normal', reason: 'Killing', message: 'half and half' }) + '\n';
  appendFileSync(file, line.slice(0, 20));
  t.same(f.poll(), [], 'half a line: not yet');
  appendFileSync(file, line.slice(20));
  t.same(messages(f.poll()), ['half and half']);
  appendEvent(file, started('b', 3));
  appendEvent(file, started('b', 4));
  t.same(
    f.poll().map((e) => e.count),
    [undefined, 2],
    'a repeat is followed as a line of its own, with its count',
  );
});

t.test('a follower survives the bound: every event exactly once, in order, across replacements', async (t) => {
  const file = eventsFile(t);
  const f = new EventFollower(file);
  const seen: string[] = [];
  let replaced = 0;
  let ino: number | undefined;
  const total = 5 * MAX_EVENTS + 3;
  for (let i = 1; i <= total; i++) {
    appendEvent(file, numbered(i));
    if (ino !== undefined && statSync(file).ino !== ino) replaced++;
    ino = statSync(file).ino;
    // Polls at a stride that falls on either side of each replacement.
    if (i % 337 === 0) seen.push(...messages(f.poll()));
  }
  seen.push(...messages(f.poll()));
  t.equal(replaced, 3, 'the file was replaced 3 times: at events 2001, 3002 and 4003');
  t.same(
    seen,
    Array.from({ length: total }, (_, i) => `event ${i + 1}`),
  );
});

t.test('a follower that missed two replacements: what it read, then what the file holds, none twice', async (t) => {
  const file = eventsFile(t);
  const f = new EventFollower(file);
  for (let i = 1; i <= 10; i++) appendEvent(file, numbered(i));
  const seen = messages(f.poll());
  // 2×MAX+1 lines make the first replacement, MAX+1 more the second: event 10 is no longer there.
  const total = 10 + 3 * MAX_EVENTS;
  for (let i = 11; i <= total; i++) appendEvent(file, numbered(i));
  const held = messages(readEvents(file));
  t.notOk(held.includes('event 10'), 'the last event it read was dropped by the bound');
  seen.push(...messages(f.poll()));
  t.same(seen, [...Array.from({ length: 10 }, (_, i) => `event ${i + 1}`), ...held]);
});

t.test('a follower: a file removed is forgotten; one made again at that path is read from its start', async (t) => {
  const file = eventsFile(t);
  const f = new EventFollower(file);
  appendEvent(file, started('a', 0));
  t.same(messages(f.poll()), ['Started container a']);
  rmSync(file);
  t.same(f.poll(), []);
  appendEvent(file, started('a', 0));
  t.same(messages(f.poll()), ['Started container a'], 'the same line again, in a new file: new');
  rmSync(file);
  appendEvent(file, started('b', 1));
  appendEvent(file, started('a', 2));
  t.same(messages(f.poll()), ['Started container b', 'Started container a'], 'replaced between two polls: read from its start');
});

t.test("a pod's events file: pods/POD/events.jsonl; a name that is no DNS label never becomes a path", async (t) => {
  const paths = new StatePaths('/run/tspod');
  t.equal(paths.eventsFile('web'), '/run/tspod/pods/web/events.jsonl');
  for (const bad of ['../web', 'Web', 'a/b', '']) t.throws(() => paths.eventsFile(bad), { name: 'InputError', field: 'pod' });
});

// tspod events, run as a user runs it, on a state directory made here (the command needs root).

/** A state root with a record for each pod, and each pod's events appended. */
function stateWith(t: Test, pods: Record<string, NewEvent[]>): StateStore {
  const store = new StateStore(tempDir(t, 'events-root'));
  for (const [name, events] of Object.entries(pods)) addPod(store, name, events);
  return store;
}

function addPod(store: StateStore, name: string, events: NewEvent[]): void {
  store.reserve(name);
  const record = {
    version: RECORD_VERSION,
    name,
    spec: {
      name,
      hostname: name,
      share: [],
      terminationGracePeriodSeconds: 1,
      restartPolicy: 'Never',
      network: { mode: 'pod' },
      ports: [],
      volumes: [],
      labels: {},
      annotations: {},
    },
    createdAt: at(0),
    supervisor: { pid: 1, startTime: '0', kind: 'monitor' },
    persistent: false,
    state: 'running',
    containers: [],
  };
  store.write(record as unknown as PodRecord);
  for (const e of events) appendEvent(store.paths.eventsFile(name), e);
}

/** A table's rows as cells, cut at the header's columns; LAST SEEN (an age) left out. */
function tableRows(text: string): string[][] {
  const [header, ...rows] = text.trimEnd().split('\n');
  const starts = [...header.matchAll(/\S+( \S+)*/g)].map((m) => m.index);
  return [header, ...rows].map((line) => starts.map((s, i) => line.slice(s, starts[i + 1]).trim()).slice(1));
}

const HEADER = ['POD', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'];

t.test('tspod events', { skip: !isRoot && NOT_ROOT }, async (t) => {
  const store = stateWith(t, {
    web: [started('app', 1), { at: at(4), type: 'Warning', reason: 'Unhealthy', container: 'app', message: 'Liveness probe failed' }],
    db: [
      { at: at(2), type: 'Normal', reason: 'Created', message: 'Created pod db' },
      { at: at(3), type: 'Warning', reason: 'BackOff', container: 'pg', message: 'Back-off restarting failed container pg' },
      { at: at(5), type: 'Warning', reason: 'BackOff', container: 'pg', message: 'Back-off restarting failed container pg' },
    ],
    quiet: [],
  });
  const cli = (...args: string[]) => runCli(t, ['--root', store.root, 'events', ...args]);

  t.test('every pod, merged by time, oldest first; OBJECT is the container or the pod', async (t) => {
    const r = await cli();
    t.same([r.code, r.stderr], [0, '']);
    t.same(tableRows(r.stdout), [
      HEADER,
      ['web', 'Normal', 'Started', 'container/app', 'Started container app'],
      ['db', 'Normal', 'Created', 'pod/db', 'Created pod db'],
      ['web', 'Warning', 'Unhealthy', 'container/app', 'Liveness probe failed'],
      ['db', 'Warning', 'BackOff', 'container/pg', 'Back-off restarting failed container pg'],
    ]);
    t.match(r.stdout.split('\n')[0], /^LAST SEEN {2}/);
    t.match(r.stdout.split('\n')[4], / \(x2\) {2}/, "a repeat's count is shown as kubectl's (x2)");
  });

  t.test('POD: only its events; --json: one object per line, with its pod', async (t) => {
    const r = await cli('db', '--json');
    t.same([r.code, r.stderr], [0, '']);
    t.same(
      r.stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
      [
        { pod: 'db', at: at(2), type: 'Normal', reason: 'Created', message: 'Created pod db' },
        {
          pod: 'db',
          at: at(5),
          type: 'Warning',
          reason: 'BackOff',
          container: 'pg',
          message: 'Back-off restarting failed container pg',
          count: 2,
        },
      ],
    );
    const quiet = await cli('quiet');
    t.same([quiet.code, tableRows(quiet.stdout), quiet.stderr], [0, [HEADER], ''], 'a pod without events: the header only');
  });

  t.test('a pod that does not exist: NotFound in one line, status 125, nothing on stdout', async (t) => {
    t.same(await cli('nope'), { code: 125, stdout: '', stderr: 'tspod: pod "nope" does not exist\n' });
    const bad = await cli('Bad_Name');
    t.same([bad.code, bad.stdout], [125, '']);
    t.match(bad.stderr, /^tspod: pod: .*\n$/);
  });

  t.test('a state directory with no pods: the header only', async (t) => {
    const r = await runCli(t, ['--root', join(tempDir(t, 'events-empty'), 'none'), 'events']);
    t.same([r.code, tableRows(r.stdout), r.stderr], [0, [HEADER], '']);
  });

  t.test('not root: says root is needed', async (t) => {
    const r = await runCli(t, ['--root', store.root, 'events'], { uid: 65534, gid: 65534 });
    t.equal(r.code, 125);
    t.match(r.stderr, /^tspod: tspod events needs root: the state directory is readable by root only; run it with sudo\n$/);
  });
});

t.test(
  'tspod events -f: what is there, then new events of every pod, new pods too, until SIGTERM (status 0)',
  { skip: !isRoot && NOT_ROOT },
  async (t) => {
    const store = stateWith(t, { web: [started('app', 1)] });
    const run = startCli(t, ['--root', store.root, 'events', '-f', '--json']);
    const lines = () =>
      run
        .stdout()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { pod: string; message: string });
    await waitFor('the events there', () => lines().length === 1);
    appendEvent(store.paths.eventsFile('web'), {
      at: at(2),
      type: 'Normal',
      reason: 'Killing',
      container: 'app',
      message: 'Stopping container app',
    });
    addPod(store, 'later', [{ at: at(3), type: 'Normal', reason: 'Created', message: 'Created pod later' }]);
    await waitFor('the new events', () => lines().length === 3);
    // A directory that is no pod's name: told once on stderr, and left out.
    mkdirSync(join(store.paths.podsDir, 'Not_A_Pod'));
    await waitFor('the warning', () => run.stderr().includes('Not_A_Pod'));
    run.child.kill('SIGTERM');
    t.equal(await run.done, 0);
    t.same(
      lines().map((l) => [l.pod, l.message]),
      [
        ['web', 'Started container app'],
        ['web', 'Stopping container app'],
        ['later', 'Created pod later'],
      ],
    );
    t.equal(run.stderr(), `tspod: skipped: ${store.paths.podsDir}/Not_A_Pod is not a pod: its name is not a DNS-1123 label\n`);
  },
);

t.test('tspod events -f POD: a table; ends by itself (status 0) when the pod is removed', { skip: !isRoot && NOT_ROOT }, async (t) => {
  const store = stateWith(t, { web: [started('app', 1)], other: [] });
  const run = startCli(t, ['--root', store.root, 'events', '-f', 'web']);
  await waitFor('the table', () => run.stdout().split('\n').length === 3);
  appendEvent(store.paths.eventsFile('other'), started('db', 2));
  appendEvent(store.paths.eventsFile('web'), {
    at: at(3),
    type: 'Normal',
    reason: 'Killing',
    container: 'app',
    message: 'Stopping container app',
  });
  await waitFor('the new event', () => run.stdout().split('\n').length === 4);
  rmSync(store.paths.pod('web'), { recursive: true });
  t.equal(await run.done, 0);
  t.same(tableRows(run.stdout()), [
    HEADER,
    ['web', 'Normal', 'Started', 'container/app', 'Started container app'],
    ['web', 'Normal', 'Killing', 'container/app', 'Stopping container app'],
  ]);
  t.equal(run.stderr(), '');
});
