// The network handlers of probes and hooks (runtime/probe-net.ts) against real servers on
// 127.0.0.1: TCP, HTTP, HTTPS (with a certificate made here: no openssl needed), and gRPC's
// health check served by test/helpers/grpc-health-server.js in a child process. After each
// probe nothing is left: every socket it made is destroyed, the server counts no connection,
// and no timer is pending.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createH2Server } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, Socket, type Server } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { loadBinding } from '../../src/native/binding.js';
import type { HttpGetAction } from '../../src/pod/spec.js';
import { grpcProbe, httpProbe, tcpProbe, LIFECYCLE_USER_AGENT, PROBE_USER_AGENT, type ProbeOutcome } from '../../src/runtime/probe-net.js';
import { cleanup, owned, tempDir } from '../helpers/cleanup.js';
import { isRoot, NOT_ROOT } from '../helpers/root.js';

const HOST = '127.0.0.1';
const GRPC_SERVER = join(__dirname, '../helpers/grpc-health-server.js');

/** Probes' sockets, made as tests make them (production makes them in the pod's netns). */
function sockets(): { newSocket: () => Socket; made: Socket[] } {
  const made: Socket[] = [];
  return { newSocket: () => (made.push(new Socket()), made[made.length - 1]), made };
}

/** `server` listening on 127.0.0.1 (a port of its own), closed when the test ends. */
async function listen(t: Test, server: Server): Promise<number> {
  cleanup(t, 'close the server', () => {
    (server as HttpServer).closeAllConnections?.();
    return new Promise((r) => server.close(r));
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return (server.address() as { port: number }).port;
}

/** A port nothing listens on: one that was just listened on, then closed. */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** The server's count of connections once it has seen the client close (at most 5 s). */
async function connectionsLeft(server: Server): Promise<number> {
  const count = () => new Promise<number>((r) => server.getConnections((_, n) => r(n)));
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 10))) {
    if ((await count()) === 0) return 0;
  }
  return count();
}

/**
 * Runs `probe` and checks it left nothing: its sockets destroyed, no connection on `server` (when
 * the server is in this process), the timers as before.
 */
async function probeClean(t: Test, server: Server | undefined, probe: (newSocket: () => Socket) => Promise<ProbeOutcome>) {
  const { newSocket, made } = sockets();
  const before = timers();
  const outcome = await probe(newSocket);
  t.ok(made.length > 0 && made.every((s) => s.destroyed), 'every socket it made is destroyed');
  if (server) t.equal(await connectionsLeft(server), 0, 'the server has no connection left');
  t.equal(timers(), before, 'no timer left');
  return outcome;
}

const get = (port: number, extra: Partial<HttpGetAction> = {}): HttpGetAction & { host: string } => ({
  host: HOST,
  port,
  path: '/',
  scheme: 'HTTP',
  httpHeaders: [],
  ...extra,
});

/** An HTTP server answering with `respond`, and each request it got. */
async function httpServer(t: Test, respond: (req: IncomingMessage, res: import('node:http').ServerResponse) => void) {
  const requests: IncomingMessage[] = [];
  const server = createHttpServer((req, res) => {
    requests.push(req);
    respond(req, res);
  });
  return { server, requests, port: await listen(t, server) };
}

/** The values of a header as they came on the wire (rawHeaders), under any case of its name. */
const rawValues = (req: IncomingMessage, name: string) =>
  req.rawHeaders.flatMap((v, i) => (i % 2 === 0 && v.toLowerCase() === name ? [req.rawHeaders[i + 1]] : []));

t.test('tcp: a port that accepts is success; the connection is closed at once', async (t) => {
  const server = createTcpServer();
  const port = await listen(t, server);
  const outcome = await probeClean(t, server, (s) => tcpProbe(s, HOST, port, 1000));
  t.same(outcome, { ok: true, message: `connected to ${HOST}:${port}` });
});

t.test('tcp: a refused connection fails with the error', async (t) => {
  const port = await closedPort();
  const outcome = await probeClean(t, undefined, (s) => tcpProbe(s, HOST, port, 1000));
  t.same(outcome, { ok: false, message: `connect ECONNREFUSED ${HOST}:${port}` });
});

