// A pod's sysctls, read back from /proc/sys by its containers and by the host: set once in the
// pod's namespaces, seen by every container, never by the host; refused when host-wide or not
// allowed; a value the kernel refuses is named and leaves nothing behind.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { tempDir } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/proc.js';
import { testState } from '../helpers/state.js';

if (!isRoot) t.plan(0, NOT_ROOT);

const PORT_START = '/proc/sys/net/ipv4/ip_unprivileged_port_start';
const SHMMAX = '/proc/sys/kernel/shmmax';
const read = (f: string) => readFileSync(f, 'utf8').trim();

/** A pod of two containers that each print the two sysctls, with the pod's securityContext.sysctls. */
function manifest(dir: string, sysctls: [string, string][]): string {
  const file = join(dir, `${sysctls[0][0]}.yaml`);
  const show = `echo "$(cat ${PORT_START}) $(cat ${SHMMAX})"`;
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Pod',
      'metadata: {name: sys}',
      'spec:',
      '  restartPolicy: Never',
      '  securityContext:',
      `    sysctls: [${sysctls.map(([name, value]) => `{name: ${name}, value: "${value}"}`).join(', ')}]`,
      '  containers:',
      `  - {name: a, command: [sh, -c, '${show}']}`,
      `  - {name: b, command: [sh, -c, 'sleep 0.2; ${show}']}`,
      '',
    ].join('\n'),
  );
  return file;
}

t.test('a safe and an allowed sysctl are seen by every container of the pod, and not by the host', async (t) => {
  const s = testState(t, { TSPOD_ALLOWED_UNSAFE_SYSCTLS: 'kernel.shm*' });
  const host = [read(PORT_START), read(SHMMAX)];
  // Values unlike the host's, whatever they are here.
  const port = host[0] === '100' ? '200' : '100';
  const shmmax = host[1] === '65536' ? '131072' : '65536';
  const r = await s.cli([
    'run',
    '-f',
    manifest(tempDir(t, 'sysctls'), [
      ['net.ipv4.ip_unprivileged_port_start', port],
      ['kernel.shmmax', shmmax],
    ]),
  ]);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/\s+\|/, ' |'))
    .sort();
  t.same(lines, [`a | ${port} ${shmmax}`, `b | ${port} ${shmmax}`], 'both containers see both');
  t.same([read(PORT_START), read(SHMMAX)], host, "the host's are as they were");
});

t.test('--sysctl on the command line, on a pod create that containers join later', async (t) => {
  const s = testState(t);
  const port = read(PORT_START) === '100' ? '200' : '100';
  t.equal((await s.cli(['pod', 'create', 'sp', '--sysctl', `net.ipv4.ip_unprivileged_port_start=${port}`])).code, 0);
  const joined = await s.cli(['run', '-d', '--pod', 'sp', '--name', 'late', '--', 'sleep', '1000']);
  t.equal(joined.code, 0, joined.stderr);
  const seen = await s.cli(['exec', 'sp', 'late', '--', 'cat', PORT_START]);
  t.equal(seen.stdout.trim(), port, 'a container added later sees the pod sysctl');
});

t.test(
  'refused with one line naming the sysctl, nothing created: host-wide, not allowed, on the host network, rejected by the kernel',
  async (t) => {
    const s = testState(t);
    const dir = tempDir(t, 'bad-sysctls');
    const cases: [string[], RegExp][] = [
      [['-f', manifest(dir, [['vm.swappiness', '10']])], /sysctls\[0\]\.name: vm\.swappiness is not a namespaced sysctl/],
      [['-f', manifest(dir, [['kernel.msgmax', '1024']])], /sysctls\[0\]\.name: kernel\.msgmax is not one of Kubernetes' safe/],
      [['--network', 'host', '--sysctl', 'net.ipv4.tcp_syncookies=1', '--', 'true'], /tcp_syncookies would change the host's network/],
      [
        ['--sysctl', 'net.ipv4.ip_unprivileged_port_start=lots', '--', 'true'],
        /sysctls\[0\]: net\.ipv4\.ip_unprivileged_port_start=lots: the kernel refused it \(EINVAL\)/,
      ],
    ];
    const before = read(PORT_START);
    for (const [args, error] of cases) {
      for (const mode of [[], ['-d']]) {
        const r = await s.cli(['run', ...mode, '--name', 'bad', ...args]);
        t.equal(r.code, 125, `${mode.join('')} ${args.join(' ')}`);
        t.match(r.stderr, error);
        t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
      }
    }
    await waitFor('no pod', () => s.store.names().length === 0 || undefined);
    t.same(s.store.names(), [], 'nothing created');
    t.equal(read(PORT_START), before, "the host's sysctl is untouched");
  },
);
