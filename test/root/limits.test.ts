// Resource limits in force, read back from the kernel's own counters: an OOM kill recorded as
// such, cpu throttling, a pids limit's EAGAIN. On a hybrid host (this project's) the limits
// are in the v1 hierarchies; on a unified one (the kernel-matrix VM) in the v2 tree.
import t from 'tap';
import { existsSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { cleanup, tempDir } from '../helpers/cleanup.js';
import { alive, waitFor } from '../helpers/proc.js';
import { testState, type TestState } from '../helpers/state.js';
import { findV1Controllers, findV2Hierarchy, type Controller } from '../../src/cgroup/hierarchy.js';
import type { PodRecord } from '../../src/state/records.js';
import { controllerDir } from '../helpers/cgroup.js';

const v2 = findV2Hierarchy();
const offered = v2 ? readFileSync(join(v2.mount, 'cgroup.controllers'), 'utf8') : '';
const v1 = findV1Controllers();
const have = (c: Controller) => Boolean(v1[c]) || offered.split(/\s+/).includes(c);
const skip = !isRoot
  ? NOT_ROOT
  : !v2
    ? 'needs a cgroup v2 hierarchy mounted (none in /proc/self/mountinfo)'
    : !(['cpu', 'memory', 'pids'] as const).every(have)
      ? `needs the cpu, memory and pids controllers, in v1 hierarchies or in ${v2.mount}/cgroup.controllers`
      : undefined;
if (skip) t.plan(0, skip);

const record = (s: TestState, pod: string) => s.store.read(pod) as PodRecord;
const container = (s: TestState, pod: string, name: string) => record(s, pod).containers.find((c) => c.name === name)!;

/** `name N` of a flat-keyed cgroup file (cpu.stat, memory.events). */
const stat = (file: string, key: string) => Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(file, 'utf8'))?.[1] ?? NaN);

t.test(
  'a container over its 64Mi memory limit is recorded OOMKilled and restarted with the back-off; the other container runs on untouched',
  async (t) => {
    const s = testState(t);
    const manifest = join(tempDir(t, 'oom'), 'oom.yaml');
    writeFileSync(
      manifest,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'oom' },
        spec: {
          restartPolicy: 'Always',
          containers: [
            {
              name: 'hog',
              // tail keeps every byte of a file without a newline: 256 MiB of them.
              command: ['sh', '-c', 'head -c 268435456 /dev/zero | tail > /dev/null'],
              resources: { limits: { memory: '64Mi' } },
            },
            { name: 'calm', command: ['sleep', '1000'] },
          ],
        },
      }),
    );
    const calmBefore = await (async () => {
      const r = await s.cli(['run', '-d', '-f', manifest]);
      t.equal(r.code, 0, r.stderr);
      return container(s, 'oom', 'calm').process!;
    })();
    const rec = record(s, 'oom');
    await waitFor('two OOM kills of hog, each restarted', () => container(s, 'oom', 'hog').restartCount >= 2 || undefined, 60_000);
    const hog = container(s, 'oom', 'hog');
    t.equal(hog.lastExit?.reason, 'OOMKilled', 'its last exit says OOMKilled, from the cgroup counter');
    t.ok(hog.lastExit?.signal === 'SIGKILL' || hog.lastExit?.code === 137, `ended by SIGKILL (${JSON.stringify(hog.lastExit)})`);
    const ps = await s.cli(['ps', '--pod', 'oom', '-a']);
    t.match(ps.stdout, /^oom +hog .*OOMKilled/m, 'ps shows it in INFO');
    const calm = container(s, 'oom', 'calm');
    t.equal(calm.restartCount, 0, 'the other container never restarted');
    t.same(calm.process, calmBefore, 'and is the same process');
    t.ok(alive(calm.process!) && alive(rec.infra!.process), 'which runs, as does the infra');
  },
);

