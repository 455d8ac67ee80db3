// The monitor's HTTP server on its Unix socket. Each route reads its body, checks it, calls the
// pod host and answers with JSON: a pod's record, or an error body with a status.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { InputError } from '../errors.js';
import { addContainerFromBody, createPodFromBody, errorStatus, graceFromBody, manifestFromBody, specFromManifest } from './api.js';
import { API_VERSION, errorBody } from './protocol.js';
import type { PodHost } from './host.js';
import type { StateStore } from '../state/store.js';

const MAX_BODY = 1 << 20;

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new InputError('path', `"${segment}" is not a valid URL segment`);
  }
}

type Handler = (params: string[], body: unknown, query: URLSearchParams) => Promise<unknown>;

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new InputError('request body', `is larger than ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new InputError('request body', `invalid JSON: ${(err as Error).message}`);
  }
}

export function monitorServer(host: PodHost, store: StateStore, version: string): Server {
  const record = (name: string) => host.record(name);
  // method, path, handler, and the status of a success when it is not 200
  const routes: [string, RegExp, Handler, number?][] = [
    ['GET', /^\/version$/, async () => ({ version, api: API_VERSION, pid: process.pid })],
    ['GET', /^\/pods$/, async () => store.list()],
    [
      'POST',
      /^\/pods$/,
      async (_, body) => {
        const req = await createPodFromBody(body);
        const pod = await host.create(req.spec, { persistent: req.persistent });
        return record(pod.spec.name);
      },
      201,
    ],
    ['GET', /^\/pods\/([^/]+)$/, async ([name]) => record(name)],
    [
      // The CLI's run -d -f has its manifest read here (or sends it with POST /pods), where
      // the YAML parser is loaded already: loading it in each command cost 30 ms.
      'POST',
      /^\/manifests$/,
      async (_, body) => ({ spec: await specFromManifest(manifestFromBody(body)) }),
    ],
    [
      'POST',
      /^\/pods\/([^/]+)\/stop$/,
      async ([name], body) => {
        await host.get(name).stop(graceFromBody(body));
        return record(name);
      },
    ],
    [
      'DELETE',
      /^\/pods\/([^/]+)$/,
      async ([name], _, query) => {
        await host.remove(name, query.get('force') === 'true');
        return { removed: name };
      },
    ],
    [
      'POST',
      /^\/pods\/([^/]+)\/containers$/,
      async ([name], body) => {
        const req = addContainerFromBody(body);
        await host.get(name).addContainer(req.container, req.restartPolicy);
        return record(name);
      },
    ],
    [
      'POST',
      /^\/pods\/([^/]+)\/containers\/([^/]+)\/restart$/,
      async ([name, ctr], body) => {
        await host.get(name).restartContainer(ctr, graceFromBody(body));
        return record(name);
      },
    ],
    [
      'POST',
      /^\/pods\/([^/]+)\/containers\/([^/]+)\/stop$/,
      async ([name, ctr], body) => {
        await host.get(name).stopContainer(ctr, graceFromBody(body));
        return record(name);
      },
    ],
    [
      'DELETE',
      /^\/pods\/([^/]+)\/containers\/([^/]+)$/,
      async ([name, ctr], _, query) => {
        await host.get(name).removeContainer(ctr, query.get('force') === 'true');
        return record(name);
      },
    ],
  ];

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
      const matching = path === undefined ? [] : routes.filter(([, re]) => re.test(path));
      const route = matching.find(([method]) => method === req.method);
      if (!route) {
        status = matching.length ? 405 : 404;
        payload = { error: `no route ${req.method} ${rawPath}`, exitCode: 125 };
      } else {
        const params = route[1].exec(path!)!.slice(1).map(decodeSegment);
        payload = await route[2](params, await readBody(req), searchParams);
        status = route[3] ?? 200;
      }
    } catch (err) {
      status = errorStatus(err);
      payload = errorBody(err);
      if (status === 500) console.error(`monitor: ${req.method} ${rawPath}:`, err);
    }
    const text = JSON.stringify(payload ?? null);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  return createServer((req, res) => void handle(req, res));
}
