// The network handlers of probes and lifecycle hooks, as the kubelet runs them (pkg/probe/tcp,
// http and grpc): a TCP connection, an HTTP GET, gRPC's health check. The caller makes each
// socket in the pod's network namespace (`newSocket`: an unconnected net.Socket); this module only
// connects it. A call is one try: the whole of it (connect, request, answer) within its timeout,
// its sockets and its timer gone when it ends, and never a throw: a failure is an outcome with
// its reason, one line for an event.
import type { IncomingHttpHeaders } from 'node:http2';
import { isIP, type Socket } from 'node:net';
import type { HttpGetAction } from '../pod/spec.js';

export interface ProbeOutcome {
  ok: boolean;
  /** One line for an event: why it failed, or what it answered. */
  message: string;
}

/** The kubelet's User-Agent for probes: kube-probe/MAJOR.MINOR of its Kubernetes version. */
export const PROBE_USER_AGENT = 'kube-probe/1.32';

/** And for a lifecycle hook's httpGet (the kubelet's NewRequestForHTTPGetAction(..., "lifecycle")). */
export const LIFECYCLE_USER_AGENT = 'kube-lifecycle/1.32';

/** The kubelet reads at most 10 KiB of an HTTP answer's body (maxRespBodyLength). */
const HTTP_BODY_LIMIT = 10 * 1024;

/** A health answer is a few bytes; a server sending more than this is not answering the check. */
const GRPC_ANSWER_LIMIT = 64 * 1024;

const GRPC_CHECK_PATH = '/grpc.health.v1.Health/Check';

/** HealthCheckResponse.ServingStatus, by number. */
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

/** gRPC's status codes, by number, for messages. */
const GRPC_CODES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

/** A TCP connection to host:port: connected is success; it is closed at once. */
export function tcpProbe(newSocket: () => Socket, host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return attempt(timeoutMs, ({ own, done }) => {
    connect(own, done, newSocket, host, port, () => done({ ok: true, message: `connected to ${hostPort(host, port)}` }));
  });
}

/**
 * GET action.path from host:port (HTTPS: TLS on the same socket, the certificate not verified,
 * as the kubelet does not). 200-399 is success. The body is read to its end or to 10 KiB, then
 * dropped. `userAgent`: LIFECYCLE_USER_AGENT for a hook.
 */
export function httpProbe(
  newSocket: () => Socket,
  action: HttpGetAction & { host: string },
  timeoutMs: number,
  userAgent: string = PROBE_USER_AGENT,
): Promise<ProbeOutcome> {
  // node:http (8 ms to load, docs/PERFORMANCE.md) and node:tls only once an HTTP handler runs.
  const http = require('node:http') as typeof import('node:http');
  return attempt(timeoutMs, ({ own, done }) => {
    const { host, port } = action;
    connect(own, done, newSocket, host, port, (raw) => {
      let socket: Socket = raw;
      if (action.scheme === 'HTTPS') {
        const tls = require('node:tls') as typeof import('node:tls');
        // No SNI for an address (RFC 6066 forbids one; Go, the kubelet's TLS, sends none).
        socket = own(tls.connect({ socket: raw, rejectUnauthorized: false, servername: isIP(host) ? '' : host }));
        socket.on('error', (err) => done(failure(err)));
      }
      // No agent: with one (agent: false makes a new one) createConnection would be ignored.
      const req = own(
        http.request({
          method: 'GET',
          // As Go writes a URL with a host: a path not starting with '/' gets one ('' is '/').
          path: action.path.startsWith('/') ? action.path : `/${action.path}`,
          headers: requestHeaders(action, userAgent),
          setHost: false,
          createConnection: () => socket,
        }),
      );
      req.on('error', (err) => done(failure(err)));
      req.on('response', (res) => {
        const outcome = httpOutcome(res.statusCode ?? 0, res.headers.location);
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read >= HTTP_BODY_LIMIT) done(outcome);
        });
        res.on('end', () => done(outcome));
        // As the kubelet's: a body cut short (other than at its limit) is a failure.
        const cut = () => done(failure('the connection closed in the middle of the body'));
        res.on('close', () => (res.complete ? done(outcome) : cut()));
        res.on('error', cut);
      });
      req.end();
    });
  });
}

/** What an HTTP status says, as the kubelet reads it: 200-399 is success. */
function httpOutcome(code: number, location: string | undefined): ProbeOutcome {
  if (code >= 200 && code < 300) return { ok: true, message: `status code ${code}` };
  // Not followed: the kubelet follows a redirect to the same host (at most 10) and takes one to
  // another host as success (a warning event); here every 3xx is success, whatever its target.
  if (code >= 300 && code < 400) return { ok: true, message: `status code ${code}, a redirect (not followed) to ${location ?? 'nowhere'}` };
  return { ok: false, message: `HTTP probe failed with status code ${code}` };
}