t.test('a pod without limits is in no v1 hierarchy; a container with one only in those its limits need', async (t) => {
  const s = testState(t);
  t.equal((await s.cli(['pod', 'create', 'lean'])).code, 0);
  t.equal((await s.cli(['run', '-d', '--pod', 'lean', '--name', 'a', '--', 'sleep', '1000'])).code, 0);
  t.equal((await s.cli(['run', '-d', '--pod', 'lean', '--name', 'b', '--memory', '64m', '--', 'sleep', '1000'])).code, 0);
  const name = record(s, 'lean').cgroup!.name;
  const where = (c: Controller, member: string) => (v1[c] ? existsSync(`${v1[c]}${name}/${member}`) : undefined);
  for (const c of ['cpu', 'memory', 'pids'] as const) {
    t.notOk(where(c, 'infra'), `the infra: no ${c} cgroup (v1: ${v1[c] ?? 'none'})`);
    t.notOk(where(c, 'ctr-a'), `a: none`);
  }
  if (v1.memory) t.ok(where('memory', 'ctr-b'), 'b: in the v1 memory hierarchy, for its limit');
  if (v1.cpu) t.notOk(where('cpu', 'ctr-b'), 'and in no other');
});

t.test('a container killed by SIGKILL that no OOM killer touched is not OOMKilled', async (t) => {
  const s = testState(t);
  const r = await s.cli(['run', '-d', '--name', 'kill9', '--memory', '64m', '--', 'sh', '-c', 'kill -9 $$']);
  t.equal(r.code, 0, r.stderr);
  await waitFor('its exit', () => container(s, 'kill9', 'kill9').lastExit ?? undefined);
  const exit = container(s, 'kill9', 'kill9').lastExit!;
  t.equal(exit.signal, 'SIGKILL');
  t.equal(exit.reason, undefined, 'no reason: its cgroup counted no OOM kill');
});

t.test('a cpu limit of 0.2 is in force: a busy loop is throttled, as its cgroup counts', async (t) => {
  const s = testState(t);
  const r = await s.cli(['run', '-d', '--name', 'busy', '--cpus', '0.2', '--', 'sh', '-c', 'while :; do :; done']);
  t.equal(r.code, 0, r.stderr);
  const rec = record(s, 'busy');
  const dir = controllerDir(rec, 'cpu', 'busy');
  if (rec.cgroup!.v1?.cpu) {
    t.equal(readFileSync(join(dir, 'cpu.cfs_quota_us'), 'utf8').trim(), '20000', 'v1: a quota of 20 ms');
    t.equal(readFileSync(join(dir, 'cpu.cfs_period_us'), 'utf8').trim(), '100000', 'in each 100 ms');
  } else {
    t.equal(readFileSync(join(dir, 'cpu.max'), 'utf8').trim(), '20000 100000', 'v2: cpu.max 20 ms of each 100 ms');
  }
  const throttled = await waitFor('throttled periods', () =>
    stat(join(dir, 'cpu.stat'), 'nr_throttled') > 0 ? stat(join(dir, 'cpu.stat'), 'nr_throttled') : undefined,
  );
  t.ok(throttled > 0, `nr_throttled ${throttled}`);
});

const FORK_100 = `
$| = 1;
my $n = 0;
for (1 .. 100) {
  my $p = fork;
  if (!defined $p) { print "fork failed after $n: ", ($!{EAGAIN} ? "EAGAIN" : "$!"), "\\n"; last }
  if ($p == 0) { sleep 1000; exit 0 }
  $n++;
}
print "forked $n\\n";
sleep 1000;
`;

