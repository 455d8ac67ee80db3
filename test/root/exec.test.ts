// tspod exec end to end: a real pod started with the library, its record written to a state
// directory of the test's own, and the CLI run as a user would, finding the pod there. What the
// command is in (namespaces, its parent) is read from the host's /proc; what it sees, from what
// it prints.
import t, { type Test } from 'tap';
import { execFileSync, type SpawnOptions } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { ReadStream } from 'node:tty';
import { loadBinding, type ExitStatus, type SpawnedProcess } from '../../src/native/binding.js';
import { Pod } from '../../src/runtime/pod.js';
import { startTimeOf } from '../../src/native/identity.js';
import { StateStore } from '../../src/state/store.js';
import type { PodRecord } from '../../src/state/records.js';
import { newPodSpec, type ContainerSpec, type PodSpec, type SharedNamespace } from '../../src/pod/spec.js';
import { exec } from '../../src/cli/exec.js';
import { execRequest } from '../../src/runtime/exec.js';
import { FileIO, NOT_ROOT, isRoot } from '../helpers/root.js';
import { cleanup, tempDir } from '../helpers/cleanup.js';
import { alive, childrenOf, nsInode, procInfo, waitFor, type NsName } from '../helpers/proc.js';
import { cliPath, repoRoot, runCli, startCli, type CliRun } from '../helpers/cli.js';
import { testState } from '../helpers/state.js';

if (!isRoot) t.plan(0, NOT_ROOT);

const b = loadBinding();
const ALL_NS: NsName[] = ['net', 'ipc', 'uts', 'pid', 'mnt'];

const tspod = cliPath;

/** The environment of a tspod run: the test's, without tap's NODE_OPTIONS, plus `extra`. */
function cliEnv(root: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TSPOD_ROOT: root, ...extra };
  delete env.NODE_OPTIONS;
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

type ExecOptions = Pick<SpawnOptions, 'uid' | 'gid'> & { input?: string; env?: Record<string, string | undefined> };

/** Starts `tspod exec ARGS` with the state directory `root`; the teardown kills it (and so, by
 *  PDEATHSIG, its command). */
function startExec(t: Test, root: string, args: string[], opts: ExecOptions = {}): CliRun {
  const { env, ...rest } = opts;
  return startCli(t, ['exec', ...args], { ...rest, env: cliEnv(root, env) });
}

async function runExec(t: Test, root: string, args: string[], opts: ExecOptions = {}) {
  const { env, ...rest } = opts;
  return runCli(t, ['exec', ...args], { ...rest, env: cliEnv(root, env) });
}

const sh = (name: string, script: string, extra: Partial<ContainerSpec> = {}): ContainerSpec => ({
  name,
  command: ['/bin/sh', '-c', script],
  args: [],
  env: [],
  ...extra,
});

/**
 * A real pod, supervised by this test process, with its record in a state directory of its
 * own; `save()` writes the record again (after a container exited, say).
 */
async function startPod(t: Test, name: string, share: SharedNamespace[], containers: (dir: string) => ContainerSpec[]) {
  const dir = tempDir(t, name);
  const io = new FileIO(dir);
  const spec: PodSpec = { ...newPodSpec(name, containers(dir)), hostname: `${name}-host`, share, terminationGracePeriodSeconds: 5 };
  // Should this test process die (a tap timeout), the kernel ends the pod: nothing is left.
  const pod = await Pod.start(spec, { binding: b, io, cwd: dir, parentDeathSignal: constants.signals.SIGKILL });
  cleanup(t, 'kill the pod', () => pod.kill());
  const root = join(dir, 'state');
  const store = new StateStore(root);
  t.ok(store.reserve(name), "the pod name is reserved in the test's state directory");
  const save = (edit: (r: PodRecord) => void = () => {}) => {
    const record = pod.toRecord({ kind: 'foreground', pid: process.pid, startTime: startTimeOf(process.pid)! });
    edit(record);
    store.write(record);
  };
  save();
  const pids = Object.fromEntries(pod.containers.map((c) => [c.name, c.pid!]));
  return { pod, io, dir, root, store, save, pids };
}

