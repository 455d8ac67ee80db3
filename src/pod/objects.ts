// ConfigMaps and Secrets: named sets of keys that pods take environment variables and volume
// files from. They are read from a manifest (a ConfigMap or Secret document) or made by
// `tspod configmap|secret create`, kept in the state (state/objects.ts), and copied into a pod
// when it is created: the copy is what its containers get, at every start, even after the
// stored object is removed (podObjects, below).
import { InputError } from '../errors.js';
import { dnsName, mapping, string, type FieldCheck } from './fields.js';
import { keyProblem } from './names.js';
import {
  everyContainer,
  type ContainerSpec,
  type EnvFromSource,
  type EnvSource,
  type KeyRef,
  type ObjectVolume,
  type PodSpec,
  type Volume,
} from './spec.js';

export const OBJECT_KINDS = ['ConfigMap', 'Secret'] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];

/** A stored object: its keys' values as bytes, in base64; `text` marks a ConfigMap's `data` keys. */
export interface StoredObject {
  kind: ObjectKind;
  name: string;
  /** A Secret's type (Opaque unless said). */
  type?: string;
  data: Record<string, string>;
  /** The keys that came as text (a ConfigMap's `data`, not its binaryData): env takes only these. */
  text: string[];
}

/** The objects a pod refers to, copied from the store when it was created. */
export interface PodObjects {
  ConfigMap: Record<string, StoredObject>;
  Secret: Record<string, StoredObject>;
}

export const noObjects = (): PodObjects => ({ ConfigMap: {}, Secret: {} });

/** Kubernetes' limit on one ConfigMap's or Secret's data (etcd's request size). */
export const MAX_OBJECT_BYTES = 1024 * 1024;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Checks a key's name and returns its value's bytes. */
function keyValue(key: string, value: unknown, path: string, base64: boolean): Buffer {
  const problem = keyProblem(key);
  if (problem) throw new InputError(`${path}[${JSON.stringify(key)}]`, problem);
  const v = string(value, `${path}.${key}`);
  if (!base64) return Buffer.from(v, 'utf8');
  const compact = v.replace(/\s+/g, '');
  if (!BASE64.test(compact)) throw new InputError(`${path}.${key}`, "is not base64 (a Secret's data is; use stringData for text)");
  return Buffer.from(compact, 'base64');
}

/** Builds the object from its keys, checking what Kubernetes checks of the whole. */
export function makeObject(kind: ObjectKind, name: string, entries: { key: string; bytes: Buffer; text: boolean }[], type?: string) {
  const obj: StoredObject = { kind, name, ...(kind === 'Secret' ? { type: type ?? 'Opaque' } : {}), data: {}, text: [] };
  let bytes = 0;
  for (const e of entries) {
    bytes += e.bytes.length;
    obj.data[e.key] = e.bytes.toString('base64');
    if (e.text) obj.text.push(e.key);
  }
  if (bytes > MAX_OBJECT_BYTES) throw new InputError('data', `holds ${bytes} bytes, more than a ${kind} may (${MAX_OBJECT_BYTES})`);
  return obj;
}

/** A ConfigMap or Secret manifest document, checked: every error names its field. */
export function objectFromManifest(doc: Record<string, unknown>, check: FieldCheck): StoredObject {
  const kind = doc.kind as ObjectKind;
  check(doc, '', kind);
  if (doc.apiVersion !== 'v1') throw new InputError('apiVersion', `must be "v1", not ${JSON.stringify(doc.apiVersion)}`);
  const meta = mapping(doc.metadata ?? {}, 'metadata');
  check(meta, 'metadata', 'ObjectMeta');
  if (meta.name === undefined) throw new InputError('metadata.name', 'is required');
  const name = dnsName(meta.name, 'metadata.name');
  if (doc.immutable !== undefined && typeof doc.immutable !== 'boolean') throw new InputError('immutable', 'must be true or false');
  const entries = new Map<string, { key: string; bytes: Buffer; text: boolean }>();
  const add = (field: string, base64: boolean, text: boolean, overrides: boolean) => {
    if (doc[field] === undefined || doc[field] === null) return;
    for (const [key, value] of Object.entries(mapping(doc[field], field))) {
      if (entries.has(key) && !overrides) throw new InputError(`${field}.${key}`, 'is in data too: a key is given once');
      entries.set(key, { key, bytes: keyValue(key, value, field, base64), text });
    }
  };
  if (kind === 'ConfigMap') {
    add('data', false, true, false);
    add('binaryData', true, false, false);
  } else {
    add('data', true, false, false);
    // Kubernetes: stringData is written over data, key by key.
    add('stringData', false, false, true);
  }
  const type = doc.type === undefined ? undefined : string(doc.type, 'type');
  return makeObject(kind, name, [...entries.values()], type);
}