t.test('a pids limit of 64: a fork loop inside gets EAGAIN; the host and another pod fork on', async (t) => {
  const s = testState(t);
  const limited = await s.cli(['run', '-d', '--name', 'forky', '--pids-limit', '64', '--', 'perl', '-e', FORK_100]);
  t.equal(limited.code, 0, limited.stderr);
  const free = await s.cli(['run', '-d', '--name', 'free', '--', 'perl', '-e', FORK_100]);
  t.equal(free.code, 0, free.stderr);
  const logs = async (pod: string) => (await s.cli(['logs', pod, pod])).stdout;
  const said = await waitFor(
    'the limited loop to stop',
    async () => /fork failed after (\d+): (\S+)/.exec(await logs('forky')) ?? undefined,
  );
  t.equal(said[2], 'EAGAIN', 'fork failed with EAGAIN');
  t.equal(Number(said[1]), 63, 'after 63 children: 64 processes with perl itself');
  const dir = controllerDir(record(s, 'forky'), 'pids', 'forky');
  t.equal(readFileSync(join(dir, 'pids.max'), 'utf8').trim(), '64');
  t.equal(Number(readFileSync(join(dir, 'pids.current'), 'utf8')), 64, 'pids.current is at the limit');
  t.match(
    await waitFor('the other pod', async () => /forked \d+/.exec(await logs('free')) ?? undefined),
    ['forked 100'],
    'another pod forked all 100',
  );
  t.equal(spawnSync('true').status, 0, 'and so does the host');
});

t.test('--cgroup-parent: the pod is made below it, which is left for its owner when the pod goes', async (t) => {
  const parent = `/tspod-test-parent-${process.pid}`;
  const dirs = [v2!.mount, ...(v1.memory ? [v1.memory] : [])].map((m) => m + parent);
  // Registered first, so run last: after the state's teardown has removed the pod.
  cleanup(t, `remove ${parent}`, () => dirs.forEach((d) => existsSync(d) && rmdirSync(d)));
  const s = testState(t);
  const r = await s.cli(['run', '-d', '--name', 'kid', '--cgroup-parent', parent, '--memory', '32m', '--', 'sleep', '1000']);
  t.equal(r.code, 0, r.stderr);
  const rec = record(s, 'kid');
  t.match(rec.cgroup!.name, new RegExp(`^${parent}/kid-[0-9a-f]{8}$`));
  t.ok(existsSync(controllerDir(rec, 'memory', 'kid')), 'the container has its cgroup there, limits included');
  t.equal((await s.cli(['rm', '-f', 'kid'])).code, 0);
  t.notOk(existsSync(v2!.mount + rec.cgroup!.name), "the pod's cgroup is gone");
  t.ok(dirs.every(existsSync), 'the parent stays (in v2, and in v1 memory for the limit): it is the user’s');
});

t.test('bad limits and parents: one line naming the culprit, status 125, nothing created', async (t) => {
  const s = testState(t);
  const cases: [string[], RegExp][] = [
    [['--memory', '12q'], /^tspod: --memory: "12q" is not a size/],
    [['--cpus', '0'], /^tspod: --cpus: "0" must be more than 0/],
    [['--pids-limit', '-3'], /^tspod: --pids-limit: "-3" is not a whole number/],
    [['--cgroup-parent', '/cgroup.procs'], /^tspod: --cgroup-parent: "\/cgroup.procs" is not a cgroup/],
    [['--cgroup-parent', '/a/../..'], /^tspod: --cgroup-parent: "\/a\/..\/.." is not a cgroup path/],
    [['--cgroup-parent', v2!.mount], /is the hierarchy's root/],
    // A v1 hierarchy's path, on a hybrid host.
    ...(v1.pids ? [[['--cgroup-parent', `${v1.pids}/x`], /outside the cgroup v2 hierarchy/] as [string[], RegExp]] : []),
  ];
  for (const [args, message] of cases) {
    const r = await s.cli(['run', '-d', '--name', 'bad', ...args, '--', 'true']);
    t.equal(r.code, 125, args.join(' '));
    t.match(r.stderr, message);
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  }
  const manifest = join(tempDir(t, 'bad'), 'bad.yaml');
  writeFileSync(
    manifest,
    [
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: bad}',
      'spec:',
      '  containers:',
      '  - name: a',
      '    command: [sleep, "1"]',
      '    resources: {requests: {memory: 1Gi}, limits: {memory: 512Mi}}',
    ].join('\n'),
  );
  const r = await s.cli(['run', '-d', '-f', manifest]);
  t.equal(r.code, 125);
  t.match(r.stderr, /^tspod: .*bad\.yaml: spec\.containers\[0\]\.resources\.requests\.memory: 1Gi is more than the limit 512Mi$/m);
  t.same(s.store.list(), [], 'no pod recorded');
  const made = [v2!.mount, ...Object.values(v1)].filter(
    (m) => existsSync(`${m}/tspod`) && readdirNames(`${m}/tspod`).some((n) => n.startsWith('bad-')),
  );
  t.same(made, [], 'no cgroup of it in any hierarchy');
});