t.test('the request: one setns on the pidfd into all five namespaces, nothing created', async (t) => {
  const C = b.constants;
  const base = { argv: ['ls', '-l'], env: ['PATH=/a::/b', 'HOME=/root'], cwd: '/srv', stdio: [5, 6, 7] };
  const req = execRequest(C, { pid: 42, pidfd: 9 }, { ...base, path: 'ls', tty: true, parentDeathSignal: 9 });
  t.same(req, {
    path: 'ls',
    searchPath: ['/a', '', '/b'],
    argv: ['ls', '-l'],
    env: ['PATH=/a::/b', 'HOME=/root'],
    cwd: '/srv',
    stdio: [5, 6, 7],
    joinNamespaces: [
      {
        fd: 9,
        type: C.CLONE_NEWNET | C.CLONE_NEWIPC | C.CLONE_NEWUTS | C.CLONE_NEWPID | C.CLONE_NEWNS,
        label: 'container pid 42 (net+ipc+uts+pid+mnt)',
      },
    ],
    newNamespaces: 0,
    parentDeathSignal: 9,
    newSession: true,
    controllingTerminal: true,
  });
  const withSlash = execRequest(C, { pid: 42, pidfd: 9 }, { ...base, path: './run', tty: false });
  t.equal(withSlash.searchPath, undefined, 'a path with a slash is not searched');
  t.equal(withSlash.controllingTerminal, false);
  t.notOk(withSlash.fs?.length, "no mounts: the container's own /proc is already there");
});

