// Published ports in the default network mode: the monitor forwards in user space into the
// pod's network namespace. Traffic only on loopback addresses (127.0.0.1, 127.0.0.2, ::1).
import t from 'tap';
import { createSocket } from 'node:dgram';
import { connect, createServer, type Socket } from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';
import { NOT_ROOT, isRoot } from '../helpers/root.js';
import { waitFor } from '../helpers/proc.js';
import { fetchInPod, freeHostPort } from '../helpers/net.js';
import { testState, type TestState } from '../helpers/state.js';
import type { PodRecord } from '../../src/state/records.js';
import { cleanup } from '../helpers/cleanup.js';

if (!isRoot) t.plan(0, NOT_ROOT);

/** A line echo server on TCP and UDP port 7 of the pod, written for node -e. */
const ECHO = `
  const net = require('net'), dgram = require('dgram');
  net.createServer((s) => s.pipe(s)).listen(7, () => console.log('tcp'));
  const u = dgram.createSocket('udp4');
  u.on('message', (m, r) => u.send(m, r.port, r.address));
  u.bind(7, () => console.log('udp'));`;

/** A TCP exchange: sends `line`, resolves with the first line back, or the error code. */
function ask(host: string, port: number, line: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    let got = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write(line + '\n'));
    s.on('data', (d: string) => {
      got += d;
      if (got.includes('\n')) {
        s.destroy();
        resolve(got.trim());
      }
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    // Closed without an answer (a FIN, no error): what came, if anything.
    s.on('close', () => resolve(got.trim()));
  });
}

function udpAsk(host: string, port: number, msg: string): Promise<string> {
  return new Promise((resolve) => {
    const u = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      u.close();
      resolve('timeout');
    }, 3000);
    u.on('message', (m) => {
      clearTimeout(timer);
      u.close();
      resolve(m.toString());
    });
    u.send(msg, port, host);
  });
}

async function echoPod(s: TestState, name: string, publish: string[]): Promise<PodRecord> {
  const r = await s.cli([
    'run',
    '-d',
    '--name',
    name,
    ...publish.flatMap((p) => ['-p', p]),
    '--restart',
    'Always',
    '--',
    'node',
    '-e',
    ECHO,
  ]);
  if (r.code !== 0) throw new Error(r.stderr);
  await waitFor('the echo servers', () => /udp/.test(s.store.read(name) ? readLog(s, name) : ''));
  return s.store.read(name)!;
}

function readLog(s: TestState, name: string): string {
  try {
    return readFileSync(s.store.paths.log(name, name), 'utf8');
  } catch {
    return '';
  }
}

const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
// The first socket made in a pod's namespace makes the monitor open its own namespace once, to
// come back to (native/ns.cc): baselines are taken after a first exchange.

t.test('TCP: from 127.0.0.1, other host addresses and ::1 where bound; only what is published', async (t) => {
  const s = testState(t);
  const [all, only2, hostOnlyPort] = [await freeHostPort(), await freeHostPort(), await freeHostPort()];
  const rec = await echoPod(s, 'tcp', [`${all}:7`, `127.0.0.2:${only2}:7`]);
  t.equal(await ask('127.0.0.1', all, 'hello'), 'hello', 'through 127.0.0.1');
  t.equal(await ask('127.0.0.2', all, 'two'), 'two', 'through another address of the host');
  t.equal(await ask('::1', all, 'six'), 'six', 'through ::1');
  t.equal(await ask('127.0.0.2', only2, 'bound'), 'bound', 'a port bound to one address answers there');
  t.equal(await ask('127.0.0.1', only2, 'x'), 'ECONNREFUSED', 'and nowhere else');
  t.equal(await ask('127.0.0.1', 7, 'x'), 'ECONNREFUSED', "the pod's own port 7 is not the host's");

  // A service on the host's 127.0.0.1 is not reachable from inside the pod.
  const hostOnly = createServer((c) => c.end('host\n')).listen(hostOnlyPort, '127.0.0.1');
  cleanup(t, 'close the host-only listener', () => hostOnly.close());
  await new Promise((r) => hostOnly.once('listening', r));
  t.equal(fetchInPod(rec.infra!.process.pid, hostOnlyPort), 'ECONNREFUSED', "the host's 127.0.0.1 is not the pod's");

  t.equal((await s.cli(['rm', '-f', 'tcp'])).code, 0);
  t.equal(await ask('127.0.0.1', all, 'gone'), 'ECONNREFUSED', 'the listener closed with the pod');
});

