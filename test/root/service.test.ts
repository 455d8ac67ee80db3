// tspod monitor run by a service manager, as examples/systemd/tspod.service runs it: readiness
// told on NOTIFY_SOCKET (sd_notify's datagrams, received here by a socket of the test's own),
// and, in a cgroup delegated to it (marked trusted.delegate=1, as systemd marks one), the pods'
// cgroups made there and the monitor moved into a leaf of it. No systemd is needed: the test
// plays its part.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { cliPath, repoRoot } from '../helpers/cli.js';
import { cleanup, owned, tempDir } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/proc.js';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { testState } from '../helpers/state.js';
import { findV2Hierarchy } from '../../src/cgroup/hierarchy.js';
import { loadBinding } from '../../src/native/binding.js';
import type { PodRecord } from '../../src/state/records.js';

const v2 = findV2Hierarchy();
const skip = !isRoot ? NOT_ROOT : !v2 ? 'needs a cgroup v2 hierarchy' : undefined;
if (skip) t.plan(0, skip);

/** A unix datagram socket at `path` that collects what it receives (python3: Node has none). */
function datagramSink(t: Test, path: string) {
  const script =
    'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("bound",flush=True)\n' +
    'while True:\n  d=s.recv(4096)\n  print(repr(d.decode()),flush=True)\n';
  const child = owned(t, spawn('python3', ['-c', script, path], { stdio: ['ignore', 'pipe', 'inherit'] }));
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  return { lines: () => out.split('\n').filter(Boolean) };
}

/**
 * A cgroup marked as systemd marks one it delegated (trusted.delegate=1), removed at the end;
 * and the test's state, registered after it so that its monitor and pods go first.
 */
function delegatedCgroup(t: Test) {
  const unit = `/tspod-test-service-${randomBytes(3).toString('hex')}`;
  const dir = v2!.mount + unit;
  cleanup(t, `remove the cgroup ${dir}`, () => {
    for (const d of [join(dir, 'supervisor'), dir]) if (existsSync(d)) rmdirSync(d);
  });
  const s = testState(t);
  mkdirSync(dir);
  loadBinding().lsetxattr(dir, 'trusted.delegate', Buffer.from('1'));
  return { unit, dir, s };
}

/** `tspod monitor` as systemd starts a service: placed in `cgroup` (a directory), then exec'd. */
function startService(t: Test, root: string, cgroup: string, env: NodeJS.ProcessEnv) {
  const script = `echo $$ > ${cgroup}/cgroup.procs && exec /usr/bin/env -u NODE_OPTIONS "$0" "$1" --root "$2" monitor`;
  return owned(t, spawn('/bin/sh', ['-c', script, process.execPath, cliPath, root], { cwd: repoRoot, env, stdio: 'ignore' }));
}

const cgroupOf = (pid: number) =>
  readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'));

t.test(
  'tspod monitor under a service manager: READY=1 with its pid, pods in the cgroup delegated to it, STOPPING=1, ' +
    'and a restart in its leaf adopts them',
  async (t) => {
    const { unit, dir, s } = delegatedCgroup(t);
    const socket = join(tempDir(t, 'notify'), 'notify.sock');
    const sink = datagramSink(t, socket);
    await waitFor('the socket to be bound', () => sink.lines().includes('bound'));

    const said = (what: string) => sink.lines().filter((l) => l.includes(what));
    const env = { ...process.env, NOTIFY_SOCKET: socket };

    const monitor = startService(t, s.root, dir, env);
    await waitFor('READY=1', () => said('READY=1').length === 1);
    t.match(said('READY=1')[0], new RegExp(`READY=1\\\\nMAINPID=${monitor.pid}\\\\nSTATUS=serving ${s.store.paths.socket}`));
    t.equal(cgroupOf(monitor.pid!), `0::${unit}/supervisor`, 'the monitor moved into a leaf of its cgroup');

    const r = await s.cli(['run', '-d', '--name', 'svc', '--', 'sleep', '1000']);
    t.equal(r.code, 0, r.stderr);
    const rec = s.store.read('svc') as PodRecord;
    t.match(rec.cgroup?.name, new RegExp(`^${unit}/svc-[0-9a-f]{8}$`), "the pod's cgroup is below the delegated one");
    t.equal(rec.supervisor.pid, monitor.pid, 'and the service monitor runs it');

    monitor.kill('SIGTERM');
    await waitFor('STOPPING=1', () => said('STOPPING=1').length === 1);
    // With DelegateSubgroup=supervisor (systemd 254+), systemd starts it in the leaf.
    const restarted = startService(t, s.root, `${dir}/supervisor`, env);
    await waitFor('READY=1 again', () => said('READY=1').length === 2);
    t.equal(cgroupOf(restarted.pid!), `0::${unit}/supervisor`, 'restarted in the leaf, it stays there');
    t.equal((s.store.read('svc') as PodRecord).supervisor.pid, restarted.pid, 'and has adopted the pod');
    t.equal((await s.cli(['rm', '-f', 'svc'])).code, 0);
    t.notOk(existsSync(v2!.mount + rec.cgroup!.name), "the pod's cgroup is gone");
    restarted.kill('SIGTERM');
    await waitFor('STOPPING=1 again', () => said('STOPPING=1').length === 2);
    t.ok(existsSync(dir), "the delegated cgroup is the service manager's: it stays");
  },
);

t.test('a monitor no service manager started (no NOTIFY_SOCKET) keeps its pods in /tspod, even in a delegated cgroup', async (t) => {
  const { unit, dir, s } = delegatedCgroup(t);
  const env = { ...process.env };
  delete env.NOTIFY_SOCKET;
  const monitor = startService(t, s.root, dir, env);
  await waitFor('the monitor to serve', () => existsSync(s.store.paths.socket));
  const r = await s.cli(['run', '-d', '--name', 'bg', '--', 'sleep', '1000']);
  t.equal(r.code, 0, r.stderr);
  const rec = s.store.read('bg') as PodRecord;
  t.equal(rec.supervisor.pid, monitor.pid, 'that monitor runs the pod');
  t.match(rec.cgroup?.name, /^\/tspod\/bg-[0-9a-f]{8}$/, 'in /tspod');
  t.equal(cgroupOf(monitor.pid!), `0::${unit}`, 'it did not move');
  t.equal((await s.cli(['rm', '-f', 'bg'])).code, 0);
  monitor.kill('SIGTERM');
  await new Promise((resolve) => monitor.once('close', resolve));
});
