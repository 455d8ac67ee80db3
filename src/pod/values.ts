// The checks of single values every reader of Kubernetes-shaped objects shares (fields.ts,
// probes.ts): each error names the field's path and what is wrong with it.
import { isIP } from 'node:net';
import { InputError } from '../errors.js';
import type { KubeType } from './kube-fields.js';

export type Mapping = Record<string, unknown>;

function typeName(v: unknown): string {
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

/**
 * How the fields of a Kubernetes-shaped object are checked: a manifest's against the Pod v1
 * table (kube-fields.ts: accepted fields pass), the API's against the supported ones only.
 */
export type FieldCheck = (o: Mapping, path: string, type: KubeType) => void;

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

export function boolean(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw new InputError(path, `must be true or false, not ${JSON.stringify(v)}`);
  return v;
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
