// tspod play FILE [--down] [--replace]: every object of a file, as `kubectl apply -f` and
// `podman kube play` take them (YAML documents, or kind: List): its ConfigMaps and Secrets are
// stored, then its Pods run, detached. Everything is read and checked first, the pods' references
// to objects included: a bad file creates nothing, and a failure midway undoes what was made.
// --down removes every object the file names.
import { InputError, TspodError } from '../errors.js';
import { mapping, manifestFields } from '../pod/fields.js';
import { readManifest } from '../pod/manifest-file.js';
import { parseDocuments, podFromManifest } from '../pod/manifest.js';
import { objectFromManifest, OBJECT_KINDS, podObjects, type ObjectKind, type StoredObject } from '../pod/objects.js';
import { workingDirDefault, type PodSpec } from '../pod/spec.js';
import { monitorClient } from '../monitor/client.js';
import { StatePaths, stateRoot } from '../state/paths.js';
import { StateStore } from '../state/store.js';
import { rm } from './control.js';
import { objectStore } from './objects.js';
import { print, warning } from './print.js';
import { requireRoot } from './root.js';

export interface PlayOptions {
  down?: boolean;
  replace?: boolean;
  root?: string;
}

/** Kinds that make pods from a template: tspod runs the pod itself. */
const CONTROLLERS = ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'ReplicationController'];

/** What a file holds, checked, in its order. */
interface Played {
  pods: PodSpec[];
  objects: StoredObject[];
}

/** The file's objects, every one checked; errors name the file, the object and the field. */
export async function readPlayFile(file: string, text: string, warn: (line: string) => void): Promise<Played> {
  const docs = (await parseDocuments(text, file)).flatMap((doc, i) => {
    const o = mapping(doc, `document ${i + 1}`);
    if (o.kind !== 'List') return [{ doc: o, where: `document ${i + 1}` }];
    if (o.apiVersion !== 'v1') throw new InputError(`document ${i + 1}.apiVersion`, 'of a List must be "v1"', file);
    if (!Array.isArray(o.items)) throw new InputError(`document ${i + 1}.items`, 'must be a list', file);
    return o.items.map((item, j) => ({ doc: mapping(item, `document ${i + 1}.items[${j}]`), where: `document ${i + 1}.items[${j}]` }));
  });
  const out: Played = { pods: [], objects: [] };
  const seen = new Map<string, string>();
  for (const { doc, where } of docs) {
    const kind = doc.kind;
    const name = typeof doc.metadata === 'object' && doc.metadata !== null ? (doc.metadata as { name?: unknown }).name : undefined;
    const label = `${file}: ${typeof kind === 'string' ? kind : where}${typeof name === 'string' ? ` "${name}"` : ''}`;
    if (typeof kind !== 'string') throw new InputError('kind', 'is required (Pod, ConfigMap or Secret)', `${file}: ${where}`);
    if (CONTROLLERS.includes(kind)) {
      throw new InputError('kind', `${kind} is a controller; tspod runs pods: give its pod template (spec.template) as a kind: Pod`, label);
    }
    if (kind !== 'Pod' && !(OBJECT_KINDS as readonly string[]).includes(kind)) {
      throw new InputError('kind', `${kind} is not run by tspod (it runs Pod, ConfigMap and Secret)`, label);
    }
    try {
      if (kind === 'Pod') out.pods.push(podFromManifest(doc, (line) => warn(`${label}: ${line}`)));
      else
        out.objects.push(
          objectFromManifest(
            doc,
            manifestFields((line) => warn(`${label}: ${line}`)),
          ),
        );
    } catch (err) {
      if (err instanceof InputError) throw new InputError(err.field, err.problem, label);
      throw err;
    }
    const key = `${kind}/${String(name)}`;
    if (seen.has(key))
      throw new InputError(
        'metadata.name',
        `a second ${kind} named "${String(name)}" (the first is ${seen.get(key)})`,
        `${file}: ${where}`,
      );
    seen.set(key, where);
  }
  return out;
}

export async function play(file: string, o: PlayOptions): Promise<number> {
  requireRoot('tspod play');
  const played = await readPlayFile(file, readManifest(file), warning);
  const state = new StateStore(stateRoot(o.root));
  const objects = objectStore(o.root);
  if (o.down) {
    await down(played, state, objects, o);
    return 0;
  }

  // Nothing is made, or removed for --replace, while anything the file's pods name is missing.
  const inFile = (kind: ObjectKind, name: string) => played.objects.find((x) => x.kind === kind && x.name === name);
  for (const p of played.pods) {
    try {
      podObjects(p, (kind, name) => inFile(kind, name) ?? objects.get(kind, name));
    } catch (err) {
      if (err instanceof InputError) throw new InputError(err.field, err.problem, `${file}: Pod "${p.name}"`);
      throw err;
    }
    workingDirDefault(p, process.cwd());
  }
  if (o.replace) await down(played, state, objects, o);
  for (const p of played.pods) {
    if (state.read(p.name)) {
      throw new TspodError(`${file}: pod "${p.name}" exists already (tspod play --down ${file} removes what the file made)`);
    }
  }
  for (const obj of played.objects) {
    if (objects.get(obj.kind, obj.name)) {
      throw new TspodError(`${file}: ${obj.kind} "${obj.name}" exists already (tspod play --replace ${file} makes it again)`);
    }
  }

  const made: { objects: StoredObject[]; pods: string[] } = { objects: [], pods: [] };
  try {
    for (const obj of played.objects) {
      objects.create(obj);
      made.objects.push(obj);
    }
    const client = monitorClient(new StatePaths(state.root));
    for (const spec of played.pods) {
      const created = await client.createPod({ body: { spec } });
      made.pods.push(spec.name);
      created.warnings?.forEach(warning);
    }
  } catch (err) {
    await down({ pods: played.pods.filter((p) => made.pods.includes(p.name)), objects: made.objects }, state, objects, o);
    throw err;
  }
  for (const obj of made.objects) print(`${obj.kind.toLowerCase()}/${obj.name}\n`);
  for (const name of made.pods) print(`pod/${name}\n`);
  return 0;
}

/** Removes the file's pods (last first) and objects that exist; says what it removed. */
async function down(played: Played, state: StateStore, objects: ReturnType<typeof objectStore>, o: PlayOptions): Promise<void> {
  for (const p of [...played.pods].reverse()) {
    if (!state.read(p.name)) continue;
    await rm(p.name, undefined, { root: o.root, force: true });
    if (o.down) print(`removed pod/${p.name}\n`);
  }
  for (const obj of played.objects) {
    if (!objects.get(obj.kind, obj.name)) continue;
    objects.remove(obj.kind, obj.name);
    if (o.down) print(`removed ${obj.kind.toLowerCase()}/${obj.name}\n`);
  }
}
