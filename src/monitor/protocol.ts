// The monitor's API, described once: each route's method, path, request and answer, and the
// error body. The server (server.ts) serves these routes and the client (client.ts) gets a typed
// method for each, from this one table. Its imports are types only: the CLI's commands load
// this, and nothing of the runtime.
import { TspodError, errnoFields, type ErrnoFields } from '../errors.js';
import type { ResourceList } from '../pod/resources.js';
import type { ContainerSpec, PodSpec, RestartPolicy } from '../pod/spec.js';
import type { PodRecord } from '../state/records.js';

export const API_VERSION = 'v1';

/** POST /v1/pods: the pod as a spec, or as a manifest that the monitor reads. */
export interface CreatePodRequest {
  spec?: PodSpec;
  manifest?: ManifestRequest;
  /** Lives until stopped, whatever its containers do (`pod create`). */
  persistent?: boolean;
}

/**
 * POST /v1/manifests, or `manifest` in POST /v1/pods: a manifest's text; `file` names it in
 * errors; `workingDir`, the client's directory, is where its containers on the host's file
 * system run unless they say otherwise.
 */
export interface ManifestRequest {
  text: string;
  file: string;
  workingDir?: string;
}

/** POST /v1/pods/NAME/containers */
export interface AddContainerRequest {
  container: ContainerSpec;
  restartPolicy?: RestartPolicy;
}

/** POST /v1/pods/NAME/containers/NAME/resources: new limits, replacing those of the same name. */
export interface UpdateResourcesRequest {
  limits?: ResourceList;
  pidsLimit?: number;
}

/** The stops and restarts: seconds between SIGTERM and SIGKILL (default: the pod's). */
export interface GraceRequest {
  grace?: number;
}

/**
 * Every route: its method, and its path under /v1, where ":pod" and ":container" stand for
 * names (sent encoded, one path segment each). `status`: a success's, when it is not 200.
 */
export const ROUTES = {
  version: { method: 'GET', path: '/version' },
  listPods: { method: 'GET', path: '/pods' },
  createPod: { method: 'POST', path: '/pods', status: 201 },
  // The CLI's run -d -f has its manifest read by the monitor, where the YAML parser is loaded
  // already: loading it in each command cost 30 ms.
  readManifest: { method: 'POST', path: '/manifests' },
  getPod: { method: 'GET', path: '/pods/:pod' },
  stopPod: { method: 'POST', path: '/pods/:pod/stop' },
  removePod: { method: 'DELETE', path: '/pods/:pod' },
  addContainer: { method: 'POST', path: '/pods/:pod/containers' },
  restartContainer: { method: 'POST', path: '/pods/:pod/containers/:container/restart' },
  stopContainer: { method: 'POST', path: '/pods/:pod/containers/:container/stop' },
  removeContainer: { method: 'DELETE', path: '/pods/:pod/containers/:container' },
  updateResources: { method: 'POST', path: '/pods/:pod/containers/:container/resources' },
} as const satisfies Record<string, { method: 'GET' | 'POST' | 'DELETE'; path: string; status?: number }>;

export type RouteName = keyof typeof ROUTES;

/** What each route takes (a body, a query) and answers. */
export interface RouteTypes {
  version: { answer: { version: string; api: string; pid: number } };
  listPods: { answer: PodRecord[] };
  /** warnings: what reading a manifest had to say (imagePullPolicy: Always, say), one line each. */
  createPod: { body: CreatePodRequest; answer: PodRecord & { warnings?: string[] } };
  readManifest: { body: ManifestRequest; answer: { spec: PodSpec; warnings?: string[] } };
  getPod: { answer: PodRecord };
  stopPod: { body?: GraceRequest; answer: PodRecord };
  removePod: { query?: { force?: boolean }; answer: { removed: string } };
  addContainer: { body: AddContainerRequest; answer: PodRecord };
  restartContainer: { body?: GraceRequest; answer: PodRecord };
  stopContainer: { body?: GraceRequest; answer: PodRecord };
  removeContainer: { query?: { force?: boolean }; answer: PodRecord };
  updateResources: { body: UpdateResourcesRequest; answer: PodRecord };
}

/** The names a path template holds: '/pods/:pod/stop' gives { pod: string }. */
export type PathParams<P extends string> = P extends `${string}:${infer Name}/${infer Rest}`
  ? { [K in Name]: string } & PathParams<`/${Rest}`>
  : P extends `${string}:${infer Name}`
    ? { [K in Name]: string }
    : unknown;

/** What a request of a route is made of: its path's names, and its body and query. */
export type RouteArgs<K extends RouteName> = PathParams<(typeof ROUTES)[K]['path']> & Omit<RouteTypes[K], 'answer'>;
export type RouteAnswer<K extends RouteName> = RouteTypes[K]['answer'];

/** A route's path and query for a request, every name encoded as one path segment. */
export function requestPath(name: RouteName, args: { query?: Record<string, unknown> } & Record<string, unknown>): string {
  const path = ROUTES[name].path.replace(/:([a-z]+)/g, (_, key: string) => encodeURIComponent(String(args[key])));
  const query = Object.entries(args.query ?? {}).filter(([, v]) => v !== undefined && v !== false);
  return query.length ? `${path}?${query.map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`).join('&')}` : path;
}

/** An error as the API sends it: the message, and the fields that say more. */
export interface ErrorBody extends ErrnoFields {
  error: string;
  /** The CLI's exit status for it. */
  exitCode: number;
  field?: string;
}

export function errorBody(err: unknown): ErrorBody {
  const e = err as { exitCode?: number; field?: string };
  return {
    error: err instanceof Error ? err.message : String(err),
    exitCode: e.exitCode ?? 125,
    ...(e.field !== undefined ? { field: e.field } : {}),
    ...errnoFields(err),
  };
}

/** The CLI side: the API's error as an error to throw, with the same message and fields. */
export class ApiError extends TspodError {
  /** The HTTP status: 409 when the monitor refused a change (docs/MONITOR-API.md). */
  readonly status: number;
  field?: string;
  constructor(status: number, body: ErrorBody) {
    super(body.error, body.exitCode, body);
    this.name = 'ApiError';
    this.status = status;
    if (body.field !== undefined) this.field = body.field;
  }
}