/** A key's value as a variable's: a ConfigMap's text key, any key of a Secret. Undefined: no such key. */
export function envValueOf(obj: StoredObject, key: string): string | undefined {
  if (!Object.hasOwn(obj.data, key) || (obj.kind === 'ConfigMap' && !obj.text.includes(key))) return undefined;
  return Buffer.from(obj.data[key], 'base64').toString('utf8');
}

/** The object and key a valueFrom names, if it names one. */
export function keyRefOf(v: EnvSource): { kind: ObjectKind; ref: KeyRef } | undefined {
  if (v.configMapKeyRef) return { kind: 'ConfigMap', ref: v.configMapKeyRef };
  if (v.secretKeyRef) return { kind: 'Secret', ref: v.secretKeyRef };
  return undefined;
}

/** The object an envFrom entry names: its kind, the field that names it, and the reference. */
export function envFromRef(e: EnvFromSource): { kind: ObjectKind; field: string; ref: { name: string; optional?: boolean } } {
  return e.configMapRef
    ? { kind: 'ConfigMap', field: 'configMapRef', ref: e.configMapRef }
    : { kind: 'Secret', field: 'secretRef', ref: e.secretRef! };
}

/** What a configMap or secret volume names: the kind, the object's name, the rest of its source. */
export function volumeObject(v: Volume): { kind: ObjectKind; name: string; source: ObjectVolume } | undefined {
  if ('configMap' in v) return { kind: 'ConfigMap', name: v.configMap.name, source: v.configMap };
  if ('secret' in v) return { kind: 'Secret', name: v.secret.secretName, source: v.secret };
  return undefined;
}

/** Where a volume's source is in a manifest, and the field of its object's name. */
const volumeField = (kind: ObjectKind) => (kind === 'ConfigMap' ? 'configMap' : 'secret');
const volumeNameField = (kind: ObjectKind) => (kind === 'ConfigMap' ? 'configMap.name' : 'secret.secretName');

const fieldOf = (kind: ObjectKind) => (kind === 'ConfigMap' ? 'configMapKeyRef' : 'secretKeyRef');

/**
 * The objects a pod's containers and volumes name, looked up now: the pod's copy. A missing
 * object or key that is not optional is an InputError naming the field that asks for it
 * (`base` is the containers' and volumes' parent: spec).
 */
export function podObjects(
  spec: Pick<PodSpec, 'initContainers' | 'containers' | 'volumes'>,
  lookup: (kind: ObjectKind, name: string) => StoredObject | undefined,
  base = 'spec',
  into: PodObjects = noObjects(),
): PodObjects {
  const find = finder(lookup, into);
  for (const { c, path } of everyContainer(spec, base)) containerObjects(c, path, lookup, into);
  spec.volumes.forEach((v, i) => {
    const o = volumeObject(v);
    if (!o) return;
    const at = `${base}.volumes[${i}]`;
    const obj = find(o.kind, o.name, o.source.optional, `${at}.${volumeNameField(o.kind)}`);
    o.source.items?.forEach((item, j) => {
      if (obj && !Object.hasOwn(obj.data, item.key) && !o.source.optional) {
        throw new InputError(`${at}.${volumeField(o.kind)}.items[${j}].key`, `${o.kind} "${obj.name}" has no key "${item.key}"`);
      }
    });
  });
  return into;
}

type Find = (kind: ObjectKind, name: string, optional: boolean | undefined, where: string) => StoredObject | undefined;

const finder =
  (lookup: (kind: ObjectKind, name: string) => StoredObject | undefined, into: PodObjects): Find =>
  (kind, name, optional, where) => {
    const obj = into[kind][name] ?? lookup(kind, name);
    if (obj) into[kind][name] = obj;
    else if (!optional) throw new InputError(where, `${kind} "${name}" does not exist`);
    return obj;
  };

/** Copies into `into` the objects container `c` (at `at`: spec.containers[1]) names; true when one was new. */
export function containerObjects(
  c: ContainerSpec,
  at: string,
  lookup: (kind: ObjectKind, name: string) => StoredObject | undefined,
  into: PodObjects,
): boolean {
  const before = Object.keys(into.ConfigMap).length + Object.keys(into.Secret).length;
  const find = finder(lookup, into);
  c.envFrom?.forEach((e, j) => {
    const { kind, field, ref } = envFromRef(e);
    find(kind, ref.name, ref.optional, `${at}.envFrom[${j}].${field}.name`);
  });
  c.env.forEach((e, j) => {
    const r = e.valueFrom && keyRefOf(e.valueFrom);
    if (!r) return;
    const where = `${at}.env[${j}].valueFrom.${fieldOf(r.kind)}`;
    const obj = find(r.kind, r.ref.name, r.ref.optional, `${where}.name`);
    if (obj && envValueOf(obj, r.ref.key) === undefined && !r.ref.optional) {
      throw new InputError(`${where}.key`, `${r.kind} "${r.ref.name}" has no key "${r.ref.key}"`);
    }
  });
  return Object.keys(into.ConfigMap).length + Object.keys(into.Secret).length > before;
}
