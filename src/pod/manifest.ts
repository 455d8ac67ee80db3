// Reads a pod manifest: the subset of the Kubernetes Pod v1 object that tspod runs, in YAML or
// JSON. Every field is checked against that subset; a field tspod does not support is an error
// that names its path (spec.containers[1].ports), never silently ignored.
import { InputError } from '../errors.js';
import { dns1123LabelProblem, envNameProblem } from './names.js';
import { DEFAULT_GRACE_SECONDS, RESTART_POLICIES, type ContainerSpec, type EnvVar, type PodSpec, type RestartPolicy } from './spec.js';

type Mapping = Record<string, unknown>;

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a mapping' : `a ${typeof v}`;
}

function mapping(v: unknown, path: string): Mapping {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new InputError(path, `must be a mapping, not ${typeName(v)}`);
  }
  return v as Mapping;
}

/** Rejects every key of `o` outside `supported`, naming the first one. */
function onlyFields(o: Mapping, path: string, supported: readonly string[]): void {
  for (const key of Object.keys(o)) {
    if (!supported.includes(key)) {
      const where = path ? `${path}.${key}` : key;
      throw new InputError(where, `field is not supported by tspod (supported here: ${supported.join(', ')})`);
    }
  }
}

function string(v: unknown, path: string): string {
  if (typeof v !== 'string') throw new InputError(path, `must be a string, not ${typeName(v)}`);
  if (v.includes('\0')) throw new InputError(path, 'must not contain a NUL character');
  return v;
}

function list(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw new InputError(path, `must be a list, not ${typeName(v)}`);
  return v;
}

function stringList(v: unknown, path: string): string[] {
  return list(v, path).map((item, i) => string(item, `${path}[${i}]`));
}

function stringMap(v: unknown, path: string): Record<string, string> {
  const o = mapping(v, path);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) out[k] = string(val, `${path}.${k}`);
  return out;
}

function label(v: unknown, path: string): string {
  const s = string(v, path);
  const problem = dns1123LabelProblem(s);
  if (problem) throw new InputError(path, problem);
  return s;
}

function container(v: unknown, path: string): ContainerSpec {
  const c = mapping(v, path);
  onlyFields(c, path, ['name', 'command', 'args', 'env', 'workingDir']);
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

function envVar(v: unknown, path: string): EnvVar {
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

/** Checks a parsed manifest document and returns the pod it describes. */
export function podFromManifest(doc: unknown): PodSpec {
  const root = mapping(doc, 'manifest');
  onlyFields(root, '', ['apiVersion', 'kind', 'metadata', 'spec']);
  if (root.apiVersion !== 'v1') throw new InputError('apiVersion', `must be "v1", not ${JSON.stringify(root.apiVersion)}`);
  if (root.kind !== 'Pod') throw new InputError('kind', `must be "Pod", not ${JSON.stringify(root.kind)}`);

  const meta = mapping(root.metadata ?? {}, 'metadata');
  onlyFields(meta, 'metadata', ['name', 'labels', 'annotations']);
  if (meta.name === undefined) throw new InputError('metadata.name', 'is required');
  const name = label(meta.name, 'metadata.name');

  if (root.spec === undefined) throw new InputError('spec', 'is required');
  const spec = mapping(root.spec, 'spec');
  onlyFields(spec, 'spec', ['containers', 'hostname', 'shareProcessNamespace', 'terminationGracePeriodSeconds', 'restartPolicy']);

  if (spec.containers === undefined) throw new InputError('spec.containers', 'is required');
  const items = list(spec.containers, 'spec.containers');
  if (items.length === 0) throw new InputError('spec.containers', 'must hold at least one container');
  const containers = items.map((c, i) => container(c, `spec.containers[${i}]`));
  containers.forEach((c, i) => {
    if (containers.findIndex((o) => o.name === c.name) !== i) {
      throw new InputError(`spec.containers[${i}].name`, `duplicate container name "${c.name}"`);
    }
  });

  let grace = DEFAULT_GRACE_SECONDS;
  if (spec.terminationGracePeriodSeconds !== undefined) {
    const g = spec.terminationGracePeriodSeconds;
    if (typeof g !== 'number' || !Number.isSafeInteger(g) || g < 0) {
      throw new InputError('spec.terminationGracePeriodSeconds', `must be a whole number of seconds >= 0, not ${JSON.stringify(g)}`);
    }
    grace = g;
  }
  // Kubernetes' default: Always.
  let restartPolicy: RestartPolicy = 'Always';
  if (spec.restartPolicy !== undefined) restartPolicy = restartPolicyValue(spec.restartPolicy, 'spec.restartPolicy');
  const sharePid = spec.shareProcessNamespace;
  if (sharePid !== undefined && typeof sharePid !== 'boolean') {
    throw new InputError('spec.shareProcessNamespace', `must be true or false, not ${JSON.stringify(sharePid)}`);
  }

  return {
    name,
    hostname: spec.hostname === undefined ? name : label(spec.hostname, 'spec.hostname'),
    // Kubernetes: containers always share net, ipc and uts; pid only when asked.
    share: sharePid ? ['net', 'ipc', 'uts', 'pid'] : ['net', 'ipc', 'uts'],
    terminationGracePeriodSeconds: grace,
    restartPolicy,
    labels: meta.labels === undefined ? {} : stringMap(meta.labels, 'metadata.labels'),
    annotations: meta.annotations === undefined ? {} : stringMap(meta.annotations, 'metadata.annotations'),
    containers,
  };
}

/** Parses manifest text, JSON or YAML (one document). `file` names it in errors. */
export async function parseManifestText(text: string, file: string): Promise<unknown> {
  if (/^\s*[{[]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new InputError(file, `invalid JSON: ${(err as Error).message}`);
    }
  }
  // The YAML parser is loaded only for YAML manifests: it is most of a run's module loading.
  const { parseAllDocuments } = await import('yaml');
  const docs = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true });
  if (!Array.isArray(docs) || docs.length === 0) throw new InputError(file, 'is empty');
  if (docs.length !== 1) throw new InputError(file, `holds ${docs.length} YAML documents; tspod runs one pod per manifest`);
  const [doc] = docs;
  const [first] = doc.errors;
  // prettyErrors puts "at line L, column C:" at the end of the first line.
  if (first) throw new InputError(file, `invalid YAML: ${first.message.split('\n')[0].replace(/:$/, '')}`);
  return doc.toJS();
}

/** Reads and checks a manifest file; field errors are prefixed with the file's name. */
export async function loadManifest(file: string): Promise<PodSpec> {
  const { readFile } = await import('node:fs/promises');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new InputError(file, `cannot read the manifest: ${e.code ?? e.message}`);
  }
  const doc = await parseManifestText(text, file);
  try {
    return podFromManifest(doc);
  } catch (err) {
    if (err instanceof InputError) throw new InputError(err.field, err.problem, file);
    throw err;
  }
}
