// The CLI's side of the monitor: requests over the control socket, and starting a monitor when
// none answers. The monitor is started detached (its own session, its output in monitor.log),
// so it outlives the command that started it and holds none of that command's fds.
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { TspodError } from '../errors.js';
import { loadBinding, type ExitStatus } from '../native/binding.js';
import { DEFAULT_PATH } from '../pod/env.js';
import type { StatePaths } from '../state/paths.js';
import type { StateStore } from '../state/store.js';
import { API_VERSION, errorFromBody, type ErrorBody } from './protocol.js';

/** dist/cli/main.js, from either src/monitor or dist/monitor. */
const cliPath = join(__dirname, '../../dist/cli/main.js');

/** How long a command waits for a monitor it started to answer. */
const START_TIMEOUT_MS = 10_000;

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

export class MonitorClient {
  /**
   * `start`, when given, starts a monitor: a request that finds none listening starts one and
   * is sent again, once.
   */
  constructor(
    readonly paths: StatePaths,
    private start?: () => Promise<void>,
  ) {}

  /** One request; the API's errors come back as TspodErrors with its message and fields. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    try {
      return await this.request<T>(method, path, body);
    } catch (err) {
      // Unreached: no monitor saw the request, so sending it again cannot do anything twice.
      const start = this.start;
      if (!(err instanceof MonitorUnavailable && err.unreached && start)) throw err;
      this.start = undefined;
      await start();
      return this.request<T>(method, path, body);
    }
  }

  /**
   * HTTP/1.1 by hand, one request per connection: the answers always carry content-length
   * (server.ts), and node:http cost 8 ms of every command's start-up here to load, more than
   * the request itself.
   */
  private request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const text = body === undefined ? '' : JSON.stringify(body);
    const head = [`${method} /${API_VERSION}${path} HTTP/1.1`, 'host: tspod', 'connection: close'];
    if (body !== undefined) head.push('content-type: application/json', `content-length: ${Buffer.byteLength(text)}`);
    return new Promise<T>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let connected = false;
      const socket = connect(this.paths.socket, () => {
        connected = true;
        socket.write(`${head.join('\r\n')}\r\n\r\n${text}`);
      });
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', (err: NodeJS.ErrnoException) => reject(new MonitorUnavailable(this.paths.socket, err.code ?? err.message, !connected)));
      socket.on('end', () => {
        const answer = parseAnswer(Buffer.concat(chunks));
        if (!answer) return reject(new TspodError(`the monitor sent an unreadable answer to ${method} ${path}`));
        if (answer.status >= 300) return reject(errorFromBody(answer.payload as ErrorBody));
        resolve(answer.payload as T);
      });
    });
  }

  async ping(): Promise<boolean> {
    try {
      await this.call('GET', '/version');
      return true;
    } catch (err) {
      if (err instanceof MonitorUnavailable) return false;
      throw err;
    }
  }
}

/**
 * Starts `tspod monitor` in the background for this state directory: in a session of its own,
 * its output in monitor.log, and through the addon's spawn, which closes every other fd (a
 * command's pipe held by the monitor would keep whoever reads it waiting). Its environment is
 * PATH and the TSPOD_* knobs, nothing else of the command that started it.
 */
export function spawnMonitor(paths: StatePaths): { pid: number; exited: Promise<ExitStatus> } {
  const binding = loadBinding();
  const devNull = openSync('/dev/null', 'r');
  const log = openSync(paths.monitorLog, 'a', 0o600);
  try {
    const env = [`PATH=${DEFAULT_PATH}`, ...Object.entries(process.env).filter(([k]) => k.startsWith('TSPOD_')).map(([k, v]) => `${k}=${v}`)];
    const { pid, pidfd } = binding.spawn({
      path: process.execPath,
      argv: [process.execPath, cliPath, '--root', paths.root, 'monitor'],
      env,
      cwd: '/',
      stdio: [devNull, log, log],
      newSession: true,
    });
    const exited = new Promise<ExitStatus>((resolve) => {
      new binding.ExitWatch(pidfd, (status) => {
        closeSync(pidfd);
        resolve(status);
      }).unref();
    });
    return { pid, exited };
  } finally {
    closeSync(devNull);
    closeSync(log);
  }
}

/**
 * A client for the running monitor, which starts one if none answers its first request: a
 * command with a monitor running pays for no extra round trip.
 */
export async function ensureMonitor(store: StateStore): Promise<MonitorClient> {
  return new MonitorClient(store.paths, () => launchMonitor(store));
}

/** Starts a monitor in the background and waits until it answers. */
async function launchMonitor(store: StateStore): Promise<void> {
  const paths = store.paths;
  const client = new MonitorClient(paths);
  store.ensureRoot();
  let exited: number | null = null;
  void spawnMonitor(paths).exited.then((s) => (exited = s.code ?? 1));
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    await new Promise((r) => setTimeout(r, 20));
    if (await client.ping()) return;
    // Exit 0: another command's monitor won the lock; it will answer shortly.
    if ((exited !== null && exited !== 0) || Date.now() > deadline) {
      let tail = '';
      try {
        tail = readFileSync(paths.monitorLog, 'utf8').trim().split('\n').slice(-3).join(' | ');
      } catch {
        // no log
      }
      throw new TspodError(`could not start the monitor for ${paths.root}${tail ? `: ${tail}` : ''}`);
    }
  }
}