t.test("http: 200 is success; the request is a GET of the path with the kubelet's Host, User-Agent and Accept", async (t) => {
  const { server, requests, port } = await httpServer(t, (_, res) => res.end('fine'));
  const outcome = await probeClean(t, server, (s) => httpProbe(s, get(port, { path: '/healthz' }), 1000));
  t.same(outcome, { ok: true, message: 'status code 200' });
  t.equal(requests.length, 1);
  const req = requests[0];
  t.equal(req.method, 'GET');
  t.equal(req.url, '/healthz');
  t.same(rawValues(req, 'host'), [`${HOST}:${port}`]);
  t.same(rawValues(req, 'user-agent'), [PROBE_USER_AGENT]);
  t.equal(PROBE_USER_AGENT, 'kube-probe/1.32');
  t.same(rawValues(req, 'accept'), ['*/*']);
  t.same(rawValues(req, 'accept-encoding'), [], 'no Accept-Encoding (the kubelet disables compression)');
});

t.test('http: 500 fails, the status code in the message', async (t) => {
  const { server, port } = await httpServer(t, (_, res) => ((res.statusCode = 500), res.end('broken')));
  const outcome = await probeClean(t, server, (s) => httpProbe(s, get(port), 1000));
  t.same(outcome, { ok: false, message: 'HTTP probe failed with status code 500' });
});

t.test('http: a 302 is success and is not followed', async (t) => {
  const { server, requests, port } = await httpServer(t, (req, res) => {
    if (req.url === '/') res.writeHead(302, { location: '/elsewhere' });
    else res.writeHead(500);
    res.end();
  });
  const outcome = await probeClean(t, server, (s) => httpProbe(s, get(port), 1000));
  t.same(outcome, { ok: true, message: 'status code 302, a redirect (not followed) to /elsewhere' });
  t.same(
    requests.map((r) => r.url),
    ['/'],
  );
});

t.test('http: httpHeaders are sent, each value of a name; one named as a default (any case) replaces it', async (t) => {
  const { server, requests, port } = await httpServer(t, (_, res) => res.end());
  const httpHeaders = [
    { name: 'user-agent', value: 'my-checker' },
    { name: 'X-Probe', value: 'a' },
    { name: 'x-probe', value: 'b' },
  ];
  const outcome = await probeClean(t, server, (s) => httpProbe(s, get(port, { httpHeaders }), 1000));
  t.equal(outcome.ok, true);
  const req = requests[0];
  t.same(rawValues(req, 'user-agent'), ['my-checker'], 'the default User-Agent is not sent');
  t.same(rawValues(req, 'x-probe'), ['a', 'b']);
  t.same(rawValues(req, 'accept'), ['*/*'], 'the defaults not given are still sent');
  t.same(rawValues(req, 'host'), [`${HOST}:${port}`]);
});

t.test('http: a server that never answers fails at the timeout', async (t) => {
  const { server, requests, port } = await httpServer(t, () => {});
  const outcome = await probeClean(t, server, (s) => httpProbe(s, get(port), 300));
  t.same(outcome, { ok: false, message: 'timed out after 0.3 s' });
  t.equal(requests.length, 1, 'the request had arrived');
});

t.test('http: the path arrives as given, with its query', async (t) => {
  const { server, requests, port } = await httpServer(t, (_, res) => res.end());
  const path = '/ready?verbose=1&name=a%20b';
  t.equal((await probeClean(t, server, (s) => httpProbe(s, get(port, { path }), 1000))).ok, true);
  t.equal(requests[0].url, path);
});

t.test("http: a path without its leading '/' gets one, as Go writes the URL", async (t) => {
  const { server, requests, port } = await httpServer(t, (_, res) => res.end());
  t.equal((await probeClean(t, server, (s) => httpProbe(s, get(port, { path: 'ready' }), 1000))).ok, true);
  t.equal(requests[0].url, '/ready');
});

t.test("http: a hook's GET sends the kubelet's hook User-Agent when given it", async (t) => {
  const { server, requests, port } = await httpServer(t, (_, res) => res.end());
  t.equal((await probeClean(t, server, (s) => httpProbe(s, get(port), 1000, LIFECYCLE_USER_AGENT))).ok, true);
  t.same(rawValues(requests[0], 'user-agent'), ['kube-lifecycle/1.32']);
});

