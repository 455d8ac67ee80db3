// A real pod through the library API: namespaces are compared by their inodes in /proc, and
// what the containers see is what they print.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { constants, hostname } from 'node:os';
import { connect } from 'node:net';
import { closeSync, constants as fsConstants, openSync, readdirSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBinding } from '../../src/native/binding.js';
import { Pod } from '../../src/runtime/pod.js';
import { newPodSpec, type ContainerSpec, type PodSpec, type SharedNamespace } from '../../src/pod/spec.js';
import { FileIO, NOT_ROOT, isRoot } from '../helpers/root.js';
import { cleanup, tempDir } from '../helpers/cleanup.js';
import { freeHostPort } from '../helpers/net.js';
import { alive, nsInode, procInfo, processesInPidNs, waitFor, type NsName } from '../helpers/proc.js';

if (!isRoot) t.plan(0, NOT_ROOT);

const sh = (name: string, script: string): ContainerSpec => ({ name, command: ['/bin/sh', '-c', script], args: [], env: [] });

async function startPod(t: Test, name: string, share: SharedNamespace[], containers: (dir: string) => ContainerSpec[]) {
  const dir = tempDir(t, name);
  const io = new FileIO(dir);
  const spec: PodSpec = { ...newPodSpec(name, containers(dir)), hostname: `${name}-host`, share, terminationGracePeriodSeconds: 5 };
  // Should this test process die (a tap timeout), the kernel ends the pod: nothing is left.
  const pod = await Pod.start(spec, { binding: loadBinding(), io, cwd: dir, parentDeathSignal: constants.signals.SIGKILL });
  const podPidNs = nsInode(pod.infra.pid, 'pid');
  cleanup(t, 'kill the pod', () => pod.kill());
  const pids = Object.fromEntries(pod.containers.map((c) => [c.name, c.pid!]));
  /** Ends the pod and checks that nothing of it is left. */
  const finish = async () => {
    await pod.kill();
    t.same(processesInPidNs(podPidNs), [], 'no process of the pod is left');
  };
  return { pod, io, dir, pids, finish };
}

t.test("containers share the infra's net, ipc, uts and pid namespaces; mnt is their own", async (t) => {
  const { pod, io, dir, pids, finish } = await startPod(t, 'share-all', ['net', 'ipc', 'uts', 'pid'], (dir) => [
    sh('a', 'hostname; ipcmk -Q; exec sleep 1000'),
    sh('b', 'until ipcs -q | grep -q "^0x"; do sleep 0.05; done; hostname; ipcs -q; exec sleep 1000'),
    sh('c', `until [ -e ${dir}/go ]; do sleep 0.05; done; exec ps -e -o pid=,comm=`),
  ]);
  const infra = pod.infra.pid;
  for (const name of ['a', 'b', 'c']) {
    for (const ns of ['net', 'ipc', 'uts', 'pid'] as NsName[]) {
      t.equal(nsInode(pids[name], ns), nsInode(infra, ns), `${name} is in the infra's ${ns} namespace`);
    }
    t.not(nsInode(pids[name], 'mnt'), nsInode(infra, 'mnt'), `${name} has a mount namespace of its own`);
  }
  t.not(nsInode(pids.a, 'mnt'), nsInode(pids.b, 'mnt'), 'each container its own mount namespace');
  t.not(nsInode(infra, 'net'), nsInode('thread-self', 'net'), "the pod network is not the host's");

  await waitFor('a and b to reach sleep', () => procInfo(pids.a)?.comm === 'sleep' && procInfo(pids.b)?.comm === 'sleep');
  writeFileSync(join(dir, 'go'), '');
  await waitFor('c to finish ps', () => pod.containers[2].exit);
  const ps = io
    .output('c')
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/));
  t.same(ps[0], ['1', 'pause'], 'PID 1 of the pod is pause');
  t.equal(ps.filter(([, comm]) => comm === 'sleep').length, 2, "c sees the other containers' processes");

  t.equal(io.output('a').split('\n')[0], 'share-all-host', 'a sees the pod hostname');
  t.equal(io.output('b').split('\n')[0], 'share-all-host', 'b sees the pod hostname');
  t.not(hostname(), 'share-all-host', 'the host keeps its own hostname');

  const key = /^(0x[0-9a-f]+)\s/m.exec(io.output('b'))?.[1];
  t.ok(key, 'b lists the message queue a created');
  t.notMatch(execFileSync('ipcs', ['-q'], { encoding: 'utf8' }), key!, 'the host does not see it');
  await finish();
});

