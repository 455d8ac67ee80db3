// A gRPC health server for the tests of gRPC probes: plain Node, no dependencies (it runs in a
// pod too, from the host's file system).
//
//   node grpc-health-server.js PORT STATUSFILE
//
// Serves grpc.health.v1.Health/Check over HTTP/2 without TLS on 0.0.0.0:PORT and prints
// "listening PORT" (the port bound: PORT 0 picks one) once it listens. STATUSFILE is read at
// each call: a line with the status (SERVING, NOT_SERVING, UNKNOWN or SERVICE_UNKNOWN; no file:
// SERVING), and a line "svc=NAME" for each service it knows besides '' (answered with the same
// status). An unknown service gets grpc-status NOT_FOUND, as the health protocol says for Check
// (SERVICE_UNKNOWN is Watch's answer); another method, UNIMPLEMENTED.
'use strict';
const fs = require('node:fs');
const http2 = require('node:http2');

const CHECK = '/grpc.health.v1.Health/Check';
const SERVING_STATUS = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 };
const GRPC = { OK: 0, NOT_FOUND: 5, UNIMPLEMENTED: 12, INTERNAL: 13 };

const [portArg, statusFile] = process.argv.slice(2);
if (!/^\d+$/.test(portArg ?? '') || !statusFile) {
  console.error('usage: node grpc-health-server.js PORT STATUSFILE');
  process.exit(2);
}

/** The status file: { status, services }. */
function readStatus() {
  let text = '';
  try {
    text = fs.readFileSync(statusFile, 'utf8');
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  const services = new Set(['']);
  let status = 'SERVING';
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line.startsWith('svc=')) services.add(line.slice(4));
    else if (line) status = line;
  }
  return { status, services };
}

/** Protobuf's varint at buf[at]: [value, next] or undefined if cut short. */
function readVarint(buf, at) {
  let value = 0;
  for (let i = 0; i < 10 && at + i < buf.length; i++) {
    value += (buf[at + i] & 0x7f) * 2 ** (7 * i);
    if (buf[at + i] < 0x80) return [value, at + i + 1];
  }
  return undefined;
}

/** HealthCheckRequest { string service = 1 } in its gRPC frame: the service, or undefined if malformed. */
function requestedService(body) {
  // Compressed flag (0), length (4 bytes, big-endian), the message.
  if (body.length < 5 || body[0] !== 0 || body.readUInt32BE(1) !== body.length - 5) return undefined;
  const msg = body.subarray(5);
  let service = '';
  for (let at = 0; at < msg.length;) {
    const tag = readVarint(msg, at);
    if (!tag) return undefined;
    at = tag[1];
    const wire = tag[0] % 8;
    if (wire === 2) {
      const len = readVarint(msg, at);
      if (!len || len[1] + len[0] > msg.length) return undefined;
      if (Math.floor(tag[0] / 8) === 1) service = msg.subarray(len[1], len[1] + len[0]).toString('utf8');
      at = len[1] + len[0];
    } else if (wire === 0) {
      const v = readVarint(msg, at);
      if (!v) return undefined;
      at = v[1];
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else return undefined;
  }
  return service;
}

/** An error as gRPC sends one: trailers only (the status in the one HEADERS frame). */
function fail(stream, code, message) {
  stream.respond(
    { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeURIComponent(message) },
    { endStream: true },
  );
}

/** HealthCheckResponse { status = 1 } (tag 0x08, a varint: every status is below 128), then grpc-status 0. */
function answer(stream, status) {
  const msg = status === 0 ? Buffer.alloc(0) : Buffer.from([0x08, status]);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(msg.length, 1);
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(GRPC.OK) }));
  stream.end(Buffer.concat([prefix, msg]));
}

function handle(stream, headers) {
  stream.on('error', () => {}); // a client gone mid-call
  const chunks = [];
  stream.on('data', (c) => chunks.push(c));
  stream.on('end', () => {
    if (headers[':path'] !== CHECK) return fail(stream, GRPC.UNIMPLEMENTED, `unknown method ${headers[':path']}`);
    const service = requestedService(Buffer.concat(chunks));
    if (service === undefined) return fail(stream, GRPC.INTERNAL, 'a request that is not a HealthCheckRequest');
    const { status, services } = readStatus();
    if (!services.has(service)) return fail(stream, GRPC.NOT_FOUND, `unknown service ${service}`);
    answer(stream, SERVING_STATUS[status] ?? SERVING_STATUS.UNKNOWN);
  });
}

const server = http2.createServer();
server.on('stream', handle);
server.on('sessionError', () => {}); // a client that does not speak HTTP/2
server.listen(Number(portArg), '0.0.0.0', () => console.log(`listening ${server.address().port}`));
// As a pod's first process, a signal without a handler is ignored: stop is SIGTERM.
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