t.test('http: the body is read to 10 KiB only: a longer one that never ends is success', async (t) => {
  const { server, port } = await httpServer(t, (_, res) => res.write(Buffer.alloc(20 * 1024, 'x')));
  const outcome = await probeClean(t, server, (s) => httpProbe(s, get(port), 2000));
  t.same(outcome, { ok: true, message: 'status code 200' });
});

t.test('http: an answer cut short in its body fails', async (t) => {
  const { server, port } = await httpServer(t, (req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('only this');
    setTimeout(() => req.socket.destroy(), 20);
  });
  const outcome = await probeClean(t, server, (s) => httpProbe(s, get(port), 2000));
  t.same(outcome, { ok: false, message: 'the connection closed in the middle of the body' });
});

/** A self-signed certificate (ECDSA P-256, X.509 v1) built with node:crypto alone: DER by hand. */
function selfSigned(): { key: string; cert: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = (tag: number, ...parts: Buffer[]) => {
    const body = Buffer.concat(parts);
    const n = body.length;
    const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
    return Buffer.concat([Buffer.from([tag, ...len]), body]);
  };
  const seq = (...parts: Buffer[]) => der(0x30, ...parts);
  const ecdsaSha256 = seq(der(0x06, Buffer.from('2a8648ce3d040302', 'hex'))); // 1.2.840.10045.4.3.2
  const name = seq(der(0x31, seq(der(0x06, Buffer.from('550403', 'hex')), der(0x0c, Buffer.from('tspod-test'))))); // CN
  const validity = seq(der(0x17, Buffer.from('250101000000Z')), der(0x17, Buffer.from('491231235959Z')));
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const tbs = seq(der(0x02, Buffer.from([1])), ecdsaSha256, name, validity, name, spki);
  const signature = der(0x03, Buffer.from([0]), sign('sha256', tbs, privateKey));
  const pem = `-----BEGIN CERTIFICATE-----\n${seq(tbs, ecdsaSha256, signature)
    .toString('base64')
    .replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert: pem };
}

t.test('https: over TLS, a self-signed certificate accepted; no SNI for an address', async (t) => {
  const { key, cert } = selfSigned();
  t.ok(new X509Certificate(cert).verify(new X509Certificate(cert).publicKey), 'the certificate is well formed and signs itself');
  const requests: IncomingMessage[] = [];
  const server = createHttpsServer({ key, cert }, (req, res) => (requests.push(req), res.end()));
  const port = await listen(t, server);
  const outcome = await probeClean(t, server, (s) => httpProbe(s, get(port, { scheme: 'HTTPS', path: '/secure' }), 2000));
  t.same(outcome, { ok: true, message: 'status code 200' });
  t.equal(requests[0].url, '/secure');
  t.equal((requests[0].socket as TLSSocket).encrypted, true);
  t.notOk((requests[0].socket as TLSSocket & { servername?: string | false }).servername, 'no server name sent');
});

t.test('https: a server that speaks plain HTTP fails', async (t) => {
  const { server, port } = await httpServer(t, (_, res) => res.end());
  const outcome = await probeClean(t, server, (s) => httpProbe(s, get(port, { scheme: 'HTTPS' }), 2000));
  t.same(outcome, { ok: false, message: 'TLS handshake failed: wrong version number' });
});

/** grpc-health-server.js on a port of its own, reading `status` (written now, if given); killed at the end. */
async function grpcServer(t: Test, status?: string): Promise<{ port: number; statusFile: string }> {
  const statusFile = join(tempDir(t, 'grpc'), 'status');
  if (status !== undefined) writeFileSync(statusFile, status);
  const child = owned(t, spawn(process.execPath, [GRPC_SERVER, '0', statusFile], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  child.stderr.on('data', (b: Buffer) => (out += b));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b;
      const m = /^listening (\d+)$/m.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`grpc-health-server.js ended (${code ?? signal}) before listening: ${out}`)));
  });
  return { port, statusFile };
}

t.test('grpc: SERVING is success; no file is SERVING', async (t) => {
  const { port, statusFile } = await grpcServer(t);
  t.same(await probeClean(t, undefined, (s) => grpcProbe(s, HOST, port, '', 1000)), { ok: true, message: 'service healthy' });
  writeFileSync(statusFile, 'SERVING\n');
  t.same(await probeClean(t, undefined, (s) => grpcProbe(s, HOST, port, '', 1000)), { ok: true, message: 'service healthy' });
});

t.test('grpc: NOT_SERVING fails, named in the message', async (t) => {
  const { port } = await grpcServer(t, 'NOT_SERVING\n');
  const outcome = await probeClean(t, undefined, (s) => grpcProbe(s, HOST, port, '', 1000));
  t.same(outcome, { ok: false, message: 'service unhealthy (responded with "NOT_SERVING")' });
});

t.test('grpc: a service the server knows is asked about by name; an unknown one fails', async (t) => {
  const { port } = await grpcServer(t, 'SERVING\nsvc=db\n');
  t.same(await probeClean(t, undefined, (s) => grpcProbe(s, HOST, port, 'db', 1000)), { ok: true, message: 'service healthy' });
  const outcome = await probeClean(t, undefined, (s) => grpcProbe(s, HOST, port, 'cache', 1000));
  t.same(outcome, { ok: false, message: 'health check failed with grpc-status 5 (NOT_FOUND): unknown service cache' });
});

t.test('grpc: UNKNOWN and SERVICE_UNKNOWN answers fail, named', async (t) => {
  const { port, statusFile } = await grpcServer(t);
  for (const status of ['UNKNOWN', 'SERVICE_UNKNOWN']) {
    writeFileSync(statusFile, status);
    const outcome = await probeClean(t, undefined, (s) => grpcProbe(s, HOST, port, '', 1000));
    t.same(outcome, { ok: false, message: `service unhealthy (responded with "${status}")` });
  }
});

t.test('grpc: a server that is not gRPC fails (HTTP/1.1 only, or HTTP/2 without gRPC)', async (t) => {
  const http1 = createHttpServer((_, res) => res.end('hello'));
  const port1 = await listen(t, http1);
  const outcome1 = await probeClean(t, http1, (s) => grpcProbe(s, HOST, port1, '', 1000));
  t.same(outcome1, { ok: false, message: 'not an HTTP/2 server (Protocol error)' }, 'HTTP/1.1');
  const h2 = createH2Server((_, res) => ((res.statusCode = 404), res.end('no such page')));
  const port2 = await listen(t, h2 as unknown as Server);
  const outcome2 = await probeClean(t, h2 as unknown as Server, (s) => grpcProbe(s, HOST, port2, '', 1000));
  t.same(outcome2, { ok: false, message: 'not a gRPC server: HTTP status 404, content-type none' }, 'HTTP/2');
});

t.test('grpc: a refused connection fails; a server that never answers fails at the timeout', async (t) => {
  const port = await closedPort();
  t.same(await probeClean(t, undefined, (s) => grpcProbe(s, HOST, port, '', 1000)), {
    ok: false,
    message: `connect ECONNREFUSED ${HOST}:${port}`,
  });
  const silent = createH2Server(() => {});
  const port2 = await listen(t, silent as unknown as Server);
  const outcome = await probeClean(t, silent as unknown as Server, (s) => grpcProbe(s, HOST, port2, '', 300));
  t.same(outcome, { ok: false, message: 'timed out after 0.3 s' });
});

t.test(
  'a socket made by the addon in a network namespace, as in production, is probed the same',
  { skip: !isRoot && NOT_ROOT },
  async (t) => {
    const binding = loadBinding();
    const inNetns = () => {
      const ns = openSync('/proc/self/ns/net', 'r');
      try {
        const c = binding.constants;
        return new Socket({ fd: binding.socketInNetns(ns, c.AF_INET, c.SOCK_STREAM), readable: true, writable: true });
      } finally {
        closeSync(ns);
      }
    };
    const { server, port } = await httpServer(t, (_, res) => res.end());
    t.same(await tcpProbe(inNetns, HOST, port, 1000), { ok: true, message: `connected to ${HOST}:${port}` });
    t.same(await httpProbe(inNetns, get(port), 1000), { ok: true, message: 'status code 200' });
    t.equal(await connectionsLeft(server), 0);
    const { port: grpcPort } = await grpcServer(t);
    t.same(await grpcProbe(inNetns, HOST, grpcPort, '', 1000), { ok: true, message: 'service healthy' });
  },
);