t.test('without PID sharing, each container is PID 1 of its own PID namespace', async (t) => {
  const { pod, io, pids, finish } = await startPod(t, 'share-some', ['net', 'ipc', 'uts'], () => [
    { name: 'solo', command: ['ps', '-e', '-o', 'pid=,comm='], args: [], env: [] },
    sh('other', 'exec sleep 1000'),
  ]);
  await waitFor('solo to finish', () => pod.containers[0].exit);
  const ps = io
    .output('solo')
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/));
  t.same(ps, [['1', 'ps']], "the container's own process is PID 1, and alone");
  t.not(nsInode(pids.other, 'pid'), nsInode(pod.infra.pid, 'pid'));
  t.equal(nsInode(pids.other, 'net'), nsInode(pod.infra.pid, 'net'), 'net is still shared');
  await finish();
});

t.test('two containers talk over 127.0.0.1; the host cannot reach them', async (t) => {
  // Free on the host too: the host's own 127.0.0.1:port must refuse below.
  const port = await freeHostPort();
  const server =
    "require('net').createServer((s) => s.end('hello from ' + require('os').hostname()))" +
    `.listen(${port}, '127.0.0.1', () => console.log('listening'))`;
  const client =
    `const go = () => { const s = require('net').connect(${port}, '127.0.0.1'); let d = ''; s.on('data', (c) => (d += c)); ` +
    "s.on('end', () => console.log(d)); s.on('error', () => setTimeout(go, 50)); }; go();";
  const { pod, io, finish } = await startPod(t, 'loopback', ['net', 'ipc', 'uts', 'pid'], () => [
    { name: 'server', command: [process.execPath, '-e', server], args: [], env: [] },
    { name: 'client', command: [process.execPath, '-e', client], args: [], env: [] },
  ]);
  await waitFor('the client to finish', () => pod.containers[1].exit);
  t.equal(pod.containers[1].exit?.code, 0);
  t.equal(io.output('client').trim(), 'hello from loopback-host');
  const fromHost = await new Promise<string>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
  t.equal(fromHost, 'ECONNREFUSED', "the pod's 127.0.0.1 is not the host's");
  await finish();
});

t.test('pause reaps the orphans a container leaves behind', async (t) => {
  // The orphans each open a FIFO and block reading it; the test holds its only writer, opened
  // before they start (O_RDWR: that open never waits), and closes it once every one of them has
  // it open: they all read EOF and exit at once. No timing involved: a cat still starting when
  // the writer closed would wait for another writer for ever (it did, on 6.12 under TCG, when
  // the test opened and closed a writer once the cats merely existed).
  let writer: number | undefined;
  cleanup(t, 'close the FIFO writer', () => writer !== undefined && closeSync(writer));
  const { pod, dir, finish } = await startPod(t, 'orphans', ['net', 'ipc', 'uts', 'pid'], (dir) => {
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    writer = openSync(join(dir, 'fifo'), fsConstants.O_RDWR);
    return [sh('keeper', 'exec sleep 1000'), sh('parent', `for i in $(seq 100); do cat ${dir}/fifo >/dev/null & done; exit 0`)];
  });
  const podNs = nsInode(pod.infra.pid, 'pid');
  // As /proc/PID/fd shows it: the path with every symlink resolved.
  const fifo = realpathSync(join(dir, 'fifo'));
  const hasFifo = (pid: number) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`) === fifo);
    } catch {
      return false;
    }
  };
  await waitFor('the parent to exit', () => pod.containers[1].exit);
  const orphans = await waitFor('100 orphans adopted by pause, each with the FIFO open', () => {
    const cats = processesInPidNs(podNs).filter((p) => p.comm === 'cat');
    return cats.length === 100 && cats.every((p) => p.ppid === pod.infra.pid && hasFifo(p.pid)) ? cats : undefined;
  });
  t.equal(orphans.length, 100, '100 orphans, all children of pause now');
  closeSync(writer!);
  writer = undefined;
  // On a timeout, say what the ones left are doing: zombies (pause did not reap) or asleep.
  await waitFor('the orphans to end', () => orphans.every((p) => !alive(p))).catch((err: Error) => {
    const left = orphans.filter((p) => alive(p)).map((p) => `${p.pid} ${procInfo(p.pid)?.state}`);
    throw new Error(`${err.message}: ${left.length} left (pid state): ${left.slice(0, 10).join(', ')}`);
  });
  const zombies = await waitFor(
    'no zombie in the pod',
    () => {
      const z = processesInPidNs(podNs).filter((p) => p.state === 'Z');
      return z.length === 0 ? [] : undefined;
    },
    3000,
  ).catch(() => processesInPidNs(podNs).filter((p) => p.state === 'Z'));
  t.same(zombies, [], 'every orphan was reaped');
  await finish();
});