t.test('a pod sharing net, ipc, uts and pid', async (t) => {
  // app mounts a tmpfs that exists only in its own mount namespace, with a program in it (mount
  // needs SYS_ADMIN, beyond the default set).
  const { pod, dir, root, save, pids } = await startPod(t, 'exec-shared', ['net', 'ipc', 'uts', 'pid'], (dir) => {
    mkdirSync(join(dir, 'private'));
    return [
      sh(
        'app',
        [
          `mount -t tmpfs exec-private ${dir}/private`,
          `echo inside > ${dir}/private/marker`,
          `printf '#!/bin/sh\\necho hello from the container mount\\n' > ${dir}/private/hello`,
          `chmod 755 ${dir}/private/hello`,
          'exec sleep 1000',
        ].join(' && '),
        { env: [{ name: 'GREETING', value: 'hi' }], securityContext: { capabilities: { add: ['SYS_ADMIN'] } } },
      ),
      { name: 'once', command: ['true'], args: [], env: [] },
    ];
  });
  await waitFor('app to be set up', () => procInfo(pids.app)?.comm === 'sleep');
  await waitFor('once to exit', () => pod.containers[1].exit);
  save();

  t.test("the command's exit status is tspod's", async (t) => {
    const r = await runExec(t, root, ['exec-shared', 'app', '--', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
    t.equal(r.code, 7);
    t.equal(r.stdout, 'out\n', "stdout is the caller's");
    t.equal(r.stderr, 'err\n', "stderr is the caller's, and tspod adds nothing");
    const killed = await runExec(t, root, ['exec-shared', 'app', '--', 'sh', '-c', 'kill -KILL $$']);
    t.equal(killed.code, 137, 'killed by SIGKILL: 128+9');
  });

  t.test("-i: tspod's stdin reaches the command", async (t) => {
    const input = 'hello\nfrom the caller\n'.repeat(1000);
    const r = await runExec(t, root, ['-i', 'exec-shared', 'app', '--', 'cat'], { input });
    t.equal(r.code, 0);
    t.equal(r.stdout, input);
  });

  t.test("without -i, the command's stdin is /dev/null", async (t) => {
    const r = await runExec(t, root, ['exec-shared', 'app', '--', 'sh', '-c', 'cat; readlink /proc/self/fd/0'], {
      input: 'not for the command\n',
    });
    t.equal(r.code, 0);
    t.equal(r.stdout, '/dev/null\n');
  });

  t.test("the command is in all of the container's namespaces, and a child of tspod", async (t) => {
    const script = 'for n in net ipc uts pid mnt; do echo "$n $(stat -L -c %i /proc/self/ns/$n)"; done; exec sleep 1000';
    const run = startExec(t, root, ['exec-shared', 'app', '--', 'sh', '-c', script]);
    const seen = await waitFor('the inodes it sees', () => {
      const lines = run.stdout().trim().split('\n');
      return lines.length === 5 ? Object.fromEntries(lines.map((l) => l.split(' '))) : undefined;
    });
    for (const ns of ALL_NS) t.equal(Number(seen[ns]), nsInode(pids.app, ns), `it sees itself in the container's ${ns} namespace`);

    const cmd = await waitFor('the command, a child of tspod', () => childrenOf(run.child.pid!).find((p) => p.comm === 'sleep'));
    for (const ns of ALL_NS) t.equal(nsInode(cmd.pid, ns), nsInode(pids.app, ns), `from the host: in the container's ${ns} namespace`);
    t.equal(nsInode(cmd.pid, 'pid'), nsInode(pod.infra.pid, 'pid'), "the pod's PID namespace");
    t.not(nsInode(cmd.pid, 'mnt'), nsInode(pod.infra.pid, 'mnt'), "the container's mount namespace, not the infra's");
    t.not(nsInode(cmd.pid, 'mnt'), nsInode('thread-self', 'mnt'), "nor the host's");

    run.child.kill('SIGTERM');
    t.equal(await run.done, 143, "SIGTERM to tspod goes to the command; its status is tspod's");
    t.notOk(alive(cmd), 'the command is gone');
  });

  t.test('it sees what the container sees: its mounts, /proc, hostname and environment', async (t) => {
    const r = await runExec(t, root, ['exec-shared', 'app', '--', 'cat', `${dir}/private/marker`]);
    t.equal(r.stdout, 'inside\n', "a tmpfs mounted in the container's own mount namespace");
    t.notOk(existsSync(join(dir, 'private', 'marker')), 'which the host does not see');
    const prog = await runExec(t, root, ['exec-shared', 'app', '--', `${dir}/private/hello`]);
    t.equal(prog.stdout, 'hello from the container mount\n', 'a program that exists only in the container runs');

    const ps = await runExec(t, root, ['exec-shared', 'app', '--', 'ps', '-e', '-o', 'pid=,comm=']);
    const procs = ps.stdout
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/));
    t.same(procs[0], ['1', 'pause'], 'ps shows the pod: pause is PID 1');
    t.ok(
      procs.some(([, comm]) => comm === 'sleep'),
      "and the container's process",
    );
    t.notOk(
      procs.some(([, comm]) => comm === 'node'),
      'and nothing of the host',
    );

    const env = await runExec(t, root, ['exec-shared', 'app', '--', 'sh', '-c', 'hostname; pwd; env | sort'], {
      env: { SECRET_OF_TSPOD: 'leak', TERM: 'vt100' },
    });
    t.equal(
      env.stdout,
      [
        'exec-shared-host',
        '/',
        'GREETING=hi',
        'HOME=/root',
        'HOSTNAME=exec-shared-host',
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'PWD=/',
        '',
      ].join('\n'),
      "the container's environment exactly (sh adds PWD); no TERM without -t",
    );
  });

  t.test('-t: a pseudo-terminal, as the controlling terminal', async (t) => {
    const script =
      'tty; test -t 0 && test -t 1 && echo stdin-and-stdout-are-a-tty; echo "TERM=$TERM"; : </dev/tty && echo has-ctty; exit 3';
    const r = await runExec(t, root, ['-t', 'exec-shared', 'app', '--', 'sh', '-c', script], { env: { TERM: undefined } });
    t.equal(r.code, 3, 'the status passes through with -t too');
    t.match(r.stdout, /^\/dev\/pts\/\d+\r\nstdin-and-stdout-are-a-tty\r\nTERM=xterm\r\nhas-ctty\r\n$/);
    t.equal(r.stderr, '');
    const term = await runExec(t, root, ['-t', 'exec-shared', 'app', '--', 'sh', '-c', 'echo "TERM=$TERM"'], { env: { TERM: 'vt100' } });
    t.equal(term.stdout, 'TERM=vt100\r\n', "TERM is the caller's when it has one");
  });

  t.test('-t without -i: the terminal gets no input', async (t) => {
    const r = await runExec(t, root, ['-t', 'exec-shared', 'app', '--', 'sh', '-c', 'timeout 0.5 cat; echo end'], {
      input: 'not for the command\n',
    });
    t.equal(r.stdout, 'end\r\n');
  });

  t.test('-i -t with a pipe: input through the terminal, ^D at its end', async (t) => {
    // The terminal echoes the input as it arrives: only what wc prints after it is compared.
    const r = await runExec(t, root, ['-it', 'exec-shared', 'app', '--', 'sh', '-c', 'wc -c; echo "wc ended"'], { input: 'one\ntwo' });
    t.equal(r.code, 0);
    t.match(r.stdout, /(^|\D)7\r\nwc ended\r\n$/, 'a last line without newline is delivered too, then EOF');
  });

  t.test('-i -t: more input than the terminal holds, while the command is not reading yet', async (t) => {
    // The pty's queue fills (EAGAIN on the master): tspod waits and retries, and keeps relaying
    // the echo meanwhile, so neither side blocks the other.
    const input = ('x'.repeat(63) + '\n').repeat(3000);
    const r = await runExec(t, root, ['-it', 'exec-shared', 'app', '--', 'sh', '-c', 'sleep 0.5; wc -c'], { input });
    t.equal(r.code, 0);
    t.match(r.stdout, /(^|\D)192000\r\n$/, 'every byte arrived, then EOF');
  });

  t.test('SIGKILL of tspod takes the command with it', async (t) => {
    const run = startExec(t, root, ['exec-shared', 'app', '--', 'sleep', '1000']);
    const cmd = await waitFor('the command', () => childrenOf(run.child.pid!).find((p) => p.comm === 'sleep'));
    run.child.kill('SIGKILL');
    t.equal(await run.done, 137);
    await waitFor('the command to die with tspod', () => !alive(cmd), 5000).catch(() => false);
    t.notOk(alive(cmd), 'the command is gone (parent-death signal)');
  });

  t.test('a command that cannot be found or run: 127 / 126, and why', async (t) => {
    const nf = await runExec(t, root, ['exec-shared', 'app', '--', 'no-such-cmd-xyz', 'arg']);
    t.equal(nf.code, 127);
    t.equal(
      nf.stderr,
      'tspod: container app of pod exec-shared: command not found: "no-such-cmd-xyz" is not in the container\'s ' +
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n',
    );
    const abs = await runExec(t, root, ['exec-shared', 'app', '--', '/nonexistent/cmd']);
    t.equal(abs.code, 127);
    t.equal(abs.stderr, 'tspod: container app of pod exec-shared: command not found: /nonexistent/cmd does not exist in the container\n');
    const dirCmd = await runExec(t, root, ['exec-shared', 'app', '--', '/tmp']);
    t.equal(dirCmd.code, 126);
    t.equal(
      dirCmd.stderr,
      'tspod: container app of pod exec-shared: cannot run /tmp: permission denied (not executable, or a directory)\n',
    );
    const tty = await runExec(t, root, ['-t', 'exec-shared', 'app', '--', 'no-such-cmd-xyz']);
    t.equal(tty.code, 127, 'with -t as well');
    t.equal(tty.stdout, '');
  });

  t.test("tspod's own errors: one line naming the culprit, status 125", async (t) => {
    const cases: [string[], RegExp][] = [
      [['no-such-pod', 'app', '--', 'true'], /^tspod: pod "no-such-pod" does not exist\n$/],
      [['exec-shared', 'zzz', '--', 'true'], /^tspod: pod "exec-shared" has no container "zzz" \(its containers: app, once\)\n$/],
      [['exec-shared', 'once', '--', 'true'], /^tspod: container once of pod exec-shared is not running \(it is exited\)\n$/],
      [['Bad_Name', 'app', '--', 'true'], /^tspod: pod: .*\n$/],
    ];
    for (const [args, message] of cases) {
      const r = await runExec(t, root, args);
      t.equal(r.code, 125, args.slice(0, 2).join(' '));
      t.match(r.stderr, message);
      t.equal(r.stdout, '');
    }
  });

  t.test("a record whose process is not the container's any more is never entered", async (t) => {
    // The recorded pid runs, but started at another time: a reused pid, as far as tspod knows.
    const stale = join(dir, 'stale-state');
    const store = new StateStore(stale);
    store.reserve('exec-shared');
    const record = pod.toRecord({ kind: 'foreground', pid: process.pid, startTime: startTimeOf(process.pid)! });
    record.containers[0].process!.startTime = '1';
    store.write(record);
    const r = await runExec(t, stale, ['exec-shared', 'app', '--', 'true']);
    t.equal(r.code, 125);
    t.equal(r.stderr, `tspod: container app of pod exec-shared is not running: its process (pid ${pids.app}) has exited\n`);
  });

  t.test('exec() takes the state directory from its root option', async (t) => {
    await t.rejects(exec('no-such-pod', 'app', ['true'], { root }), { message: 'pod "no-such-pod" does not exist', exitCode: 125 });
  });

  t.test('not root: says root is needed, and why', async (t) => {
    const r = await runExec(t, root, ['exec-shared', 'app', '--', 'true'], { uid: 65534, gid: 65534 });
    t.equal(r.code, 125);
    t.equal(r.stderr, "tspod: tspod exec needs root: it joins a container's namespaces with setns (CAP_SYS_ADMIN); run it with sudo\n");
  });
});