t.test('a host port in use is an error before the pod starts, and leaves nothing', async (t) => {
  const port = await freeHostPort();
  const s = testState(t);
  const busy = createServer().listen(port, '127.0.0.1');
  cleanup(t, 'close the busy listener', () => busy.close());
  await new Promise((r) => busy.once('listening', r));
  const r = await s.cli(['run', '-d', '--name', 'clash', '-p', `${port}:80`, '--', 'sleep', '1000']);
  t.equal(r.code, 125);
  t.equal(r.stderr, `tspod: host port *:${port}/tcp is already in use\n`);
  t.equal(s.store.read('clash'), undefined, 'no pod');
  const fg = await s.cli(['run', '--name', 'clash2', '-p', `127.0.0.1:${port}:80`, '--', 'sleep', '1000']);
  t.equal(fg.stderr, `tspod: host port 127.0.0.1:${port}/tcp is already in use\n`, 'in the foreground too');
  t.same(s.store.names(), []);
});

t.test('UDP: per-client flows, replies go back; the monitor holds a socket per flow', async (t) => {
  // Flows never go idle during the test: what is counted cannot be closed meanwhile.
  const s = testState(t, { TSPOD_UDP_IDLE_MS: '600000' });
  const port = await freeHostPort();
  await echoPod(s, 'udp', [`${port}:7/udp`]);
  const monitor = s.monitorPid()!;
  // The first flow also leaves an fd for good (the forwarder's socket maker): counted from it on.
  t.equal(await udpAsk('127.0.0.1', port, 'first'), 'first');
  const one = fds(monitor);
  t.same(await Promise.all(['a', 'b', 'c'].map((m) => udpAsk('127.0.0.1', port, m))), ['a', 'b', 'c'], 'three clients, three replies');
  t.equal(await udpAsk('::1', port, 'v6'), 'v6', 'over IPv6 too');
  t.equal(fds(monitor), one + 4, 'the monitor holds a socket for each of the four new flows');
});

t.test('UDP: flows idle for TSPOD_UDP_IDLE_MS are closed', async (t) => {
  const s = testState(t, { TSPOD_UDP_IDLE_MS: '300' });
  const port = await freeHostPort();
  await echoPod(s, 'udpidle', [`${port}:7/udp`]);
  const monitor = s.monitorPid()!;
  const start = fds(monitor);
  t.equal(await udpAsk('127.0.0.1', port, 'first'), 'first');
  // The first flow's socket closes; the socket maker's fd stays.
  await waitFor('the first flow to close', () => fds(monitor) === start + 1 || undefined);
  const before = fds(monitor);
  t.same(await Promise.all(['a', 'b', 'c'].map((m) => udpAsk('127.0.0.1', port, m))), ['a', 'b', 'c']);
  t.equal(await udpAsk('::1', port, 'v6'), 'v6');
  await waitFor('idle flows to close', () => fds(monitor) === before || undefined);
  t.pass("every idle flow's socket was closed: the monitor's fds are back where they were");
});

t.test('UDP: the flows of a pod are bounded, the least recently used closed first', async (t) => {
  const port = await freeHostPort();
  const s = testState(t, { TSPOD_UDP_MAX_FLOWS: '2' });
  await echoPod(s, 'udpmax', [`${port}:7/udp`]);
  const monitor = s.monitorPid()!;
  // Each ask is a client of its own (a new source port), so a flow of its own. The first flow
  // also leaves an fd for good (the forwarder's socket maker): counted from two flows on.
  for (const m of ['1', '2']) t.equal(await udpAsk('127.0.0.1', port, m), m, `client ${m} is answered`);
  const two = fds(monitor);
  for (const m of ['3', '4', '5']) t.equal(await udpAsk('127.0.0.1', port, m), m, `client ${m} is answered`);
  t.equal(fds(monitor), two, 'the monitor still holds two flow sockets, not five');
});