/**
 * gRPC's health check (grpc.health.v1.Health/Check) of `service` ('' the server as a whole)
 * over HTTP/2 without TLS, as the kubelet makes it: an answer SERVING is success.
 */
export function grpcProbe(newSocket: () => Socket, host: string, port: number, service: string, timeoutMs: number): Promise<ProbeOutcome> {
  // Loaded only once a gRPC handler runs, as node:http is.
  const http2 = require('node:http2') as typeof import('node:http2');
  return attempt(timeoutMs, ({ own, done }) => {
    connect(own, done, newSocket, host, port, (socket) => {
      const session = own(http2.connect(`http://${hostPort(host, port)}`, { createConnection: () => socket }));
      session.on('error', (err) => done(failure(err)));
      session.on('close', () => done(failure('the connection closed before an answer')));
      const stream = own(
        session.request({
          ':method': 'POST',
          ':path': GRPC_CHECK_PATH,
          'content-type': 'application/grpc',
          // gRPC requires it: it tells proxies the client reads trailers, where the status is.
          te: 'trailers',
          'user-agent': PROBE_USER_AGENT,
        }),
      );
      let headers: IncomingHttpHeaders | undefined;
      let trailers: IncomingHttpHeaders | undefined;
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('error', (err) => done(failure(err)));
      stream.on('response', (h) => (headers = h));
      stream.on('trailers', (h) => (trailers = h));
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > GRPC_ANSWER_LIMIT) done(failure(`an answer of more than ${GRPC_ANSWER_LIMIT} bytes: not a health check's`));
        else chunks.push(chunk);
      });
      stream.on('end', () => done(grpcOutcome(headers, trailers, Buffer.concat(chunks))));
      stream.on('close', () => done(failure(`the stream closed before an answer (HTTP/2 code ${stream.rstCode ?? 0})`)));
      stream.end(grpcFrame(healthCheckRequest(service)));
    });
  });
}

/** One try: its outcome, and what it owns, destroyed when it ends. */
interface Try {
  /** The try's outcome: the first one counts; the timer is cleared and what it owns destroyed. */
  done(outcome: ProbeOutcome): void;
  /** `x`, destroyed when the try ends (at once if it has). */
  own<T extends { destroy(): unknown }>(x: T): T;
}

function attempt(timeoutMs: number, run: (t: Try) => void): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const owned: { destroy(): unknown }[] = [];
    let ended = false;
    const done = (outcome: ProbeOutcome) => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      // The last made first: a request or stream, then its session or TLS, then the socket.
      for (const x of owned.reverse()) x.destroy();
      resolve(outcome);
    };
    const own = <T extends { destroy(): unknown }>(x: T): T => {
      if (ended) x.destroy();
      else owned.push(x);
      return x;
    };
    const timer = setTimeout(() => done(failure(`timed out after ${timeoutMs / 1000} s`)), timeoutMs);
    try {
      run({ own, done });
    } catch (err) {
      done(failure(err));
    }
  });
}

/** A socket of newSocket connected to host:port, then `then` (a connection error ends the try). */
function connect(
  own: Try['own'],
  done: Try['done'],
  newSocket: () => Socket,
  host: string,
  port: number,
  then: (socket: Socket) => void,
): void {
  const socket = own(newSocket());
  // Listened to until the end: an error after the outcome must not be an uncaught one.
  socket.on('error', (err) => done(failure(err)));
  socket.connect(port, host, () => {
    try {
      then(socket);
    } catch (err) {
      done(failure(err));
    }
  });
}

/**
 * The kubelet's headers: httpHeaders (every value of a name repeated), then Host (host:port),
 * User-Agent and Accept (any type) for those not given. Names compare without case; a Host given
 * empty is the default, a User-Agent or an Accept given empty is not sent.
 */
function requestHeaders(action: HttpGetAction & { host: string }, userAgent: string): Record<string, string | string[]> {
  const given = new Map<string, { name: string; values: string[] }>();
  for (const { name, value } of action.httpHeaders) {
    const key = name.toLowerCase();
    const entry = given.get(key) ?? { name, values: [] };
    entry.values.push(value);
    given.set(key, entry);
  }
  const headers: Record<string, string | string[]> = {};
  // Go sends one Host, the first value given (req.Host = headers.Get("Host")).
  headers.Host = given.get('host')?.values[0] || hostPort(action.host, action.port);
  given.delete('host');
  if (!given.has('user-agent')) headers['User-Agent'] = userAgent;
  if (!given.has('accept')) headers.Accept = '*/*';
  for (const [key, { name, values }] of given) {
    if ((key === 'user-agent' || key === 'accept') && values.every((v) => v === '')) continue;
    headers[name] = values;
  }
  return headers;
}

