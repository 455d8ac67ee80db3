// A container's probes and lifecycle hooks, read from a manifest or the API: Kubernetes' fields,
// its defaults and its validation (a handler is exactly one of its kinds; periods and thresholds
// at least 1; success once for liveness and startup). A port by name is resolved here, against
// the container's own ports, so a name no port has is an error before anything is made.
import { InputError } from '../errors.js';
import type { HttpGetAction, Lifecycle, LifecycleHandler, Probe, ProbeHandler } from './spec.js';
import { ipAddress, list, mapping, port, string, stringList, type FieldCheck, type Mapping } from './values.js';

export const PROBE_KINDS = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];

/** Kubernetes' defaults for a probe's timing. */
const PROBE_DEFAULTS = { initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 };

/** An HTTP header's name: RFC 9110's token. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The container's named ports, from its (raw) ports list; a malformed entry is the ports check's to report. */
export function namedPorts(ports: unknown): Map<string, number> {
  const names = new Map<string, number>();
  if (!Array.isArray(ports)) return names;
  for (const p of ports as Mapping[]) {
    if (typeof p?.name === 'string' && typeof p.containerPort === 'number') names.set(p.name, p.containerPort);
  }
  return names;
}

function integer(v: unknown, path: string, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 2 ** 31 - 1) {
    throw new InputError(path, `must be a whole number of at least ${min}, not ${JSON.stringify(v)}`);
  }
  return v;
}

/** A port by number, or by the name of one of the container's ports (Kubernetes' IANA_SVC_NAME). */
function portOf(v: unknown, path: string, names: Map<string, number>): number {
  if (typeof v !== 'string') return port(v, path);
  const found = names.get(v);
  if (found === undefined) {
    const known = names.size ? ` (its ports: ${[...names.keys()].join(', ')})` : '';
    throw new InputError(path, `no port of the container is named "${v}"${known}`);
  }
  return found;
}

function httpGet(v: unknown, path: string, check: FieldCheck, names: Map<string, number>): HttpGetAction {
  const o = mapping(v, path);
  check(o, path, 'HTTPGetAction');
  if (o.port === undefined) throw new InputError(`${path}.port`, 'is required');
  const action: HttpGetAction = {
    port: portOf(o.port, `${path}.port`, names),
    path: o.path === undefined ? '/' : string(o.path, `${path}.path`),
    scheme: 'HTTP',
    httpHeaders: [],
  };
  if (!action.path.startsWith('/') || /[\s]/.test(action.path))
    throw new InputError(`${path}.path`, `"${action.path}" must be an absolute path without spaces`);
  if (o.scheme !== undefined) {
    if (o.scheme !== 'HTTP' && o.scheme !== 'HTTPS')
      throw new InputError(`${path}.scheme`, `must be HTTP or HTTPS, not ${JSON.stringify(o.scheme)}`);
    action.scheme = o.scheme;
  }
  // tspod resolves no names: a host is an address, reached from inside the pod's network.
  if (o.host !== undefined && o.host !== '') action.host = ipAddress(o.host, `${path}.host`);
  if (o.httpHeaders !== undefined) {
    action.httpHeaders = list(o.httpHeaders, `${path}.httpHeaders`).map((h, i) => {
      const at = `${path}.httpHeaders[${i}]`;
      const header = mapping(h, at);
      check(header, at, 'HTTPHeader');
      const name = string(header.name, `${at}.name`);
      if (!HEADER_NAME.test(name)) throw new InputError(`${at}.name`, `"${name}" is not an HTTP header name`);
      const value = string(header.value ?? '', `${at}.value`);
      if (/[\r\n]/.test(value)) throw new InputError(`${at}.value`, 'must be one line');
      return { name, value };
    });
  }
  return action;
}

function exec(v: unknown, path: string, check: FieldCheck): { command: string[] } {
  const o = mapping(v, path);
  check(o, path, 'ExecAction');
  const command = o.command === undefined ? [] : stringList(o.command, `${path}.command`);
  if (command.length === 0 || command[0] === '') throw new InputError(`${path}.command`, 'must name a program');
  return { command };
}

/** Exactly one handler of those `kinds` given in `o`. */
function oneHandler(o: Mapping, path: string, kinds: readonly string[]): string {
  const given = kinds.filter((k) => o[k] !== undefined);
  if (given.length === 0) throw new InputError(path, `needs a handler: one of ${kinds.join(', ')}`);
  if (given.length > 1) throw new InputError(`${path}.${given[1]}`, `cannot go with ${given[0]}: a handler is one of ${kinds.join(', ')}`);
  return given[0];
}