function readdirNames(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

t.test('stats --no-stream --json and top report what the cgroup files count, for the right processes', async (t) => {
  const s = testState(t);
  const r = await s.cli([
    'run',
    '-d',
    '--name',
    'st',
    '--memory',
    '64m',
    '--cpus',
    '0.2',
    '--pids-limit',
    '40',
    '--',
    'sh',
    '-c',
    'sleep 1000 & while :; do :; done',
  ]);
  t.equal(r.code, 0, r.stderr);
  const rec = record(s, 'st');
  const v2dir = `${rec.cgroup!.mount}${rec.cgroup!.name}/ctr-st`;
  await waitFor('sh and its sleep', () => readFileSync(`${v2dir}/cgroup.procs`, 'utf8').trim().split('\n').length === 2 || undefined);
  const cpu = () => stat(join(v2dir, 'cpu.stat'), 'usage_usec');
  const before = cpu();
  const out = await s.cli(['stats', 'st', '--no-stream', '--json']);
  const after = cpu();
  t.equal(out.code, 0, out.stderr);
  const rows = JSON.parse(out.stdout) as {
    container: string;
    cpuUsec: number;
    cpuPercent: number;
    memoryBytes: number;
    memoryLimitBytes: number;
    pids: number;
    pidsLimit: number;
  }[];
  t.same(
    rows.map((x) => x.container),
    ['st', '(pod)'],
    'the container, and the pod in all',
  );
  const row = rows[0];
  t.ok(
    row.cpuUsec >= before && row.cpuUsec <= after,
    `its cpu time ${row.cpuUsec} is between the two reads of cpu.stat (${before}, ${after})`,
  );
  // Over an interval of n 100 ms periods (n >= 10), a 20 ms quota runs in at most n+1 of them,
  // each overrun by at most a scheduler tick (4 ms at HZ=250): (11 * 24) / 1000 ms = 26.4%.
  t.ok(row.cpuPercent > 0 && row.cpuPercent <= 26.4, `cpu ${row.cpuPercent}%: busy, and within the 0.2 cpu limit`);
  t.equal(row.memoryLimitBytes, 64 * 2 ** 20, 'the memory limit');
  t.ok(row.memoryBytes > 0 && row.memoryBytes < row.memoryLimitBytes, `memory in use ${row.memoryBytes}`);
  const pidsDir = controllerDir(rec, 'pids', 'st');
  t.equal(row.pids, Number(readFileSync(join(pidsDir, 'pids.current'), 'utf8')), 'pids as pids.current counts them');
  t.equal(row.pidsLimit, 40);
  t.ok(rows[1].cpuUsec >= row.cpuUsec, "the pod's total holds the container's");

  const topped = await s.cli(['top', 'st', 'st', '--json']);
  t.equal(topped.code, 0, topped.stderr);
  const procs = JSON.parse(topped.stdout) as { pid: number; podPid: number; command: string }[];
  const inCgroup = readFileSync(`${v2dir}/cgroup.procs`, 'utf8')
    .trim()
    .split('\n')
    .map(Number)
    .sort((a, b) => a - b);
  t.same(
    procs.map((p) => p.pid),
    inCgroup,
    'top lists exactly the processes of its cgroup',
  );
  t.same(procs.map((p) => p.command).sort(), ['sh -c sleep 1000 & while :; do :; done', 'sleep 1000'].sort());
  t.ok(
    procs.every((p) => p.podPid > 1 && p.podPid !== p.pid),
    'each with its pid in the pod (pause is 1 there)',
  );
});

t.test("update changes a running container's limits in its cgroup, and its next start keeps them", async (t) => {
  const s = testState(t);
  t.equal((await s.cli(['run', '-d', '--name', 'up', '--memory', '64m', '--', 'sleep', '1000'])).code, 0);
  const r = await s.cli(['update', 'up', 'up', '--memory', '128m', '--cpus', '0.5', '--pids-limit', '30']);
  t.equal(r.code, 0, r.stderr);
  const files = () => {
    const rec = record(s, 'up');
    const v1 = Boolean(rec.cgroup!.v1?.memory);
    return {
      memory: readFileSync(join(controllerDir(rec, 'memory', 'up'), v1 ? 'memory.limit_in_bytes' : 'memory.max'), 'utf8').trim(),
      cpu: readFileSync(join(controllerDir(rec, 'cpu', 'up'), rec.cgroup!.v1?.cpu ? 'cpu.cfs_quota_us' : 'cpu.max'), 'utf8').trim(),
      pids: readFileSync(join(controllerDir(rec, 'pids', 'up'), 'pids.max'), 'utf8').trim(),
    };
  };
  const want = { memory: String(128 * 2 ** 20), cpu: record(s, 'up').cgroup!.v1?.cpu ? '50000' : '50000 100000', pids: '30' };
  t.same(files(), want, 'the running container has them');
  const pid = container(s, 'up', 'up').process!.pid;
  for (const c of ['cpu', 'pids'] as const) {
    const dir = controllerDir(record(s, 'up'), c, 'up');
    t.ok(
      readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').includes(String(pid)),
      `its process is in the ${c} cgroup it had no limit in`,
    );
  }
  t.equal((await s.cli(['restart', 'up', 'up'])).code, 0);
  t.same(files(), want, 'and so does its next run');
  const bad = await s.cli(['update', 'up', 'up', '--memory', 'lots']);
  t.equal(bad.code, 125);
  t.match(bad.stderr, /^tspod: --memory: "lots" is not a size/);
  t.same(files(), want, 'a bad value changes nothing');
});

t.test("pod create --memory --pids-limit limit the pod's cgroup, which the infra and every container are in", async (t) => {
  const s = testState(t);
  t.equal((await s.cli(['pod', 'create', 'whole', '--memory', '256m', '--pids-limit', '20'])).code, 0);
  const r = await s.cli(['run', '-d', '--pod', 'whole', '--name', 'a', '--', 'perl', '-e', FORK_100]);
  t.equal(r.code, 0, r.stderr);
  const rec = record(s, 'whole');
  const podDir = (c: Controller) => controllerDir(rec, c, 'x').replace(/\/ctr-x$/, '');
  t.equal(readFileSync(join(podDir('pids'), 'pids.max'), 'utf8').trim(), '20');
  const memFile = rec.cgroup!.v1?.memory ? 'memory.limit_in_bytes' : 'memory.max';
  t.equal(readFileSync(join(podDir('memory'), memFile), 'utf8').trim(), String(256 * 2 ** 20));
  // 20 in all: pause and perl take two, so perl's 18th fork fails.
  const said = await waitFor(
    'the fork loop to stop',
    async () => /fork failed after (\d+): (\S+)/.exec((await s.cli(['logs', 'whole', 'a'])).stdout) ?? undefined,
  );
  t.same([said[1], said[2]], ['18', 'EAGAIN'], 'the pod-wide limit counts the infra too');
  const inspect = await s.cli(['inspect', 'whole']);
  t.match(inspect.stdout, /resources: limits memory 268435456; pids 20/, 'inspect shows them');
});