/** What a gRPC answer says: its status (trailers, or headers alone), then the message's. */
function grpcOutcome(headers: IncomingHttpHeaders | undefined, trailers: IncomingHttpHeaders | undefined, body: Buffer): ProbeOutcome {
  if (!headers) return failure('no answer');
  // A number at run time, whatever the type says.
  const status = Number(headers[':status']);
  const type = String(headers['content-type'] ?? '');
  if (status !== 200 || !type.startsWith('application/grpc')) {
    return failure(`not a gRPC server: HTTP status ${status}, content-type ${type || 'none'}`);
  }
  // A trailers-only answer (an error, often) has its status in the headers.
  const meta = trailers ?? headers;
  const given = meta['grpc-status'];
  const code = typeof given === 'string' && /^\d+$/.test(given) ? Number(given) : NaN;
  if (code !== 0) {
    if (Number.isNaN(code)) return failure(`no grpc-status in the answer (${given === undefined ? 'none' : `"${String(given)}"`})`);
    const text = grpcMessage(meta['grpc-message']);
    const reason = code === 12 ? ': the server does not implement grpc.health.v1.Health' : '';
    return failure(`health check failed with grpc-status ${code} (${GRPC_CODES[code] ?? 'unknown'})${reason}${text ? `: ${text}` : ''}`);
  }
  // One length-prefixed message: a compressed flag (0: none was asked for), a 4-byte length.
  if (body.length < 5 || body[0] !== 0 || body.readUInt32BE(1) !== body.length - 5) {
    return failure('a health answer without one plain message');
  }
  const serving = servingStatus(body.subarray(5));
  if (serving === undefined) return failure('a health answer that is not a HealthCheckResponse');
  if (serving === 1) return { ok: true, message: 'service healthy' };
  return failure(`service unhealthy (responded with "${SERVING_STATUS[serving] ?? serving}")`);
}

/** grpc-message is percent-encoded (gRPC over HTTP/2). */
function grpcMessage(value: string | string[] | undefined): string {
  const text = String(value ?? '');
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A gRPC message on the wire: compressed flag 0, its length (4 bytes, big-endian), itself. */
function grpcFrame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/** HealthCheckRequest { string service = 1 }: tag 0x0a (field 1, length-delimited); '' is no field. */
function healthCheckRequest(service: string): Buffer {
  if (service === '') return Buffer.alloc(0);
  const bytes = Buffer.from(service, 'utf8');
  return Buffer.concat([Buffer.from([0x0a]), varint(bytes.length), bytes]);
}

/** HealthCheckResponse { ServingStatus status = 1 }: field 1 as a varint (tag 0x08), absent 0; undefined: malformed. */
function servingStatus(message: Buffer): number | undefined {
  let status = 0;
  let at = 0;
  while (at < message.length) {
    const tag = readVarint(message, at);
    if (!tag) return undefined;
    at = tag.next;
    // Other fields are skipped by their wire type, as protobuf readers do.
    switch (tag.value % 8) {
      case 0: {
        const v = readVarint(message, at);
        if (!v) return undefined;
        if (Math.floor(tag.value / 8) === 1) status = v.value;
        at = v.next;
        break;
      }
      case 1:
        at += 8;
        break;
      case 2: {
        const len = readVarint(message, at);
        if (!len) return undefined;
        at = len.next + len.value;
        break;
      }
      case 5:
        at += 4;
        break;
      default:
        return undefined;
    }
  }
  return at === message.length ? status : undefined;
}

/** Protobuf's varint: 7 bits a byte, least significant first, the high bit set on all but the last. */
function varint(n: number): Buffer {
  const bytes: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 0x80)) bytes.push((n % 0x80) | 0x80);
  bytes.push(n);
  return Buffer.from(bytes);
}

function readVarint(buf: Buffer, at: number): { value: number; next: number } | undefined {
  let value = 0;
  // At most 10 bytes (64 bits); past 2^53 the value is not exact, which no field here needs.
  for (let i = 0; i < 10 && at + i < buf.length; i++) {
    value += (buf[at + i] & 0x7f) * 2 ** (7 * i);
    if (buf[at + i] < 0x80) return { value, next: at + i + 1 };
  }
  return undefined;
}

/** host:port, an IPv6 address in brackets (Go's net.JoinHostPort, as the kubelet forms its URLs). */
function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

function failure(err: unknown): ProbeOutcome {
  const message = err instanceof Error ? err.message : String(err);
  // OpenSSL's text ("...:error:0A00010B:SSL routines:FUNCTION:REASON:FILE:LINE:") says it in its reason.
  const tls = /:SSL routines:[^:]*:([^:]+):/.exec(message);
  if (tls) return { ok: false, message: `TLS handshake failed: ${tls[1]}` };
  // nghttp2's "Protocol error": what came back was not HTTP/2 (an HTTP/1.1 server's answer, say).
  if (err instanceof Error && (err as NodeJS.ErrnoException).code === 'ERR_HTTP2_ERROR')
    return { ok: false, message: `not an HTTP/2 server (${message})` };
  return { ok: false, message: message.replace(/\s*\n\s*/g, ' ').trim() };
}
