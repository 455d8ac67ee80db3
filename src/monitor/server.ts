// The monitor's HTTP server on its Unix socket: the routes of protocol.ts, each handler reading
// its body, checking it (api.ts), calling the pod host and answering with JSON: a pod's record,
// or an error body with a status.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { InputError } from '../errors.js';
import {
  addContainerFromBody,
  createPodFromBody,
  errorStatus,
  graceFromBody,
  manifestFromBody,
  specFromManifest,
  updateFromBody,
} from './api.js';
import { API_VERSION, ROUTES, errorBody, type PathParams, type RouteAnswer, type RouteName } from './protocol.js';
import type { PodHost } from '../supervisor/host.js';
import { withoutExecContext } from '../state/records.js';

const MAX_BODY = 1 << 20;

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new InputError('path', `"${segment}" is not a valid URL segment`);
  }
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) throw new InputError('request body', `is larger than ${MAX_BODY} bytes`);
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    // The client went away before its body had all come ('aborted'): its fault, not the monitor's.
    throw new InputError('request body', `the request ended before its body did (${(err as Error).message})`);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new InputError('request body', `invalid JSON: ${(err as Error).message}`);
  }
}

/** What the server does for each route of protocol.ts; the body is the request's, unchecked. */
type Handlers = {
  [K in RouteName]: (params: PathParams<(typeof ROUTES)[K]['path']>, body: unknown, query: URLSearchParams) => Promise<RouteAnswer<K>>;
};

/** A route's path template as a pattern: each ":name" one segment, still encoded. */
function pathPattern(template: string): { re: RegExp; names: string[] } {
  const names: string[] = [];
  const source = template.replace(/:([a-z]+)/g, (_, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { re: new RegExp(`^${source}$`), names };
}

export function monitorServer(host: PodHost, version: string): Server {
  const record = (name: string) => host.record(name);
  const handlers: Handlers = {
    version: async () => ({ version, api: API_VERSION, pid: process.pid }),
    listPods: async () => host.list(),
    createPod: async (_, body) => {
      const req = await createPodFromBody(body);
      const pod = await host.create(req.spec, { persistent: req.persistent });
      return { ...record(pod.spec.name), ...(req.warnings.length ? { warnings: req.warnings } : {}) };
    },
    readManifest: async (_, body) => {
      const { spec, warnings } = await specFromManifest(manifestFromBody(body));
      return { spec, ...(warnings.length ? { warnings } : {}) };
    },
    getPod: async ({ pod }) => record(pod),
    stopPod: async ({ pod }, body) => {
      await host.get(pod).stop(graceFromBody(body));
      return record(pod);
    },
    removePod: async ({ pod }, _, query) => {
      await host.remove(pod, query.get('force') === 'true');
      return { removed: pod };
    },
    addContainer: async ({ pod }, body) => {
      const req = addContainerFromBody(body);
      await host.get(pod).addContainer(req.container, req.restartPolicy);
      return record(pod);
    },
    restartContainer: async ({ pod, container }, body) => {
      await host.get(pod).restartContainer(container, graceFromBody(body));
      return record(pod);
    },
    stopContainer: async ({ pod, container }, body) => {
      await host.get(pod).stopContainer(container, graceFromBody(body));
      return record(pod);
    },
    removeContainer: async ({ pod, container }, _, query) => {
      await host.get(pod).removeContainer(container, query.get('force') === 'true');
      return record(pod);
    },
    updateResources: async ({ pod, container }, body) => {
      await host.get(pod).updateContainer(container, updateFromBody(body));
      return record(pod);
    },
  };
  const routes = (Object.keys(ROUTES) as RouteName[]).map((name) => ({ name, ...ROUTES[name], ...pathPattern(ROUTES[name].path) }));

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    // Routes are matched on the path as sent, before any decoding or dot-segment folding:
    // an encoded "/" or ".." inside a name can only be a (bad) name, never another route.
    const raw = req.url ?? '/';
    const query = raw.indexOf('?');
    const rawPath = query < 0 ? raw : raw.slice(0, query);
    const searchParams = new URLSearchParams(query < 0 ? '' : raw.slice(query + 1));
    const prefix = `/${API_VERSION}`;
    const path = rawPath.startsWith(prefix + '/') ? rawPath.slice(prefix.length) : undefined;
    let status = 200;
    let payload: unknown;
    try {
      const matching = path === undefined ? [] : routes.filter((r) => r.re.test(path));
      const route = matching.find((r) => r.method === req.method);
      if (!route) {
        status = matching.length ? 405 : 404;
        payload = { error: `no route ${req.method} ${rawPath}`, exitCode: 125 };
      } else {
        const values = route.re.exec(path!)!.slice(1).map(decodeSegment);
        const params = Object.fromEntries(route.names.map((n, i) => [n, values[i]]));
        const handler = handlers[route.name] as (params: Record<string, string>, body: unknown, query: URLSearchParams) => Promise<unknown>;
        payload = await handler(params, await readBody(req), searchParams);
        status = 'status' in route ? route.status : 200;
      }
    } catch (err) {
      status = errorStatus(err);
      payload = errorBody(err);
      if (status === 500) console.error(`monitor: ${req.method} ${rawPath}:`, err);
    }
    const text = JSON.stringify(payload ?? null, withoutExecContext);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  // A Unix socket has no host to name: a request without Host is answered like any other (node:http
  // would answer it with a bare 400 of its own).
  const server = createServer({ requireHostHeader: false }, (req, res) => void handle(req, res));
  // What is not HTTP at all (a body with no length, garbage) is answered as JSON too, in one
  // line, and the connection closed: node:http's own answer would be a bare 400.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const text = JSON.stringify({ error: `not an HTTP request the monitor reads: ${err.code ?? err.message}`, exitCode: 125 });
    const head = [
      'HTTP/1.1 400 Bad Request',
      'content-type: application/json',
      `content-length: ${Buffer.byteLength(text)}`,
      'connection: close',
    ];
    socket.end(`${head.join('\r\n')}\r\n\r\n${text}`);
  });
  return server;
}
