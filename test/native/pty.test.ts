// The addon's pseudo-terminals: openPty, setWindowSize, and spawn's controllingTerminal, with
// errors shaped like Node's own from both sides of the fork.
import t, { type Test } from 'tap';
import { closeSync, openSync, readFileSync, readlinkSync, writeSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { loadBinding, type ExitStatus, type PtyPair, type SpawnRequest } from '../../src/native/binding.js';
import { waitFor } from '../helpers/proc.js';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { cleanup } from '../helpers/cleanup.js';

if (!isRoot) t.plan(0, NOT_ROOT);

const b = loadBinding();
const PATH = 'PATH=/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * A pty whose fds still open are closed when the test ends. An fd closed by the test goes
 * through `close`, so the teardown never closes its number again: by then it may be another's.
 */
function pty(t: Test): PtyPair & { close(fd: number): void; handOver(fd: number): void } {
  const pair = b.openPty();
  const open = new Set([pair.master, pair.slave]);
  cleanup(t, 'close the pty', () => {
    for (const fd of open) closeSync(fd);
  });
  return {
    ...pair,
    close: (fd) => {
      open.delete(fd);
      closeSync(fd);
    },
    /** Something else (a stream) closes it now. */
    handOver: (fd) => open.delete(fd),
  };
}

/** octal flags of an fd, from /proc/self/fdinfo */
const fdFlags = (fd: number) => parseInt(/^flags:\s+(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1], 8);
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

/** Written through the slave after the command has exited: it reaches the master after all the command wrote. */
const MARK = '--end-of-output--';

/**
 * Runs `sh -c script` on the pty's slave; resolves with all it wrote and its status. What the
 * command wrote just before it exited may still be on its way through the terminal when its
 * exit is seen, and is lost if the slave side is closed meanwhile: the test keeps its copy of
 * the slave, writes MARK through it, and reads until MARK has arrived.
 */
async function onPty(t: Test, p: ReturnType<typeof pty>, script: string, req: Partial<SpawnRequest> = {}) {
  p.handOver(p.master);
  const reader = new ReadStream(p.master);
  let out = '';
  reader.on('data', (d: Buffer) => (out += d.toString()));
  const end = new Promise<string>((resolve) => {
    reader.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    reader.on('end', () => resolve('end'));
    reader.on('close', () => resolve('close'));
  });
  cleanup(t, 'destroy the reader', () => reader.destroy());
  const proc = b.spawn({
    path: '/bin/sh',
    argv: ['sh', '-c', script],
    env: [PATH],
    stdio: [p.slave, p.slave, p.slave],
    newSession: true,
    ...req,
  });
  const status = await new Promise<ExitStatus>((r) => new b.ExitWatch(proc.pidfd, r));
  closeSync(proc.pidfd);
  writeSync(p.slave, `${MARK}\n`);
  await waitFor('everything the command wrote', () => out.includes(MARK));
  p.close(p.slave);
  // read() gives EIO once the slave side is closed; libuv reports a POLLHUP seen after a short
  // read as EOF instead. Either is the normal end.
  t.match(await end, /^(EIO|end)$/, 'the master ends once the slave side is closed');
  return { out: out.slice(0, out.indexOf(MARK)), status };
}

t.test('openPty: a master and its slave, close-on-exec, the master non-blocking', async (t) => {
  const p = pty(t);
  t.match(p.path, /^\/dev\/pts\/\d+$/);
  t.equal(readlinkSync(`/proc/self/fd/${p.slave}`), p.path, 'the slave is the pts the path names');
  t.ok(fdFlags(p.master) & O_CLOEXEC, 'master O_CLOEXEC');
  t.ok(fdFlags(p.master) & O_NONBLOCK, 'master O_NONBLOCK');
  t.ok(fdFlags(p.slave) & O_CLOEXEC, 'slave O_CLOEXEC');
  t.notOk(fdFlags(p.slave) & O_NONBLOCK, 'slave blocking, as a program expects its terminal');
});

t.test('setWindowSize sizes the terminal the program sees', async (t) => {
  const p = pty(t);
  b.setWindowSize(p.master, 100, 40);
  const r = await onPty(t, p, 'stty size');
  t.equal(r.out, '40 100\r\n');
  t.same(r.status, { code: 0, signal: null, coreDumped: false });
});

t.test("controllingTerminal: the slave becomes the session's terminal", async (t) => {
  // /dev/tty opens only for a process with a controlling terminal (else ENXIO).
  // (Not `:`: a failed redirection of a special builtin makes sh exit.)
  const script = 'tty; if true 2>/dev/null </dev/tty; then echo has-ctty; else echo no-ctty; fi';
  const p = pty(t);
  const withCtty = await onPty(t, p, script, { controllingTerminal: true });
  t.equal(withCtty.out, `${p.path}\r\nhas-ctty\r\n`);
  const q = pty(t);
  const without = await onPty(t, q, script);
  t.equal(without.out, `${q.path}\r\nno-ctty\r\n`, 'without the option, a terminal on stdio is not the controlling one');
});

t.test("errors: Node-style, from the child's TIOCSCTTY and from setWindowSize", async (t) => {
  const p = pty(t);
  const attempt = (req: Partial<SpawnRequest>) => {
    try {
      b.spawn({ path: '/bin/true', argv: ['true'], env: [], stdio: [p.slave, p.slave, p.slave], ...req });
      return undefined;
    } catch (err) {
      return err as NodeJS.ErrnoException;
    }
  };
  t.match(
    attempt({ controllingTerminal: true }),
    {
      message: "EPERM: operation not permitted, ioctl 'TIOCSCTTY'",
      code: 'EPERM',
      syscall: 'ioctl',
      path: 'TIOCSCTTY',
    },
    'not a session leader: no terminal can be taken',
  );
  const devnull = openSync('/dev/null', 'r');
  cleanup(t, 'close /dev/null', () => closeSync(devnull));
  t.match(
    attempt({ controllingTerminal: true, newSession: true, stdio: [devnull, devnull, devnull] }),
    {
      message: "ENOTTY: inappropriate ioctl for device, ioctl 'TIOCSCTTY'",
      code: 'ENOTTY',
    },
    'stdin is not a terminal',
  );
  t.throws(() => b.setWindowSize(devnull, 80, 24), {
    code: 'ENOTTY',
    syscall: 'ioctl',
    path: 'TIOCSWINSZ',
    message: "ENOTTY: inappropriate ioctl for device, ioctl 'TIOCSWINSZ'",
  });
  t.throws(() => b.setWindowSize(p.master, 70000, 24), {
    name: 'RangeError',
    message: 'setWindowSize: cols must be an integer from 0 to 65535',
  });
  t.throws(() => b.setWindowSize(p.master, 80, 2.5), { name: 'RangeError' });
  t.throws(() => b.setWindowSize('1' as unknown as number, 80, 24), { name: 'TypeError', message: 'setWindowSize: fd must be a number' });
});
