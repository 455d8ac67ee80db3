// The addon's FdReader: a non-blocking fd read to its true end (read() giving 0 or EIO), which
// is what tspod exec -t relays a pty with. A libuv stream stops at the pty's hang-up and lost
// up to the last 64 kB a command wrote (7 of 20 runs of exec -it under load, before).
import t, { type Test } from 'tap';
import { closeSync, writeSync } from 'node:fs';
import { loadBinding, type ExitStatus } from '../../src/native/binding.js';
import { waitFor } from '../helpers/proc.js';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { cleanup } from '../helpers/cleanup.js';

if (!isRoot) t.plan(0, NOT_ROOT);

const b = loadBinding();
const PATH = 'PATH=/usr/sbin:/usr/bin:/sbin:/bin';

/** Everything read from `fd` until onEnd, and the error onEnd got. */
function readAll(fd: number) {
  const chunks: Buffer[] = [];
  let reader!: InstanceType<typeof b.FdReader>;
  const ended = new Promise<NodeJS.ErrnoException | null>((resolve) => {
    reader = new b.FdReader(fd, (c) => chunks.push(c), resolve);
  });
  return { reader, ended, text: () => Buffer.concat(chunks).toString('latin1') };
}

/** `sh -c script` on a new pty's slave (the test's copy closed at once); the master is read. */
function onPty(t: Test, script: string) {
  const pty = b.openPty();
  cleanup(t, 'close the pty master', () => closeSync(pty.master));
  const proc = b.spawn({
    path: '/bin/sh',
    argv: ['sh', '-c', script],
    env: [PATH],
    stdio: [pty.slave, pty.slave, pty.slave],
    newSession: true,
  });
  closeSync(pty.slave);
  const exited = new Promise<ExitStatus>((r) => new b.ExitWatch(proc.pidfd, r));
  cleanup(t, 'kill the shell', async () => {
    try {
      b.pidfdSendSignal(proc.pidfd, 9);
    } catch {
      // gone
    }
    await exited;
    closeSync(proc.pidfd);
  });
  return { pty, exited, ...readAll(pty.master) };
}

t.test('a pty is read to its end: every byte a command wrote before it exited, then onEnd(null)', async (t) => {
  // 300,000 bytes: more than the terminal buffers, so some are still there when the command exits.
  for (let round = 0; round < 5; round++) {
    const p = onPty(t, "head -c 300000 /dev/zero | tr '\\0' x; echo END");
    t.equal(await p.ended, null, 'EIO, the normal end of a pty master, is not an error');
    t.equal((await p.exited).code, 0);
    const out = p.text();
    t.equal(out.length, 300_000 + 'END\r\n'.length, `round ${round}: every byte`);
    t.ok(out.endsWith('xEND\r\n'), 'the last line is there');
  }
});

t.test('pause() holds the fd (its writer waits), resume() reads on; close() stops without onEnd', async (t) => {
  const [readEnd, writeEnd] = b.pipe();
  cleanup(t, 'close the write end', () => closeSync(writeEnd));
  const { reader, ended, text } = readAll(readEnd);
  cleanup(t, 'close the read end', () => closeSync(readEnd));
  reader.pause();
  writeSync(writeEnd, 'one');
  // Nothing happening has no event to wait for: a bounded look is the only way to see it.
  await new Promise((r) => setTimeout(r, 50));
  t.equal(text(), '', 'nothing read while paused');
  reader.resume();
  await waitFor('what was written while paused', () => text() === 'one');
  reader.close();
  writeSync(writeEnd, 'two');
  let endCalled = false;
  void ended.then(() => (endCalled = true));
  await new Promise((r) => setTimeout(r, 50));
  t.equal(text(), 'one', 'nothing read after close');
  t.notOk(endCalled, 'and onEnd is not called');
});

t.test("a pipe's end is read() giving 0: onEnd(null) after the last byte", async (t) => {
  const [readEnd, writeEnd] = b.pipe();
  const { ended, text } = readAll(readEnd);
  cleanup(t, 'close the read end', () => closeSync(readEnd));
  writeSync(writeEnd, 'last words');
  closeSync(writeEnd);
  t.equal(await ended, null);
  t.equal(text(), 'last words');
});

t.test('bad arguments are TypeErrors; an fd that cannot be polled is an errno error', async (t) => {
  t.throws(
    () =>
      new b.FdReader(
        '1' as unknown as number,
        () => {},
        () => {},
      ),
    {
      name: 'TypeError',
      message: 'FdReader(fd: number, onData: function, onEnd: function)',
    },
  );
  t.throws(
    () =>
      new b.FdReader(
        987654,
        () => {},
        () => {},
      ),
    { code: 'EBADF', syscall: 'uv_poll_init' },
  );
});
