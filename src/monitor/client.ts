// The CLI's side of the monitor: requests over the control socket, a typed method per route of
// protocol.ts. Every command that talks to the monitor loads this module, so it holds only the
// requests; starting a monitor when none answers is in launch.ts.
import { connect } from 'node:net';
import { TspodError } from '../errors.js';
import type { StatePaths } from '../state/paths.js';
import {
  API_VERSION,
  ApiError,
  ROUTES,
  requestPath,
  type ErrorBody,
  type RouteAnswer,
  type RouteArgs,
  type RouteName,
} from './protocol.js';

export class MonitorUnavailable extends TspodError {
  /** The connection itself failed: the request never reached a monitor. */
  readonly unreached: boolean;
  constructor(socket: string, cause: string, unreached: boolean) {
    super(`the monitor does not answer on ${socket} (${cause})`);
    this.name = 'MonitorUnavailable';
    this.unreached = unreached;
  }
}

/** An HTTP answer: its status and JSON body; undefined when it is cut short or not JSON. */
function parseAnswer(raw: Buffer): { status: number; payload: unknown } | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...headers] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  const length = Number(headers.find((h) => /^content-length:/i.test(h))?.split(':')[1]);
  const bodyBytes = raw.subarray(end + 4);
  if (!status || !Number.isInteger(length) || bodyBytes.length !== length) return undefined;
  try {
    return { status, payload: JSON.parse(bodyBytes.toString('utf8')) };
  } catch {
    return undefined;
  }
}

/** A typed method per route of the API (protocol.ts): `client.stopPod({ pod, body: { grace } })`. */
export type MonitorApi = { [K in RouteName]: (args: RouteArgs<K>) => Promise<RouteAnswer<K>> };

// The class below gets these methods from ROUTES in its constructor; this declaration gives them
// their types.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface MonitorClient extends MonitorApi {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class MonitorClient {
  /**
   * `start`, when given, starts a monitor: a request that finds none listening starts one and
   * is sent again, once.
   */
  constructor(
    readonly paths: StatePaths,
    private start?: () => Promise<void>,
  ) {
    for (const name of Object.keys(ROUTES) as RouteName[]) {
      (this as Record<RouteName, unknown>)[name] = (args: RouteArgs<typeof name>) => this.send(name, args);
    }
  }

  /** One request; the API's errors come back as TspodErrors with its message and fields. */
  async send<K extends RouteName>(name: K, args: RouteArgs<K>): Promise<RouteAnswer<K>> {
    const { method } = ROUTES[name];
    const path = requestPath(name, args as Record<string, unknown>);
    const body = (args as { body?: unknown }).body;
    try {
      return (await this.request(method, path, body)) as RouteAnswer<K>;
    } catch (err) {
      // Unreached: no monitor saw the request, so sending it again cannot do anything twice.
      const start = this.start;
      if (!(err instanceof MonitorUnavailable && err.unreached && start)) throw err;
      this.start = undefined;
      await start();
      return (await this.request(method, path, body)) as RouteAnswer<K>;
    }
  }

  /**
   * HTTP/1.1 by hand, one request per connection: the answers always carry content-length
   * (server.ts), and node:http cost 8 ms of every command's start-up here to load, more than
   * the request itself.
   */
  private request(method: string, path: string, body?: unknown): Promise<unknown> {
    const text = body === undefined ? '' : JSON.stringify(body);
    const head = [`${method} /${API_VERSION}${path} HTTP/1.1`, 'host: tspod', 'connection: close'];
    if (body !== undefined) head.push('content-type: application/json', `content-length: ${Buffer.byteLength(text)}`);
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let connected = false;
      const socket = connect(this.paths.socket, () => {
        connected = true;
        socket.write(`${head.join('\r\n')}\r\n\r\n${text}`);
      });
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', (err: NodeJS.ErrnoException) =>
        reject(new MonitorUnavailable(this.paths.socket, err.code ?? err.message, !connected)),
      );
      socket.on('end', () => {
        const answer = parseAnswer(Buffer.concat(chunks));
        if (!answer) return reject(new TspodError(`the monitor sent an unreadable answer to ${method} ${path}`));
        if (answer.status >= 300) return reject(new ApiError(answer.status, answer.payload as ErrorBody));
        resolve(answer.payload);
      });
    });
  }

  async ping(): Promise<boolean> {
    try {
      await this.version({});
      return true;
    } catch (err) {
      if (err instanceof MonitorUnavailable) return false;
      throw err;
    }
  }
}

/**
 * A client for this state directory's monitor, which starts one if none answers its first
 * request: a command with a monitor running pays for no extra round trip, and loads none of the
 * code that starts one (launch.js).
 */
export function monitorClient(paths: StatePaths): MonitorClient {
  return new MonitorClient(paths, () =>
    (require('./launch.js') as typeof import('./launch.js')).launchMonitor(paths, new MonitorClient(paths)),
  );
}