t.test("a pod without PID sharing: the command joins the container's own PID namespace", async (t) => {
  const { root, pids, pod } = await startPod(t, 'exec-solo', ['net', 'ipc', 'uts'], () => [
    sh('solo', 'exec sleep 1000', { workingDir: '/tmp' }),
  ]);
  await waitFor('solo to reach sleep', () => procInfo(pids.solo)?.comm === 'sleep');
  const r = await runExec(t, root, ['exec-solo', 'solo', '--', 'sh', '-c', 'pwd; ps -e -o pid=,comm=']);
  t.equal(r.code, 0);
  const [cwd, ...ps] = r.stdout.trim().split('\n');
  t.equal(cwd, '/tmp', "the container's workingDir");
  const procs = ps.map((l) => l.trim().split(/\s+/));
  t.same(procs[0], ['1', 'sleep'], "the container's process is PID 1");
  t.same(
    procs.map(([, comm]) => comm),
    ['sleep', 'sh', 'ps'],
    'no pause: only the container and the command',
  );
  t.not(nsInode(pids.solo, 'pid'), nsInode(pod.infra.pid, 'pid'));
});

t.test('on a terminal of its own, -it: raw mode, window size, Ctrl-C, and the terminal restored', async (t) => {
  const { root, pids } = await startPod(t, 'exec-tty', ['net', 'ipc', 'uts', 'pid'], () => [sh('app', 'exec sleep 1000')]);
  await waitFor('app to reach sleep', () => procInfo(pids.app)?.comm === 'sleep');

  /**
   * tspod exec -it on a new terminal (its controlling one), sized 120x33. The test keeps a copy
   * of the slave until the end, so the terminal outlives tspod and can be looked at after.
   */
  const onTerminal = (t: Test, script: string) => {
    const outer = b.openPty();
    b.setWindowSize(outer.master, 120, 33);
    const env = Object.entries(cliEnv(root, { TERM: 'xterm' })).map(([k, v]) => `${k}=${v}`);
    let proc: SpawnedProcess;
    try {
      proc = b.spawn({
        path: process.execPath,
        argv: [process.execPath, tspod, 'exec', '-it', 'exec-tty', 'app', '--', 'sh', '-c', script],
        env,
        cwd: repoRoot,
        stdio: [outer.slave, outer.slave, outer.slave],
        newSession: true,
        controllingTerminal: true,
      });
    } catch (err) {
      closeSync(outer.slave);
      closeSync(outer.master);
      throw err;
    }
    const exited = new Promise<ExitStatus>((r) => new b.ExitWatch(proc.pidfd, r));
    const reader = new ReadStream(outer.master);
    let out = '';
    reader.on('data', (d: Buffer) => (out += d.toString()));
    reader.on('error', () => {});
    cleanup(t, 'kill the exec', async () => {
      try {
        b.pidfdSendSignal(proc.pidfd, 9);
      } catch {
        // already gone
      }
      await exited;
      closeSync(proc.pidfd);
      reader.destroy();
      closeSync(outer.slave);
    });
    const stty = () => execFileSync('stty', ['-F', outer.path, '-a'], { encoding: 'utf8' });
    const raw = () => /(^|\s)-icanon(\s|$)/.test(stty()) && /(^|\s)-echo(\s|$)/.test(stty());
    return { outer, exited, output: () => out, raw, stty, pid: proc.pid, pidfd: proc.pidfd };
  };

  t.test("window size from tspod's terminal, and SIGWINCH follows it; typing reaches the command", async (t) => {
    const script = [
      'stty size',
      'while sleep 0.05; do s=$(stty size); if [ "$s" != "33 120" ]; then echo "resized to $s"; break; fi; done',
      'read line; echo "got $line"; exit 5',
    ].join('; ');
    const term = onTerminal(t, script);
    await waitFor('the first size', () => term.output().includes('33 120'));
    t.ok(term.raw(), "tspod's terminal is in raw mode while the command runs");
    b.setWindowSize(term.outer.master, 90, 20);
    await waitFor('the new size', () => term.output().includes('resized to 20 90'));
    writeMaster(term.outer.master, 'typed\r');
    const status = await term.exited;
    t.equal(status.code, 5);
    // What tspod relayed last may still be on its way through the terminal when it has exited.
    await waitFor("the command's last line", () => term.output().includes('got typed'));
    t.notOk(term.raw(), 'the terminal is restored');
    t.match(term.stty(), /(^|\s)icanon(\s|$)/);
  });

  t.test('Ctrl-C goes to the command, through its terminal', async (t) => {
    const term = onTerminal(t, 'trap "echo got-SIGINT; exit 9" INT; echo ready; while :; do sleep 0.05; done');
    await waitFor('the command', () => term.output().includes('ready'));
    writeMaster(term.outer.master, '\x03');
    const status = await term.exited;
    t.equal(status.code, 9, "the command's trap ran; tspod returned its status");
    await waitFor("the trap's line", () => term.output().includes('got-SIGINT'));
    t.notOk(term.raw(), 'the terminal is restored');
  });

  t.test('SIGTERM to tspod: passed on, and the terminal restored', async (t) => {
    const term = onTerminal(t, 'echo ready; exec sleep 1000');
    await waitFor('the command', () => term.output().includes('ready') && term.raw());
    b.pidfdSendSignal(term.pidfd, 15);
    const status = await term.exited;
    t.equal(status.code, 143);
    t.notOk(term.raw(), 'the terminal is restored');
  });
});

/** Types on a terminal: writes to its (non-blocking) master. */
function writeMaster(fd: number, text: string): void {
  writeFileSync(fd, text);
}

t.test('exec into a pod made by run -d and into a live foreground run', async (t) => {
  const s = testState(t);
  await s.cli(['run', '-d', '--name', 'det', '--', 'sleep', '1000']);
  const e1 = await s.cli(['exec', 'det', 'det', '--', 'cat', '/proc/1/comm']);
  t.equal(e1.stdout, 'pause\n', 'PID 1 seen from an exec is pause');
  const fg = s.start(['run', '--name', 'fgx', '--', 'sleep', '1000']);
  await waitFor('the foreground pod', () => s.store.read('fgx')?.containers[0]?.state === 'running');
  const e2 = await s.cli(['exec', 'fgx', 'fgx', '--', 'sh', '-c', 'hostname; exit 3']);
  t.equal(e2.stdout, 'fgx\n');
  t.equal(e2.code, 3, "its status is tspod's");
  fg.child.kill('SIGTERM');
  await fg.done;
});