t.test('under load: 1,000 concurrent connections, 100,000 requests, no failure, no fd left', async (t) => {
  const port = await freeHostPort();
  const s = testState(t);
  await echoPod(s, 'load', [`${port}:7`]);
  const monitor = s.monitorPid()!;
  const start = fds(monitor);
  t.equal(await ask('127.0.0.1', port, 'first'), 'first');
  await waitFor('the first connection to close', () => fds(monitor) === start + 1, 5000);
  const before = fds(monitor);
  const CONNECTIONS = 1000;
  const REQUESTS = 100;
  let failures = 0;
  let answered = 0;
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const sock: Socket = connect(port, '127.0.0.1');
      sock.setEncoding('utf8');
      let n = 0;
      let buf = '';
      const next = () => sock.write(`${i}:${n}\n`);
      sock.on('connect', next);
      sock.on('data', (d: string) => {
        buf += d;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line === `${i}:${n}`) answered++;
          else failures++;
          if (++n === REQUESTS) {
            sock.end();
            return;
          }
          next();
        }
      });
      sock.on('error', () => failures++);
      sock.on('close', () => resolve());
    });
  await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => one(i)));
  t.equal(failures, 0, 'no failed request');
  t.equal(answered, CONNECTIONS * REQUESTS, `${CONNECTIONS * REQUESTS} requests answered`);
  await waitFor("the monitor's fds to come back", () => fds(monitor) === before, 10000).catch(() => undefined);
  t.equal(fds(monitor), before, "the monitor's open fds are back where they started");
});

/** An open TCP connection that has been answered once (so it is forwarded), and its close. */
async function held(port: number): Promise<{ sock: Socket; closed: Promise<void> }> {
  const sock = connect(port, '127.0.0.1');
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  sock.on('error', () => {});
  sock.setEncoding('utf8');
  const first = new Promise<string>((r) => sock.once('data', (d: string) => r(d)));
  sock.write('hold\n');
  if ((await first).trim() !== 'hold') throw new Error('no echo');
  return { sock, closed };
}

t.test('TCP: a pod has at most TSPOD_TCP_MAX_CONNECTIONS forwarded; one more is closed at once and told', async (t) => {
  const port = await freeHostPort();
  const s = testState(t, { TSPOD_TCP_MAX_CONNECTIONS: '3' });
  await echoPod(s, 'capped', [`${port}:7`]);
  const open = await Promise.all([1, 2, 3].map(() => held(port)));
  cleanup(t, 'destroy the connections', () => open.forEach((o) => o.sock.destroy()));
  const refused = await ask('127.0.0.1', port, 'fourth');
  t.match(refused, /^(ECONNRESET|)$/, 'the fourth gets no answer: closed at once');
  await waitFor('the refusal in monitor.log', () =>
    /pod capped: published port \*:\d+\/tcp: 1 connection\(s\) refused: the pod has 3 open, its cap/.test(
      readFileSync(s.store.paths.monitorLog, 'utf8'),
    ),
  );
  open[0].sock.destroy();
  await open[0].closed;
  await waitFor('a freed slot to be usable', async () => (await ask('127.0.0.1', port, 'again')) === 'again');
  t.pass('a connection that ends gives its slot back');
});

t.test('TCP: every pod of a monitor together has at most TSPOD_TCP_MAX_TOTAL forwarded', async (t) => {
  const [port1, port2] = [await freeHostPort(), await freeHostPort()];
  const s = testState(t, { TSPOD_TCP_MAX_TOTAL: '2' });
  await echoPod(s, 'one', [`${port1}:7`]);
  await echoPod(s, 'two', [`${port2}:7`]);
  const open = [await held(port1), await held(port2)];
  cleanup(t, 'destroy the connections', () => open.forEach((o) => o.sock.destroy()));
  t.match(await ask('127.0.0.1', port2, 'third'), /^(ECONNRESET|)$/, 'a third, to either pod, is refused');
  await waitFor('the refusal in monitor.log', () =>
    /pod two: published port \*:\d+\/tcp: 1 connection\(s\) refused: the supervisor forwards 2, its cap/.test(
      readFileSync(s.store.paths.monitorLog, 'utf8'),
    ),
  );
});

t.test('TCP: a forwarded connection silent both ways for TSPOD_TCP_IDLE_MS is closed', async (t) => {
  const port = await freeHostPort();
  const s = testState(t, { TSPOD_TCP_IDLE_MS: '300' });
  await echoPod(s, 'idle', [`${port}:7`]);
  const monitor = s.monitorPid()!;
  const start = fds(monitor);
  const { sock, closed } = await held(port);
  cleanup(t, 'destroy the socket', () => sock.destroy());
  // Nothing more is sent: tspod closes it.
  let isClosed = false;
  void closed.then(() => (isClosed = true));
  await waitFor('tspod to close the idle connection', () => isClosed, 10_000);
  t.pass('tspod closed the idle connection');
  await waitFor("the monitor's fds to come back", () => fds(monitor) <= start + 1, 5000);
  t.ok(fds(monitor) <= start + 1, 'its two sockets are closed (the first exchange leaves one fd for good)');
});