/** A probe of a container, with Kubernetes' defaults; `names`: the container's named ports. */
export function probe(v: unknown, path: string, kind: ProbeKind, check: FieldCheck, names: Map<string, number>): Probe {
  const o = mapping(v, path);
  check(o, path, 'Probe');
  const handler: ProbeHandler = {};
  const which = oneHandler(o, path, ['exec', 'httpGet', 'tcpSocket', 'grpc']);
  const at = `${path}.${which}`;
  if (which === 'exec') handler.exec = exec(o.exec, at, check);
  else if (which === 'httpGet') handler.httpGet = httpGet(o.httpGet, at, check, names);
  else if (which === 'tcpSocket') {
    const t = mapping(o.tcpSocket, at);
    check(t, at, 'TCPSocketAction');
    if (t.port === undefined) throw new InputError(`${at}.port`, 'is required');
    handler.tcpSocket = { port: portOf(t.port, `${at}.port`, names) };
    if (t.host !== undefined && t.host !== '') handler.tcpSocket.host = ipAddress(t.host, `${at}.host`);
  } else {
    const g = mapping(o.grpc, at);
    check(g, at, 'GRPCAction');
    if (g.port === undefined) throw new InputError(`${at}.port`, 'is required');
    // Kubernetes takes only a number here.
    handler.grpc = { port: port(g.port, `${at}.port`), service: g.service === undefined ? '' : string(g.service, `${at}.service`) };
  }
  const timing = { ...PROBE_DEFAULTS };
  for (const key of Object.keys(PROBE_DEFAULTS) as (keyof typeof PROBE_DEFAULTS)[]) {
    if (o[key] !== undefined) timing[key] = integer(o[key], `${path}.${key}`, key === 'initialDelaySeconds' ? 0 : 1);
  }
  if (kind !== 'readinessProbe' && timing.successThreshold !== 1)
    throw new InputError(`${path}.successThreshold`, `must be 1 for a ${kind} (one success is enough to count)`);
  const out: Probe = { ...handler, ...timing };
  if (o.terminationGracePeriodSeconds !== undefined) {
    if (kind === 'readinessProbe')
      throw new InputError(`${path}.terminationGracePeriodSeconds`, 'is not for a readinessProbe: it never stops the container');
    out.terminationGracePeriodSeconds = integer(o.terminationGracePeriodSeconds, `${path}.terminationGracePeriodSeconds`, 1);
  }
  return out;
}

function lifecycleHandler(v: unknown, path: string, check: FieldCheck, names: Map<string, number>): LifecycleHandler {
  const o = mapping(v, path);
  check(o, path, 'LifecycleHandler');
  const which = oneHandler(o, path, ['exec', 'httpGet', 'sleep']);
  const at = `${path}.${which}`;
  if (which === 'exec') return { exec: exec(o.exec, at, check) };
  if (which === 'httpGet') return { httpGet: httpGet(o.httpGet, at, check, names) };
  const s = mapping(o.sleep, at);
  check(s, at, 'SleepAction');
  if (s.seconds === undefined) throw new InputError(`${at}.seconds`, 'is required');
  return { sleep: { seconds: integer(s.seconds, `${at}.seconds`, 1) } };
}

/** A container's postStart and preStop hooks; `names`: the container's named ports. */
export function lifecycle(v: unknown, path: string, check: FieldCheck, names: Map<string, number>): Lifecycle {
  const o = mapping(v, path);
  check(o, path, 'Lifecycle');
  const out: Lifecycle = {};
  if (o.postStart !== undefined) out.postStart = lifecycleHandler(o.postStart, `${path}.postStart`, check, names);
  if (o.preStop !== undefined) out.preStop = lifecycleHandler(o.preStop, `${path}.preStop`, check, names);
  return out;
}

/** A preStop sleep longer than the grace period would always be cut (Kubernetes refuses it). */
export function checkSleep(l: Lifecycle | undefined, graceSeconds: number, path: string): void {
  for (const hook of ['postStart', 'preStop'] as const) {
    const s = l?.[hook]?.sleep?.seconds;
    if (s !== undefined && s > graceSeconds)
      throw new InputError(`${path}.${hook}.sleep.seconds`, `${s} is longer than the grace period (${graceSeconds} s)`);
  }
}
