// Checks of single fields, shared by the manifest reader and the monitor's API: each error
// names the path of the field (spec.containers[1].name) and what is wrong with it.
import { InputError } from '../errors.js';
import { dns1123LabelProblem, envNameProblem } from './names.js';
import { isIP } from 'node:net';
import { RESTART_POLICIES, type ContainerSpec, type EnvVar, type NetworkSpec, type PortMapping, type RestartPolicy } from './spec.js';

export type Mapping = Record<string, unknown>;

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a mapping' : `a ${typeof v}`;
}

export function mapping(v: unknown, path: string): Mapping {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new InputError(path, `must be a mapping, not ${typeName(v)}`);
  }
  return v as Mapping;
}

/** Rejects every key of `o` outside `supported`, naming the first one. */
export function onlyFields(o: Mapping, path: string, supported: readonly string[]): void {
  for (const key of Object.keys(o)) {
    if (!supported.includes(key)) {
      const where = path ? `${path}.${key}` : key;
      throw new InputError(where, `field is not supported by tspod (supported here: ${supported.join(', ')})`);
    }
  }
}

export function string(v: unknown, path: string): string {
  if (typeof v !== 'string') throw new InputError(path, `must be a string, not ${typeName(v)}`);
  if (v.includes('\0')) throw new InputError(path, 'must not contain a NUL character');
  return v;
}

export function list(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw new InputError(path, `must be a list, not ${typeName(v)}`);
  return v;
}

export function stringList(v: unknown, path: string): string[] {
  return list(v, path).map((item, i) => string(item, `${path}[${i}]`));
}

export function stringMap(v: unknown, path: string): Record<string, string> {
  const o = mapping(v, path);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) out[k] = string(val, `${path}.${k}`);
  return out;
}

export function label(v: unknown, path: string): string {
  const s = string(v, path);
  const problem = dns1123LabelProblem(s);
  if (problem) throw new InputError(path, problem);
  return s;
}

/** `extra`: fields the caller reads itself (a manifest's ports). */
export function containerSpec(v: unknown, path: string, extra: readonly string[] = []): ContainerSpec {
  const c = mapping(v, path);
  onlyFields(c, path, ['name', 'command', 'args', 'env', 'workingDir', ...extra]);
  if (c.name === undefined) throw new InputError(`${path}.name`, 'is required');
  const name = label(c.name, `${path}.name`);
  if (c.command === undefined) {
    throw new InputError(`${path}.command`, 'is required (tspod runs host programs: there is no image to take an entrypoint from)');
  }
  const command = stringList(c.command, `${path}.command`);
  if (command.length === 0 || command[0] === '') throw new InputError(`${path}.command`, 'must name a program');
  const spec: ContainerSpec = {
    name,
    command,
    args: c.args === undefined ? [] : stringList(c.args, `${path}.args`),
    env: c.env === undefined ? [] : list(c.env, `${path}.env`).map((e, i) => envVar(e, `${path}.env[${i}]`)),
  };
  if (c.workingDir !== undefined) {
    const dir = string(c.workingDir, `${path}.workingDir`);
    if (!dir.startsWith('/')) throw new InputError(`${path}.workingDir`, `"${dir}" must be an absolute path`);
    spec.workingDir = dir;
  }
  return spec;
}

export function envVar(v: unknown, path: string): EnvVar {
  const e = mapping(v, path);
  onlyFields(e, path, ['name', 'value']);
  const name = string(e.name, `${path}.name`);
  const problem = envNameProblem(name);
  if (problem) throw new InputError(`${path}.name`, problem);
  return { name, value: e.value === undefined ? '' : string(e.value, `${path}.value`) };
}

export function restartPolicyValue(v: unknown, path: string): RestartPolicy {
  if (!(RESTART_POLICIES as readonly unknown[]).includes(v)) {
    throw new InputError(path, `must be one of ${RESTART_POLICIES.join(', ')}, not ${JSON.stringify(v)}`);
  }
  return v as RestartPolicy;
}

export function graceSeconds(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new InputError(path, `must be a whole number of seconds >= 0, not ${JSON.stringify(v)}`);
  }
  return v;
}

/** Container names are unique within a pod. */
export function uniqueNames(containers: ContainerSpec[], path: string): void {
  containers.forEach((c, i) => {
    if (containers.findIndex((o) => o.name === c.name) !== i) {
      throw new InputError(`${path}[${i}].name`, `duplicate container name "${c.name}"`);
    }
  });
}

export function port(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) {
    throw new InputError(path, `must be a port number from 1 to 65535, not ${JSON.stringify(v)}`);
  }
  return v;
}

export function ipAddress(v: unknown, path: string): string {
  const s = string(v, path);
  if (isIP(s) === 0) throw new InputError(path, `"${s}" is not an IP address`);
  return s;
}

/** Two mappings may not take the same host port (and protocol) on the same address. */
export function uniqueHostPorts(ports: PortMapping[], path: (i: number) => string): void {
  ports.forEach((p, i) => {
    const j = ports.findIndex((o) => o.hostPort === p.hostPort && o.protocol === p.protocol && (o.hostIP ?? '0.0.0.0') === (p.hostIP ?? '0.0.0.0'));
    if (j !== i) throw new InputError(path(i), `host port ${p.hostPort}/${p.protocol} is published twice`);
  });
}

/** tspod's own forms, as the API and the CLI use them: pod, host, cni or cni:NAME. */
export function networkValue(v: unknown, path: string): NetworkSpec {
  const s = string(v, path);
  if (s === 'pod' || s === 'host' || s === 'cni') return { mode: s };
  const m = /^cni:(.+)$/.exec(s);
  if (m) return { mode: 'cni', name: m[1] };
  throw new InputError(path, `"${s}" is not a network: pod, host, cni, or cni:NAME`);
}
